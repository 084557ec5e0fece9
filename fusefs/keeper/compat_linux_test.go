//go:build linux

package keeper

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// fakeV1Keeper listens on a socket and answers each request with answer,
// one record, as a keeper of control protocol 1 did (nil: close without
// an answer). It returns the socket.
func fakeV1Keeper(t *testing.T, answer []byte) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "v1.sock")
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			buf := make([]byte, 1<<20)
			c.Read(buf) // one record: a version 1 keeper reads only the first
			if answer != nil {
				c.Write(answer)
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return sock
}

// TestClientOfAnOlderKeeper: a client talking to a keeper of protocol 1
// (during an upgrade) understands its answers, and each failure says to
// upgrade the keeper instead of hanging or saying only EOF.
func TestClientOfAnOlderKeeper(t *testing.T) {
	t.Run("whole list", func(t *testing.T) {
		c := NewClient(fakeV1Keeper(t, []byte(`{"mounts":[{"target":"/t","served":true,"waiting":2,"memo":"bWVtbw=="}]}`)))
		ms, err := c.List()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]MountInfo{{Target: "/t", Served: true, Waiting: 2, Memo: []byte("memo")}}, ms); diff != "" {
			t.Errorf("List (-want +got):\n%s", diff)
		}
	})
	t.Run("list too large for it", func(t *testing.T) {
		_, err := NewClient(fakeV1Keeper(t, nil)).List()
		if err == nil || !strings.Contains(err.Error(), "protocol 1") || !strings.Contains(err.Error(), "upgrade the keeper") {
			t.Errorf("List: %v; want an error saying the keeper may be older and to upgrade it", err)
		}
	})
	t.Run("memo sent in parts", func(t *testing.T) {
		c := NewClient(fakeV1Keeper(t, []byte(`{"error":"unknown request \"\""}`)))
		err := c.Remember("/t", make([]byte, 1<<20))
		if err == nil || !strings.Contains(err.Error(), "upgrade the keeper") {
			t.Errorf("Remember: %v; want an error saying to upgrade the keeper", err)
		}
	})
}

// v1Request sends request as one record, as a protocol 1 client or keeper
// does, and returns the records of the answer until the keeper closes.
func v1Request(t *testing.T, sock, request string) []string {
	t.Helper()
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a keeper waiting for more fails the test
	if _, err := c.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	var records []string
	buf := make([]byte, maxControl)
	for {
		n, err := c.Read(buf)
		if n == 0 || errors.Is(err, io.EOF) {
			return records
		}
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, string(buf[:n]))
	}
}

// TestOlderPeersOfAKeeper: a client of protocol 1 gets a List in one
// record, as it reads it; a keeper of protocol 1 asking for a handover is
// refused with a reason, and this keeper keeps its mounts and serves on.
func TestOlderPeersOfAKeeper(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "keeper.sock")
	k, err := Start(Config{Socket: sock, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	got := v1Request(t, sock, `{"op":"list"}`)
	if len(got) != 1 || strings.Contains(got[0], `"part"`) || strings.Contains(got[0], `"error"`) {
		t.Errorf("a protocol 1 list: got records %q, want one whole answer", got)
	}
	got = v1Request(t, sock, `{"op":"handover"}`)
	if len(got) != 1 || !strings.Contains(got[0], "handover refused") || !strings.Contains(got[0], "protocol") {
		t.Errorf("a protocol 1 handover: got records %q, want one refusal naming the protocol", got)
	}
	select {
	case <-k.Done():
		t.Fatal("the keeper stopped after refusing the handover")
	default:
	}
	if _, err := NewClient(sock).List(); err != nil {
		t.Errorf("List after the refused handover: %v", err)
	}
}

// TestSendSplitsLargeMessages: over a socket with the default buffers,
// where a record over ~208 KiB fails, a 3 MiB message arrives whole, with
// its file.
func TestSendSplitsLargeMessages(t *testing.T) {
	a, b := socketPair(t)
	memo := []byte(strings.Repeat("0123456789abcdef", 3<<16))
	sent := make(chan error, 1)
	go func() { sent <- send(a, message{Op: "memo", Target: "/t", Memo: memo}, os.Stdin) }()
	b.SetReadDeadline(time.Now().Add(30 * time.Second)) // nothing sent fails the test
	m, files, err := recv(b)
	if err != nil {
		t.Errorf("send: %v", <-sent)
	}
	closeAll(files)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if m.Op != "memo" || m.Target != "/t" || string(m.Memo) != string(memo) || len(files) != 1 {
		t.Errorf("received op %q target %q, a %d-byte memo and %d files; want the %d-byte memo sent and one file", m.Op, m.Target, len(m.Memo), len(files), len(memo))
	}
}

// socketPair returns a connected SEQPACKET pair with the default buffers.
func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
		t.Cleanup(func() { c.Close() })
	}
	return conns[0], conns[1]
}
