//go:build linux

package keeper

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"
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

// List returns the mounts the keeper holds. The keeper streams them one
// message each, so their number and their memos' size have no bound but
// memory; a keeper of control protocol 1 answers with one message.
func (c *Client) List() ([]MountInfo, error) {
	uc, m, err := c.ask(message{Op: "list"})
	if err != nil {
		return nil, err
	}
	defer uc.Close()
	if m.V < 2 {
		return m.Mounts, nil // a keeper of protocol 1 answered whole
	}
	var ms []MountInfo
	for !m.End {
		if m.Mount == nil {
			return nil, errors.New("keeper: list: the keeper sent something other than a mount in the list")
		}
		ms = append(ms, *m.Mount)
		if m, err = c.next(uc, "list", ""); err != nil {
			return nil, err
		}
	}
	if m.Count != len(ms) {
		return nil, fmt.Errorf("keeper: list: got %d mounts, the keeper sent %d", len(ms), m.Count)
	}
	return ms, nil
}

// requestTimeout bounds one request, answer included: a keeper that does
// not answer (stuck, or a version that cannot) fails it instead of hanging
// the caller.
const requestTimeout = time.Minute

// do sends one request and reads its one answer.
func (c *Client) do(req message) (message, []*os.File, error) {
	uc, err := c.dial(req)
	if err != nil {
		return message{}, nil, err
	}
	defer uc.Close()
	return c.answer(uc, req.Op, req.Target)
}

// ask sends one request and reads the first message of its answer; the
// caller reads the rest and closes the connection.
func (c *Client) ask(req message) (*net.UnixConn, message, error) {
	uc, err := c.dial(req)
	if err != nil {
		return nil, message{}, err
	}
	m, err := c.next(uc, req.Op, req.Target)
	if err != nil {
		uc.Close()
		return nil, message{}, err
	}
	return uc, m, nil
}

// dial connects and sends req.
func (c *Client) dial(req message) (*net.UnixConn, error) {
	uc, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: c.socket, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("keeper: %s %s: %w", req.Op, req.Target, err)
	}
	uc.SetDeadline(time.Now().Add(requestTimeout))
	if err := send(uc, req); err != nil {
		// A keeper that refused the request before reading all of it (a
		// keeper of protocol 1 reads one record; a refused peer is told
		// why at once) answered why, then closed.
		if _, _, aerr := c.answer(uc, req.Op, req.Target); aerr != nil && !errors.Is(aerr, errPeerClosed) && !errors.Is(aerr, os.ErrDeadlineExceeded) {
			err = aerr
		} else {
			err = fmt.Errorf("keeper: %s %s: %w", req.Op, req.Target, err)
		}
		uc.Close()
		return nil, err
	}
	return uc, nil
}

// next reads one message without files.
func (c *Client) next(uc *net.UnixConn, op, target string) (message, error) {
	m, files, err := c.answer(uc, op, target)
	closeAll(files)
	return m, err
}

// answer reads one message of an answer and turns a failure into an error
// that says what to do.
func (c *Client) answer(uc *net.UnixConn, op, target string) (message, []*os.File, error) {
	m, files, err := recv(uc)
	switch {
	case errors.Is(err, errPeerClosed):
		return m, nil, fmt.Errorf("keeper: %s %s: the keeper closed the connection without a whole answer "+
			"(a keeper of control protocol 1 does so when the answer is over ~200 KiB: upgrade the keeper; else see its log): %w", op, target, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return m, nil, fmt.Errorf("keeper: %s %s: no answer within %v: %w", op, target, requestTimeout, err)
	case err != nil:
		return m, nil, fmt.Errorf("keeper: %s %s: %w", op, target, err)
	case m.Error == "":
		return m, files, nil
	}
	closeAll(files)
	if m.Error == ErrHandedOver.Error() {
		return m, nil, fmt.Errorf("keeper: %s %s: %w", op, target, ErrHandedOver)
	}
	if m.V < protocol {
		return m, nil, fmt.Errorf("keeper: %s %s: %w (the keeper speaks control protocol 1, this client %d: upgrade the keeper)", op, target, errors.New(m.Error), protocol)
	}
	return m, nil, fmt.Errorf("keeper: %s %s: %w", op, target, errors.New(m.Error))
}
