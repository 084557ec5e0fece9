//go:build linux

package fusefs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var sampleFiles = []File{
	{Path: "db-password", Mode: 0o644},
	{Path: "api-key", Mode: 0o600},
	{Path: "tls-cert/0", Mode: 0o640},
	{Path: "tls-cert/1", Mode: 0o640},
}

var sampleData = map[string]string{
	"db-password": "hunter2",
	"api-key":     "k-123",
	"tls-cert/0":  "-----BEGIN CERTIFICATE-----\nnew\n",
	"tls-cert/1":  "-----BEGIN CERTIFICATE-----\nold\n",
}

type statResult struct {
	Data     string
	Mode     fs.FileMode
	Uid, Gid uint32
	Ino      uint64
}

func statFile(t *testing.T, p string) statResult {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	var data []byte
	if !fi.IsDir() {
		if data, err = os.ReadFile(p); err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	return statResult{Data: string(data), Mode: fi.Mode(), Uid: st.Uid, Gid: st.Gid, Ino: st.Ino}
}

func TestContentsModesOwner(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			_, dir := mountT(t, sampleFiles, newMemSource(sampleData), mode.opts)
			tests := []struct {
				path string
				want statResult
			}{
				{"", statResult{Mode: fs.ModeDir | 0o555, Ino: 1}},
				{"db-password", statResult{Data: "hunter2", Mode: 0o644, Ino: Ino("db-password")}},
				{"api-key", statResult{Data: "k-123", Mode: 0o600, Ino: Ino("api-key")}},
				{"tls-cert", statResult{Mode: fs.ModeDir | 0o555, Ino: Ino("tls-cert")}},
				{"tls-cert/0", statResult{Data: sampleData["tls-cert/0"], Mode: 0o640, Ino: Ino("tls-cert/0")}},
				{"tls-cert/1", statResult{Data: sampleData["tls-cert/1"], Mode: 0o640, Ino: Ino("tls-cert/1")}},
			}
			for _, tc := range tests {
				if diff := cmp.Diff(tc.want, statFile(t, filepath.Join(dir, tc.path))); diff != "" {
					t.Errorf("%q (-want +got):\n%s", tc.path, diff)
				}
			}
		})
	}
}

func TestMountOptions(t *testing.T) {
	_, dir := mountT(t, sampleFiles, newMemSource(sampleData), Options{Name: "vol-1"})
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) > 3 && f[1] == dir {
			line = l
		}
	}
	f := strings.Fields(line)
	if len(f) < 4 {
		t.Fatalf("%s not in /proc/self/mounts", dir)
	}
	if diff := cmp.Diff([]string{"vol-1", "fuse.secretfs"}, []string{f[0], f[2]}); diff != "" {
		t.Errorf("source, type (-want +got):\n%s", diff)
	}
	got := map[string]bool{}
	for _, o := range strings.Split(f[3], ",") {
		got[o] = true
	}
	for _, o := range []string{"ro", "nosuid", "nodev", "noexec", "allow_other", "default_permissions", "user_id=0", "group_id=0"} {
		if !got[o] {
			t.Errorf("option %s missing from %q", o, f[3])
		}
	}
}

// TestReaddirIsLazy: listing names reads nothing; the first lookup reads the
// file once, and later opens are served without the Source.
func TestReaddirIsLazy(t *testing.T) {
	src := newMemSource(sampleData)
	_, dir := mountT(t, sampleFiles, src, Options{})
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"api-key", "db-password", "tls-cert"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if n := src.readCount("db-password"); n != 0 {
		t.Errorf("after readdir: %d source reads, want 0", n)
	}
	for range 3 {
		if _, err := os.ReadFile(filepath.Join(dir, "db-password")); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.readCount("db-password"); n != 1 {
		t.Errorf("after 3 reads: %d source reads, want 1", n)
	}
}

// TestReadOnly: every mutation fails with EROFS: the mount is read-only, so
// the kernel refuses before asking the server.
func TestReadOnly(t *testing.T) {
	_, dir := mountT(t, sampleFiles, newMemSource(sampleData), Options{})
	p := filepath.Join(dir, "db-password")
	tests := []struct {
		name string
		op   func() error
	}{
		{"open for writing", func() error { f, err := os.OpenFile(p, os.O_WRONLY, 0); closeIf(f); return err }},
		{"truncate on open", func() error { f, err := os.OpenFile(p, os.O_RDONLY|os.O_TRUNC, 0); closeIf(f); return err }},
		{"create", func() error { f, err := os.Create(filepath.Join(dir, "new")); closeIf(f); return err }},
		{"mkdir", func() error { return os.Mkdir(filepath.Join(dir, "d"), 0o755) }},
		{"rename", func() error { return os.Rename(p, filepath.Join(dir, "moved")) }},
		{"unlink", func() error { return os.Remove(p) }},
		{"rmdir", func() error { return os.Remove(filepath.Join(dir, "tls-cert")) }},
		{"chmod", func() error { return os.Chmod(p, 0o777) }},
		{"chown", func() error { return os.Chown(p, 1, 1) }},
		{"truncate", func() error { return os.Truncate(p, 0) }},
		{"symlink", func() error { return os.Symlink("x", filepath.Join(dir, "l")) }},
		{"setxattr", func() error { return syscall.Setxattr(p, "user.x", []byte("1"), 0) }},
	}
	for _, tc := range tests {
		if err := tc.op(); !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: got %v, want EROFS", tc.name, err)
		}
	}
	if got := statFile(t, p).Data; got != "hunter2" {
		t.Errorf("content after the attempts = %q", got)
	}
}

func closeIf(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// TestSourceErrors: a failing Source fails the lookup with the mapped errno,
// and a later success is served.
func TestSourceErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"permission", &fs.PathError{Op: "get", Path: "x", Err: os.ErrPermission}, syscall.EACCES},
		{"not found", os.ErrNotExist, syscall.ENOENT},
		{"other", errors.New("vault said 500"), syscall.EIO},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newMemSource(sampleData)
			src.fail("db-password", tc.err)
			_, dir := mountT(t, sampleFiles, src, Options{})
			p := filepath.Join(dir, "db-password")
			if _, err := os.ReadFile(p); !errors.Is(err, tc.want) {
				t.Errorf("read: got %v, want %v", err, tc.want)
			}
			src.fail("db-password", nil)
			// A failed lookup is not cached: the next one asks again.
			if got := statFile(t, p).Data; got != "hunter2" {
				t.Errorf("after recovery: %q", got)
			}
		})
	}
}

// TestFsyncSucceeds: fsync and fdatasync of a file or directory answer 0,
// as on tmpfs (was EOPNOTSUPP: programs that fsync what they read, or sync
// a directory after listing it, failed).
func TestFsyncSucceeds(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			_, dir := mountT(t, sampleFiles, newMemSource(sampleData), mode.opts)
			for _, p := range []string{"db-password", "tls-cert/0", "", "tls-cert"} {
				f, err := os.Open(filepath.Join(dir, p))
				if err != nil {
					t.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					t.Errorf("fsync %q: %v", p, err)
				}
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					t.Errorf("fdatasync %q: %v", p, err)
				}
				f.Close()
			}
		})
	}
}
