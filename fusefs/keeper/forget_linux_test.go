//go:build linux

package keeper

import (
	"log/slog"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestForgetCount: the server is never told to forget more than it holds,
// nor its last lookup while the kernel still holds the node.
func TestForgetCount(t *testing.T) {
	type counts struct{ Kernel, Server, Forwarded uint64 }
	tests := []struct {
		name           string
		kernel, server uint64
		forget         uint64
		want           counts
	}{
		{"same counts, partial", 5, 5, 2, counts{3, 3, 2}},
		{"same counts, all", 5, 5, 5, counts{0, 0, 5}},
		{"revived server keeps its one", 5, 1, 3, counts{2, 1, 0}},
		{"revived server forgets at the end", 5, 1, 5, counts{0, 0, 1}},
		{"server holds more than it may drop", 6, 3, 4, counts{2, 1, 2}},
		{"never revived", 2, 0, 2, counts{0, 0, 0}},
		{"kernel forgets too much", 1, 1, 9, counts{0, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			null, err := os.Open(os.DevNull) // stands in for /dev/fuse: nothing is read
			if err != nil {
				t.Fatal(err)
			}
			defer null.Close()
			c := newConn("/t", "secretfs", null, slog.Default())
			c.kernel[7], c.server[7] = tt.kernel, tt.server
			n := c.forgetCount(7, tt.forget)
			got := counts{c.kernel[7], c.server[7], n}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("forget %d of kernel %d / server %d (-want +got):\n%s", tt.forget, tt.kernel, tt.server, diff)
			}
		})
	}
}

// TestRequestFHs: handles are found where each request carries them.
func TestRequestFHs(t *testing.T) {
	body := func(first uint32) []byte {
		m := make([]byte, inHeaderLen+40)
		le.PutUint32(m[inHeaderLen:], first)
		return m
	}
	tests := []struct {
		name string
		op   uint32
		msg  []byte
		want []int
	}{
		{"read", opRead, body(0), []int{40}},
		{"release", opRelease, body(0), []int{40}},
		{"getattr without fh", opGetattr, body(0), nil},
		{"getattr with fh", opGetattr, body(getattrFH), []int{48}},
		{"setattr with fh", opSetattr, body(fattrFH), []int{48}},
		{"copy_file_range", opCopyFileRange, body(0), []int{40, 64}},
		{"lookup", opLookup, body(0), nil},
		{"truncated read", opRead, make([]byte, inHeaderLen+4), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, requestFHs(tt.op, tt.msg)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
