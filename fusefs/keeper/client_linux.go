//go:build linux

package keeper

import (
	"errors"
	"fmt"
	"net"
	"os"
)

// Client talks to a keeper: the server side of the protocol.
type Client struct {
	socket string
}

// NewClient returns a client of the keeper listening on socket.
func NewClient(socket string) *Client { return &Client{socket: socket} }

// Mount asks the keeper to mount target (fs name name), or to hand over the
// mount it already holds there (existing). It returns the server's end of
// the connection: serve it as "/dev/fd/N" (fusefs.Serve) and keep the file
// open as long as it is served. memo, if not nil, replaces the mount's
// memo: what the next server needs to serve it again (List returns it).
func (c *Client) Mount(target, name string, memo []byte) (f *os.File, existing bool, err error) {
	m, files, err := c.do(message{Op: "mount", Target: target, Name: name, Memo: memo})
	if err != nil {
		return nil, false, err
	}
	if len(files) != 1 {
		closeAll(files)
		return nil, false, fmt.Errorf("keeper: mount %s: got %d files, want 1", target, len(files))
	}
	return files[0], m.Existing, nil
}

// Remember replaces the memo of the mount at target (a republish brought
// fresh credentials).
func (c *Client) Remember(target string, memo []byte) error {
	_, _, err := c.do(message{Op: "memo", Target: target, Memo: memo})
	return err
}

// Unmount asks the keeper to unmount target; a target it does not hold is
// only cleaned up if it is a dead mount.
func (c *Client) Unmount(target string) error {
	_, _, err := c.do(message{Op: "unmount", Target: target})
	return err
}

// List returns the mounts the keeper holds.
func (c *Client) List() ([]MountInfo, error) {
	m, _, err := c.do(message{Op: "list"})
	return m.Mounts, err
}

// do sends one request and reads its reply.
func (c *Client) do(req message) (message, []*os.File, error) {
	uc, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: c.socket, Net: "unixpacket"})
	if err != nil {
		return message{}, nil, fmt.Errorf("keeper: %s %s: %w", req.Op, req.Target, err)
	}
	defer uc.Close()
	if err := send(uc, req); err != nil {
		return message{}, nil, fmt.Errorf("keeper: %s %s: %w", req.Op, req.Target, err)
	}
	m, files, err := recv(uc)
	if err == nil && m.Error != "" {
		closeAll(files)
		if m.Error == ErrHandedOver.Error() {
			return m, nil, fmt.Errorf("keeper: %s %s: %w", req.Op, req.Target, ErrHandedOver)
		}
		return m, nil, fmt.Errorf("keeper: %s %s: %w", req.Op, req.Target, errors.New(m.Error))
	}
	if err != nil {
		return m, nil, fmt.Errorf("keeper: %s %s: %w", req.Op, req.Target, err)
	}
	return m, files, nil
}
