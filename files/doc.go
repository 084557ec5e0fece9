// Package files publishes a volume's file set into a directory the way
// kubelet's AtomicWriter and the Secrets Store CSI Driver do, for nodes where
// secretfs cannot serve FUSE (Windows, Linux without /dev/fuse).
//
// The layout is the one applications already know from Secret and ConfigMap
// volumes:
//
//	dir/..2025_01_02_15_04_05.123456789/db-password   the bytes, with their mode
//	dir/..data -> ..2025_01_02_15_04_05.123456789      swapped atomically
//	dir/db-password -> ..data/db-password              one link per top-level name
//
// A new generation is written into a fresh timestamped directory and then made
// visible by renaming a `..data_tmp` symlink over `..data`, a single atomic
// rename on Linux. A reader that opens `dir/name` therefore resolves either
// the old or the new generation, never a half-written file, and never finds a
// name missing while it exists in both generations. Watchers that follow the
// `..data` link (as many certificate reloaders do) see one rename per change.
//
// The price is that a file bind-mounted on its own (kubelet's subPath) keeps
// the inode of the generation it was mounted from and never rotates; the FUSE
// backend exists to lift that limit.
//
// Write is not safe for concurrent use on the same directory; callers
// serialise writes per target (volume does). Different directories are
// independent.
//
// On Windows, creating symlinks needs administrator rights or developer mode
// (the node driver runs as a privileged HostProcess container), and a
// directory symlink cannot be renamed over another, so `..data` is replaced by
// remove-then-create, as kubelet does there: a reader may briefly see it
// missing.
package files
