package volume

// NewBackendWithoutFuse is NewBackend on a node without /dev/fuse, where
// "auto" falls back to files.
func NewBackendWithoutFuse(name string) (Backend, error) {
	return newBackend(name, FuseOptions{}, func() bool { return false })
}
