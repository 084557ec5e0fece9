//go:build linux

package keeper

import (
	"encoding/json"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// message is one message of the control protocol: a JSON object per
// SEQPACKET message, with file descriptors (SCM_RIGHTS) where noted.
type message struct {
	// Op is the request: "mount", "memo", "unmount", "list" or "handover".
	Op     string `json:"op,omitempty"`
	Target string `json:"target,omitempty"`
	Name   string `json:"name,omitempty"`
	// Memo is the server's opaque memo of a mount ("mount", "memo").
	Memo []byte `json:"memo,omitempty"`
	// Error is a failed request's reason.
	Error string `json:"error,omitempty"`
	// Existing: the mount was already held (a server restart).
	Existing bool        `json:"existing,omitempty"`
	Mounts   []MountInfo `json:"mounts,omitempty"`
	// Count is the number of mounts a handover sends, one message each.
	Count int        `json:"count,omitempty"`
	State *connState `json:"state,omitempty"`
}

// MountInfo describes a mount the keeper holds.
type MountInfo struct {
	Target string `json:"target"`
	// Served: a server is attached and revived.
	Served bool `json:"served"`
	// Waiting counts the kernel's unanswered requests.
	Waiting int `json:"waiting"`
	// Memo is what the server gave with the mount (Client.Mount,
	// Client.Remember), returned as given. It may hold credentials: it is
	// kept only in the keeper's memory and passed on at a handover; never
	// log it.
	Memo []byte `json:"memo,omitempty"`
}

// maxControl bounds a control message (a handover's state of one mount).
const maxControl = 8 << 20

// send writes m with files attached.
func send(c *net.UnixConn, m message, files ...*os.File) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding %s message: %w", m.Op, err)
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = fdOf(f)
		}
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := c.WriteMsgUnix(b, oob, nil); err != nil {
		return fmt.Errorf("sending %s message: %w", m.Op, err)
	}
	return nil
}

// recv reads one message and the files that came with it.
func recv(c *net.UnixConn) (message, []*os.File, error) {
	var m message
	buf := make([]byte, maxControl)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return m, nil, fmt.Errorf("reading a control message: %w", err)
	}
	files, err := parseRights(oob[:oobn])
	if err != nil {
		return m, nil, err
	}
	if n == 0 {
		closeAll(files)
		return m, nil, fmt.Errorf("reading a control message: %w", os.ErrClosed)
	}
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		closeAll(files)
		return m, nil, fmt.Errorf("decoding a control message: %w", err)
	}
	return m, files, nil
}

func parseRights(oob []byte) ([]*os.File, error) {
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parsing passed file descriptors: %w", err)
	}
	var files []*os.File
	for _, cm := range cmsgs {
		fds, err := unix.ParseUnixRights(&cm)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "passed"))
		}
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// fdOf returns f's descriptor without File.Fd, which would switch a
// pollable file to blocking mode (for every process sharing it).
func fdOf(f *os.File) int {
	fd := -1
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(u uintptr) { fd = int(u) })
	}
	return fd
}

// peerPID is the process at the other end of c, or 0 if it cannot be seen
// from here (another PID namespace).
func peerPID(c *net.UnixConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var cred *unix.Ucred
	rc.Control(func(fd uintptr) { cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cred == nil {
		return 0
	}
	return int(cred.Pid)
}
