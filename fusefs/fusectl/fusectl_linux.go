//go:build linux

package fusectl

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Dir is where the kernel's fusectl file system is mounted.
const Dir = "/sys/fs/fuse/connections"

// superMagic is FUSECTL_SUPER_MAGIC: statfs's f_type of a mounted fusectl.
const superMagic = 0x65735543

// Abort aborts the FUSE connection of the file system whose device number
// (a mount's st_dev) is dev, mounting fusectl at Dir first if it is not
// mounted there. A connection that is already gone is not an error.
func Abort(dev uint64) error {
	if err := mountFusectl(); err != nil {
		return err
	}
	abort := filepath.Join(Dir, strconv.FormatUint(uint64(unix.Minor(dev)), 10), "abort")
	err := os.WriteFile(abort, []byte("1"), 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil // the connection ended meanwhile
	}
	if err != nil {
		return fmt.Errorf("fusectl: aborting FUSE connection %d: %w", unix.Minor(dev), err)
	}
	return nil
}

// mountFusectl mounts fusectl at Dir unless it is mounted there. It is a
// single superblock: mounting it twice (two callers at once) only stacks
// another view of the same connections.
func mountFusectl() error {
	var st unix.Statfs_t
	if err := unix.Statfs(Dir, &st); err == nil && st.Type == superMagic {
		return nil
	}
	if err := unix.Mount("fusectl", Dir, "fusectl", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("fusectl: mounting it at %s (needed to abort a FUSE connection; mount it there read-write): %w", Dir, err)
	}
	return nil
}

// MountDev returns the device number of the file system mounted on top at
// target, read from /proc/self/mountinfo: a stat would ask the FUSE server,
// which may be gone or not yet there.
func MountDev(target string) (uint64, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return 0, fmt.Errorf("fusectl: %w", err)
	}
	defer f.Close()
	var (
		dev   uint64
		found bool
	)
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		// id parent major:minor root mountpoint ...; the last line for a
		// mount point is the mount on top.
		fields := strings.Fields(s.Text())
		if len(fields) < 5 || unescape(fields[4]) != target {
			continue
		}
		if d, ok := parseDev(fields[2]); ok {
			dev, found = d, true
		}
	}
	if err := s.Err(); err != nil {
		return 0, fmt.Errorf("fusectl: reading /proc/self/mountinfo: %w", err)
	}
	if !found {
		return 0, fmt.Errorf("fusectl: nothing is mounted at %s", target)
	}
	return dev, nil
}

// parseDev parses mountinfo's "major:minor".
func parseDev(s string) (uint64, bool) {
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return 0, false
	}
	a, err1 := strconv.ParseUint(maj, 10, 32)
	b, err2 := strconv.ParseUint(min, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return unix.Mkdev(uint32(a), uint32(b)), true
}

// unescape undoes mountinfo's octal escapes (\040 for a space, \011,
// \012, \134).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
