//go:build linux

package keeper

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// protocol is the version of the control protocol this package speaks.
//
// Version 1 (messages without "v") sent every message as one SEQPACKET
// record, so a message larger than the socket's send buffer (~208 KiB by
// default: ~61 realistic memos in a List, or one large memo) failed. Version
// 2 sends a message too large for one record as parts, and List as one
// message per mount and an end marker: no message size has a cliff.
//
// Compatibility during an upgrade, when old and new run side by side: a
// version 2 reader reads version 1 records (a whole message, without
// parts), so a new client understands an old keeper's answers and a new
// keeper takes the mounts over from an old one. A new keeper answers an old
// client's List whole, as version 1 did, or with an error naming the cause
// when it does not fit; an old keeper cannot read a request sent in parts,
// and the new client's error says to upgrade the keeper. A new keeper
// refuses to hand over to an old one (it could not read the parts), with
// an error the old one reports, before it gives anything away.
const protocol = 2

// message is one message of the control protocol: a JSON object per
// SEQPACKET record, or, when it does not fit one record, its JSON split
// over part records; file descriptors (SCM_RIGHTS) travel with its first
// record.
type message struct {
	// V is the sender's protocol version; 0 is version 1.
	V int `json:"v,omitempty"`
	// Op is the request: "mount", "memo", "unmount", "list" or "handover".
	Op     string `json:"op,omitempty"`
	Target string `json:"target,omitempty"`
	Name   string `json:"name,omitempty"`
	// Memo is the server's opaque memo of a mount ("mount", "memo").
	Memo []byte `json:"memo,omitempty"`
	// Error is a failed request's reason.
	Error string `json:"error,omitempty"`
	// Existing: the mount was already held (a server restart).
	Existing bool `json:"existing,omitempty"`
	// Mounts is a version 1 List answer: every mount in one message.
	Mounts []MountInfo `json:"mounts,omitempty"`
	// Mount is one mount of a streamed List answer; End ends the stream
	// (Count says how many came).
	Mount *MountInfo `json:"mount,omitempty"`
	End   bool       `json:"end,omitempty"`
	// Count is the number of mounts a handover sends, one message each, or
	// a List stream sent.
	Count int        `json:"count,omitempty"`
	State *connState `json:"state,omitempty"`
	// Part is a piece of the JSON of a message too large for one record;
	// More says another part follows.
	Part []byte `json:"part,omitempty"`
	More bool   `json:"more,omitempty"`
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

const (
	// recordMax bounds a record this side sends: far below the default
	// socket send buffer (net.core.wmem_default, 208 KiB), over which a
	// SEQPACKET record fails with EMSGSIZE.
	recordMax = 64 << 10
	// partSize is the payload of one part record: base64 makes it 60 KiB.
	partSize = 45 << 10
	// maxControl bounds a whole message (a memo, a mount's handover
	// state), so a broken peer cannot make the other side buffer without
	// end.
	maxControl = 64 << 20
)

// errPeerClosed is the end of a control connection before a whole answer.
var errPeerClosed = errors.New("the other end closed the connection")

// send writes m with files attached, in parts if it does not fit one
// record.
func send(c *net.UnixConn, m message, files ...*os.File) error {
	m.V = protocol
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding a %s: %w", kind(m), err)
	}
	oob := rights(files)
	if len(b) <= recordMax {
		return writeRecord(c, b, oob, m)
	}
	if len(b) > maxControl {
		return fmt.Errorf("a %s of %d bytes is over the %d-byte bound of a control message", kind(m), len(b), maxControl)
	}
	for off := 0; off < len(b); off += partSize {
		end := min(off+partSize, len(b))
		r, err := json.Marshal(message{V: protocol, Part: b[off:end], More: end < len(b)})
		if err != nil {
			return fmt.Errorf("encoding a part of a %s: %w", kind(m), err)
		}
		if err := writeRecord(c, r, oob, m); err != nil {
			return err
		}
		oob = nil // the files travel with the first part
	}
	return nil
}

// sendWhole writes m as one record, as protocol version 1 peers read it.
func sendWhole(c *net.UnixConn, m message) error {
	m.V = protocol // unknown fields are ignored by version 1
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding a %s: %w", kind(m), err)
	}
	return writeRecord(c, b, nil, m)
}

func writeRecord(c *net.UnixConn, b, oob []byte, m message) error {
	if _, _, err := c.WriteMsgUnix(b, oob, nil); err != nil {
		return fmt.Errorf("sending a %s (%d bytes): %w", kind(m), len(b), err)
	}
	return nil
}

// kind names m in errors (never its content: a memo may hold credentials).
func kind(m message) string {
	switch {
	case m.Op != "":
		return m.Op + " request"
	case m.State != nil:
		return "handover state"
	case m.Mount != nil:
		return "listed mount"
	}
	return "control message"
}

func rights(files []*os.File) []byte {
	if len(files) == 0 {
		return nil
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = fdOf(f)
	}
	return unix.UnixRights(fds...)
}

// recv reads one message, joining its parts, and the files that came with
// it. It reads records of protocol version 1 as well (whole messages).
func recv(c *net.UnixConn) (message, []*os.File, error) {
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	var (
		files []*os.File
		whole []byte
	)
	for {
		m, got, err := readRecord(c, *bp)
		files = append(files, got...)
		if err != nil {
			closeAll(files)
			return message{}, nil, err
		}
		if whole == nil && m.Part == nil {
			return m, files, nil
		}
		if m.Part == nil || len(whole)+len(m.Part) > maxControl {
			closeAll(files)
			return message{}, nil, fmt.Errorf("reading a control message: a broken part, or over %d bytes", maxControl)
		}
		whole = append(whole, m.Part...)
		if m.More {
			continue
		}
		var joined message
		if err := json.Unmarshal(whole, &joined); err != nil {
			closeAll(files)
			return message{}, nil, fmt.Errorf("decoding a control message of %d bytes: %w", len(whole), err)
		}
		return joined, files, nil
	}
}

// readRecord reads one record into buf and decodes it.
func readRecord(c *net.UnixConn, buf []byte) (message, []*os.File, error) {
	var m message
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if errors.Is(err, io.EOF) {
		err = errPeerClosed
	}
	if err != nil {
		return m, nil, fmt.Errorf("reading a control message: %w", err)
	}
	files, err := parseRights(oob[:oobn])
	if err != nil {
		return m, nil, err
	}
	switch {
	case n == 0:
		err = fmt.Errorf("reading a control message: %w", errPeerClosed)
	case flags&unix.MSG_TRUNC != 0:
		err = fmt.Errorf("reading a control message: a record over %d bytes", len(buf))
	case flags&unix.MSG_CTRUNC != 0:
		err = errors.New("reading a control message: more file descriptors than expected")
	default:
		if jerr := json.Unmarshal(buf[:n], &m); jerr != nil {
			err = fmt.Errorf("decoding a control message: %w", jerr)
		}
	}
	if err != nil {
		closeAll(files)
		return message{}, nil, err
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
	cred, err := peerCred(c)
	if err != nil {
		return 0
	}
	return int(cred.Pid)
}

// peerCred is the credentials of the process that connected c, as the
// kernel recorded them at connect(2) (SO_PEERCRED).
func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var (
		cred *unix.Ucred
		gerr error
	)
	if err := rc.Control(func(fd uintptr) { cred, gerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil {
		return nil, err
	}
	if gerr != nil {
		return nil, os.NewSyscallError("getsockopt SO_PEERCRED", gerr)
	}
	return cred, nil
}
