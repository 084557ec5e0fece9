// Package fusefs is the read-only file system a pod sees: one FUSE mount per
// volume, a root directory with one file per object and a directory per
// object with version history (name/0 … name/N-1). File bytes come lazily
// from a Source (the node-wide cache): the first lookup of a file reads it;
// listing the directory reads nothing.
//
// # What the kernel caches, and who invalidates it
//
// Entries and attributes are cached by the kernel for Options.Timeout (1 h):
// the file set never changes, and content changes are pushed by Changed, so
// the kernel has no reason to ask. Inode numbers are Ino(path) and are the
// kernel's nodeids (ExternalNodeID), so a server restarted on a kept
// /dev/fuse connection resolves the nodeids the kernel still holds
// (LookupNode on the root). Files answer FLUSH with ENOSYS (kernel no_flush).
// The mount is read-only as a mount flag (MS_RDONLY on the mount, not the
// superblock), nosuid, nodev, noexec, allow_other, default_permissions; every
// mutation fails with EROFS from the VFS before it reaches this server.
//
// # Rotation: one version per open, proven impossible without opens
//
// A reader that opens, reads to EOF and closes must get exactly one version.
// With the kernel's no_open mode (Options.NoOpen) that cannot be guaranteed,
// whatever the order of "swap content / invalidate / answer GETATTR / answer
// READ": the kernel then keeps no per-open state, only one page cache and
// one i_size per inode, shared by every open. Take reader A that has read the
// first bytes of version 1 and pauses; the file rotates to version 2; reader
// B opens and reads it, so the page cache and i_size now hold version 2
// (they must: B is a new open). A resumes at its offset and is served those
// same pages: version 1's prefix, version 2's rest — or, when the lengths
// differ, truncated at i_size or padded with zeros by a short READ whose
// i_size shrink the kernel skipped. Nothing the server answers can tell A's
// READ (or the page cache hit that needs no READ) from B's.
// TestNoOpenTearsAcrossRotation shows it deterministically, and the rotation
// stress test counts hundreds of torn reads per second under NoOpen,
// including among readers that read the whole file in one call and then
// probe EOF (a rotation between the two calls grows i_size under them).
//
// So by default every open reaches this server and gets a handle on one
// immutable version, chosen so the shared page cache never mixes versions
// (open_linux.go):
//
//   - While the kernel holds only the current version (kern == cur), opens
//     are answered FOPEN_KEEP_CACHE: reads are page-cache reads (pread costs
//     what tmpfs costs), and every READ the kernel sends is answered from the
//     handle's version, which is kern.
//   - Changed swaps the version in place (same inode: a file bind-mounted
//     elsewhere, as kubelet does for subPath, follows). If no cached handle
//     is open, it flips at once: FUSE_NOTIFY_INVAL_INODE (synchronous: it
//     bumps the inode's attr_version, drops attributes and pages, waiting
//     for READs in flight), then kern = cur.
//   - If cached handles of the old version are open, the cache must keep
//     serving them that version, bounded by its size: attributes (GETATTR,
//     LOOKUP, SETATTR replies) keep describing kern, and new opens are
//     answered FOPEN_DIRECT_IO from their own snapshot of cur, so they never
//     read the cache. Their reads are not bounded by i_size and end with a
//     short READ at their own length. The last cached handle's RELEASE flips.
//   - During a flip no cached open is granted and attributes describe cur.
//     A GETATTR or LOOKUP reply computed before the invalidation and arriving
//     after it is discarded by the kernel (its attr_version is older); a
//     SETATTR reply is applied unconditionally, so touches and flips of a
//     file are serialised (flipMu). If cur moved during the flip, it flips
//     again. After a flip the kernel holds nothing but kern.
//
// The cost: a warm open+read+close is an OPEN and a RELEASE round trip
// (roughly 10–20× tmpfs on a loaded two-core machine, against 1.1–3× for
// NoOpen); pread on an open file is a page-cache hit as on tmpfs. While some
// process keeps an old version open, stat shows the old size and mtime and
// new opens are served by direct I/O; both end with its close. Not covered:
// mmap of a file opened in that window (MAP_SHARED on a direct I/O handle
// fails with ENODEV; a private mapping may fill the cache with the new
// version under the old readers).
//
// # Watchers
//
// FUSE's entry notifications (NOTIFY_INVAL_ENTRY, NOTIFY_DELETE) produce no
// inotify event on the directory: NOTIFY_DELETE only gives IN_DELETE_SELF to
// a watch on the file (and evicts the kernel inode, dropping that watch).
// Events come from VFS operations, so Changed, after the content is current,
// sets the file's times to the new version's mtime through a private,
// detached read-write clone of the mount (open_tree + mount_setattr): the
// kernel sends SETATTR, which only that exact touch may pass, and reports
// IN_ATTRIB (fsnotify: Chmod) to watchers of the file and of its directory.
// Touches run on a goroutine owned by the Server. A connection handed over to
// Serve has no known mount point and gets no touches.
//
// # Unmounting
//
// A process that reads its own mount must close every file before Unmount:
// with files open the kernel refuses (EBUSY, reported as busy), and at exit a
// file still open on a dead mount can hang in flush.
package fusefs
