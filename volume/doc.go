// Package volume turns a validated SecretProviderClass into the files of one
// mounted volume, resolved lazily through the node-wide cache.
//
// A Node is shared by every volume on the node: it owns the cache, the
// credential cache and the routing of cache change notifications to the
// volumes that show the changed object. A Volume is one pod's view: its
// identity, its Key Vault client and its file list. It implements
// fusefs.Source, so the FUSE backend reads through it, and it tells its
// backend (FUSE or tmpfs-style files) when a file's content changed.
//
// Identity: the cache key carries tenant and client ID, and a volume is only
// opened after its own credential produced a token for the vault, so a pod
// with a wrong client secret never reads what another pod fetched.
package volume
