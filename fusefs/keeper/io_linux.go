//go:build linux

package keeper

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxMessage bounds one FUSE message either way: go-fuse's largest write or
// read (1 MiB) plus headers. The kernel refuses /dev/fuse reads into smaller
// buffers than max_write plus headers.
const maxMessage = 1<<20 + 4096

// socketBuffer is forced on both ends of every server socket: a SEQPACKET
// message larger than the send buffer fails with EMSGSIZE.
const socketBuffer = 4 << 20

// bufs holds message buffers. A reader takes one only once its fd is
// readable, so an idle mount holds none.
var bufs = sync.Pool{New: func() any { b := make([]byte, maxMessage); return &b }}

// errClosedPeer is a server socket's end of file.
var errClosedPeer = io.EOF

// readMsg reads one whole message from rc, waiting in Go's netpoller, and
// passes it to use before the buffer goes back to the pool. It returns
// errClosedPeer at a socket's end, os.ErrDeadlineExceeded when stopped by
// a deadline, and the read's error otherwise.
func readMsg(rc syscall.RawConn, use func([]byte)) error {
	var (
		bp   *[]byte
		n    int
		rerr error
	)
	err := rc.Read(func(fd uintptr) bool {
		bp = bufs.Get().(*[]byte)
		for {
			n, rerr = unix.Read(int(fd), *bp)
			if rerr != unix.EINTR {
				break
			}
		}
		if rerr == unix.EAGAIN {
			bufs.Put(bp)
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	defer bufs.Put(bp)
	if rerr != nil {
		return rerr
	}
	if n == 0 {
		return errClosedPeer
	}
	use((*bp)[:n])
	return nil
}

// writeMsg writes one whole message to a non-blocking socket without
// waiting: a server that does not drain 4 MiB of requests is stuck, and
// waiting for it would stall every other message of the mount.
func writeMsg(rc syscall.RawConn, m []byte) error {
	var werr error
	err := rc.Control(func(fd uintptr) {
		for {
			_, werr = unix.Write(int(fd), m)
			if werr != unix.EINTR {
				return
			}
		}
	})
	return errors.Join(err, werr)
}

// newSocketPair returns the keeper's end (non-blocking, for the netpoller)
// and the server's end (blocking, as go-fuse reads it) of a SEQPACKET
// socket pair with 4 MiB buffers.
func newSocketPair() (keeperEnd, serverEnd *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	for _, fd := range fds {
		if err := setBuffers(fd); err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return nil, nil, err
		}
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, os.NewSyscallError("setnonblock", err)
	}
	return os.NewFile(uintptr(fds[0]), "keeper-socket"), os.NewFile(uintptr(fds[1]), "server-socket"), nil
}

// setBuffers forces 4 MiB send and receive buffers (root may exceed
// net.core.wmem_max; others get what the sysctl allows).
func setBuffers(fd int) error {
	for _, o := range [][2]int{{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}} {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[0], socketBuffer) != nil {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[1], socketBuffer); err != nil {
				return os.NewSyscallError("setsockopt", err)
			}
		}
	}
	return nil
}

// rawConn returns f's RawConn; f must be pollable (non-blocking).
func rawConn(f *os.File) syscall.RawConn {
	rc, err := f.SyscallConn()
	if err != nil {
		panic("keeper: " + f.Name() + " has no RawConn: " + err.Error()) // os.File always has one
	}
	return rc
}
