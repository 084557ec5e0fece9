//go:build linux

package fusectl

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/var/lib/kubelet/pods/x/mount`: "/var/lib/kubelet/pods/x/mount",
		`/tmp/a\040b`:                   "/tmp/a b",
		`/tmp/tab\011and\134slash`:      "/tmp/tab\tand\\slash",
		`/tmp/end\04`:                   `/tmp/end\04`,
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMountDev: the device number of a mount is read from mountinfo; it
// is what stat says, and a directory with nothing mounted on it is an
// error.
func TestMountDev(t *testing.T) {
	var st unix.Stat_t
	if err := unix.Stat("/proc", &st); err != nil {
		t.Fatal(err)
	}
	dev, err := MountDev("/proc")
	if err != nil || dev != st.Dev {
		t.Errorf("MountDev(/proc) = %d, %v; want %d", dev, err, st.Dev)
	}
	if _, err := MountDev(t.TempDir()); err == nil {
		t.Error("MountDev of a plain directory: want an error")
	}
}
