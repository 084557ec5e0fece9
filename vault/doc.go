// Package vault is everything secretfs knows about Azure Key Vault objects: the
// SecretProviderClass parameters that name them (vault, identity mode, cloud, the
// `objects` array), the credentials that reach them, and the bytes each object
// becomes as a file.
//
// Compatibility is the point: a SecretProviderClass written for the Secrets Store
// CSI Driver's Azure provider parses here unchanged and yields the same file names
// and the same bytes (see Fetch). Where the provider silently accepts a value that
// later misbehaves (an invalid filePermission becoming mode 0, two objects writing
// the same file, a misspelled key being ignored, an empty `objects` array), or
// that some node cannot write (file names differing only in case, control or
// bidi characters, `a:b`, `nul`), ParseParameters refuses it with an error that
// names the object, the field and the allowed values.
//
// Secret hygiene: nothing in this package logs. Errors carry vault, object and
// identity names, HTTP status codes and Key Vault / Entra ID error codes, never a
// secret value, a client secret or a token. Identity, the value the cache keys on,
// holds only a tenant and a client ID.
//
// The package has no cache, no filesystem and no Kubernetes in it; a Client is
// one vault reached with one credential, and Credentials shares azidentity
// credentials (and so their token caches) between pods that present the same
// secret. Keep a Client per (vault, credential): a new Client's first request
// goes without a token to learn the vault's challenge, one extra round trip
// (BenchmarkFetch: ~3.6x the cost of a Fetch on a reused Client against the
// emulator). To prove a pod's credential before serving it cached bytes, ask
// it for a token with TokenRequestOptions: that token is the one the Key Vault
// clients then reuse.
package vault
