// Package fusectl ends FUSE connections that no unmount can end: those of
// a file system still mounted in another mount namespace.
//
// An umount only removes one mount of a FUSE file system. While another
// mount namespace holds a copy (a container runtime's, another pod's, or
// `unshare -m`'s, made while the mount existed), the superblock and its
// connection live on: the kernel sends no DESTROY and the server's reads of
// /dev/fuse keep waiting. A server that waits for that end never stops.
// Aborting the connection through the fusectl file system
// (/sys/fs/fuse/connections/N/abort, N the minor of the file system's
// device number) ends it everywhere: the server's reads fail with ENODEV
// and the copies answer ENOTCONN.
package fusectl
