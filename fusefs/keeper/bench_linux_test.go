package keeper_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/secretfs/secretfs/fusefs"
)

// BenchmarkDaemonBound measures what the keeper adds to a request that
// reaches the FUSE server: in fusefs's default mode every open is an OPEN
// round trip (reads then come from the page cache). "direct" is a mount
// served by this process; "keeper" is the same file system mounted by a
// keeper process and served by a server process through it. Compare the
// two ns/op of one run; reads the kernel serves from its caches never reach
// either.
func BenchmarkDaemonBound(b *testing.B) {
	requireFUSE(b)
	targets := makeTargets(b, 2)
	srv, err := fusefs.Mount(targets[0], testFiles, fixedSource{}, fusefs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Unmount() })
	sock := filepath.Join(b.TempDir(), "keeper.sock")
	startRole(b, "keeper", true, sock)
	startRole(b, "server", true, sock, targets[1])
	for i, name := range []string{"direct", "keeper"} {
		file := filepath.Join(targets[i], "a")
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 8192)
			for b.Loop() {
				f, err := os.Open(file)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Read(buf); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}
