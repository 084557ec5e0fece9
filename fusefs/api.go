package fusefs

import (
	"context"
	"hash/fnv"
	"io/fs"
	"time"
)

// Source supplies file bytes. Read is called on first lookup of a file and
// after Changed; it is fast when the cache is warm.
//
// Errors: errors.Is(err, os.ErrPermission) → EACCES, os.ErrNotExist → ENOENT,
// anything else → EIO. Error texts are never logged: they may come from a
// vault response.
type Source interface {
	Read(ctx context.Context, path string) ([]byte, error)
}

// Lender is a Source that lends its bytes instead of copying them, so every
// mount of one object serves one copy (the node cache's). A mount that is
// given a Lender calls Lend instead of Read, serves data without ever
// modifying it, and calls release exactly once when nothing it serves can
// read data any more: after the file changed and every open of that
// version was closed, or when the server stops.
type Lender interface {
	Lend(ctx context.Context, path string) (data []byte, release func(), err error)
}

// File is one file of a mount.
type File struct {
	Path string      // slash-separated, relative, e.g. "db-password" or "tls-cert/0"; validated by the caller
	Mode fs.FileMode // permission bits, e.g. 0644
	// Optional files may not exist yet, or any more: a history entry
	// appears once the object has that many versions. A directory
	// listing shows one only while the Source reads it without
	// os.ErrNotExist; a lookup of it fails with ENOENT meanwhile (never
	// cached). Other files are listed without being read.
	Optional bool
}

// Options tune a mount. The zero value is ready to use.
type Options struct {
	// Name is the fsname shown in /proc/mounts, default "secretfs".
	Name string
	// Timeout is the kernel entry/attr cache timeout; default 1h: every
	// change is pushed to the kernel by Changed, so it never needs to ask.
	Timeout time.Duration
	// Debug logs every FUSE request (go-fuse's log: names and sizes, not
	// file bytes).
	Debug bool
	// NoOpen serves files without per-open handles (the kernel's no_open
	// mode). A warm open+read+close then never reaches this process and
	// costs about what tmpfs costs, but a reader whose read calls straddle
	// a rotation can see a torn file: a prefix of one version followed by
	// another version's bytes, or a truncated or zero-padded one. The
	// package documentation proves that no ordering avoids it. Leave it
	// false (every open reads exactly one version) unless the files never
	// rotate or readers tolerate tearing.
	NoOpen bool
}

const (
	defaultName    = "secretfs"
	defaultTimeout = time.Hour
)

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = defaultName
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	return o
}

// RootIno is the inode number of a mount's root directory (the FUSE root
// nodeid).
const RootIno = 1

// Ino is the deterministic inode number of path: FNV-64a of the
// slash-separated relative path, moved off 0 (invalid) and 1 (the root).
// The kernel's nodeid equals the inode number (fs.Options.ExternalNodeID), so a
// server restarted on a kept /dev/fuse connection can resolve every nodeid the
// kernel still holds from the file list alone. The root ("" or ".") is 1.
func Ino(path string) uint64 {
	if path == "" || path == "." {
		return RootIno
	}
	h := fnv.New64a()
	h.Write([]byte(path))
	ino := h.Sum64()
	if ino <= RootIno {
		ino += 2
	}
	return ino
}
