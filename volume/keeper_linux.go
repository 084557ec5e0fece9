package volume

import (
	"errors"
	"fmt"
	"os"

	"github.com/secretfs/secretfs/fusefs"
	"github.com/secretfs/secretfs/fusefs/keeper"
)

// keeperBackend is the FUSE backend whose mounts outlive this process: a
// keeper (secretfs keeper) owns each /dev/fuse connection and this process
// serves the socket it hands back. Asking for a target the keeper already
// holds (after a restart) resumes it: the keeper replays what a new server
// needs, and readers see a stall, not an error.
type keeperBackend struct {
	client *keeper.Client
	opts   fusefs.Options
}

// NewKeeperBackend returns the FUSE backend that mounts through the keeper
// listening on socket.
func NewKeeperBackend(socket string, opts FuseOptions) Backend {
	return keeperBackend{client: keeper.NewClient(socket), opts: opts}
}

var _ Backend = keeperBackend{}

// Name is "fuse": the mount is a FUSE mount like any other.
func (keeperBackend) Name() string { return "fuse" }

// Mount asks the keeper to mount target (or to hand over the mount it
// holds there) and serves the connection it returns.
func (b keeperBackend) Mount(target string, v *Volume) (Mounted, error) {
	name := b.opts.Name
	if name == "" {
		name = "secretfs"
	}
	f, _, err := b.client.Mount(target, name)
	if err != nil {
		return nil, err
	}
	var list []fusefs.File
	for _, file := range v.Files() {
		list = append(list, fusefs.File{Path: file.Path, Mode: file.Object.FileMode})
	}
	srv, err := fusefs.Serve(fmt.Sprintf("/dev/fd/%d", f.Fd()), list, v, b.opts)
	if err != nil {
		f.Close()
		return nil, errors.Join(err, b.client.Unmount(target))
	}
	return &keptMount{Server: srv, sock: f, client: b.client, target: target}, nil
}

// keptMount is a volume served on a keeper's connection.
type keptMount struct {
	*fusefs.Server
	sock   *os.File // the served socket: kept open (and referenced) while served
	client *keeper.Client
	target string
}

var _ Mounted = (*keptMount)(nil)

// Unmount asks the keeper to unmount; the server ends with the connection.
func (m *keptMount) Unmount() error {
	if err := m.client.Unmount(m.target); err != nil {
		return err
	}
	m.Wait()
	return m.sock.Close()
}
