package volume

import (
	"github.com/secretfs/secretfs/fusefs"
)

// FuseOptions are the FUSE backend's kernel cache settings.
type FuseOptions = fusefs.Options

type fuseBackend struct{ opts fusefs.Options }

func newFuseBackend(opts FuseOptions) (Backend, error) { return fuseBackend{opts: opts}, nil }

func (fuseBackend) Name() string { return "fuse" }

func (b fuseBackend) Mount(target string, v *Volume) (Mounted, error) {
	return fusefs.Mount(target, fuseFiles(v), v, b.opts)
}

// fuseFiles is the tree a FUSE mount of v serves: its whole layout, with
// history entries optional, so a history directory lists a version once it
// exists.
func fuseFiles(v *Volume) []fusefs.File {
	var list []fusefs.File
	for _, f := range v.Layout() {
		list = append(list, fusefs.File{Path: f.Path, Mode: f.Object.FileMode, Optional: f.History >= 0})
	}
	return list
}
