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
	var list []fusefs.File
	for _, f := range v.Files() {
		list = append(list, fusefs.File{Path: f.Path, Mode: f.Object.FileMode})
	}
	return fusefs.Mount(target, list, v, b.opts)
}
