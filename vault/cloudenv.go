package vault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxCloudEnvFileSize bounds a cloudEnvFileName file. go-autorest's
// Environment JSON is about 2 KiB; anything much larger is not one.
const MaxCloudEnvFileSize = 64 << 10

// maxCloudEnvPath bounds the cloudEnvFileName value (PATH_MAX on Linux), so
// a huge value is refused without being quoted.
const maxCloudEnvPath = 4096

// cloudEnvOpenFlags open without blocking (a FIFO or device swapped in after
// the type check must not hang the open) and without leaking the descriptor
// to children. os.Root adds O_NOFOLLOW to every open on Unix; a symlink as
// the last component is refused by readCloudEnv's Lstat and SameFile check.
const cloudEnvOpenFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_CLOEXEC

// readCloudEnv reads the cloudEnvFileName file path, which a
// SecretProviderClass author chooses and the node plugin reads as root. It
// must be a regular file of at most MaxCloudEnvFileSize bytes inside dir,
// the directory the operator allows (--cloud-env-dir); "" allows none.
// Nothing outside dir is reached: os.Root refuses "..", absolute symlinks
// and symlinks that leave dir, and the file itself must not be a symlink.
// FIFOs, devices and sockets are refused before they are opened, so the
// read cannot block or run forever; ctx is checked between reads.
func readCloudEnv(ctx context.Context, dir, path string) ([]byte, error) {
	rel, err := cloudEnvRel(dir, path)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s %q: %w", ParamCloudEnvFileName, path, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: the allowed directory %s (--cloud-env-dir): %w", ErrInvalid, ParamCloudEnvFileName, dir, err)
	}
	defer root.Close()
	data, err := readRegular(ctx, root, rel)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("%s %q: %w", ParamCloudEnvFileName, path, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %s %q: %w", ErrInvalid, ParamCloudEnvFileName, path, err)
	}
	return data, nil
}

// cloudEnvRel checks that path is an absolute path inside dir and returns it
// relative to dir.
func cloudEnvRel(dir, path string) (string, error) {
	switch {
	case dir == "":
		return "", invalidf("%s: this node allows no custom cloud environment files; the operator must set --cloud-env-dir (secretfs node and mount; chart value linux.cloudEnvDir or windows.cloudEnvDir) to the directory that holds them", ParamCloudEnvFileName)
	case len(path) > maxCloudEnvPath:
		return "", invalidf("%s: longer than %d bytes", ParamCloudEnvFileName, maxCloudEnvPath)
	case !filepath.IsAbs(path):
		return "", invalidf("%s %q: must be an absolute path inside %s, the directory this node allows", ParamCloudEnvFileName, path, dir)
	}
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", invalidf("%s %q: outside %s, the only directory this node reads cloud environment files from (--cloud-env-dir)", ParamCloudEnvFileName, path, dir)
	}
	return rel, nil
}

// readRegular reads rel under root if it is a regular file (not a symlink)
// of at most MaxCloudEnvFileSize bytes. The type is checked before the open
// (so no FIFO or device is ever opened) and again on the open descriptor,
// which must be the very file checked (so a swap in between is refused).
func readRegular(ctx context.Context, root *os.Root, rel string) ([]byte, error) {
	before, err := root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(before); err != nil {
		return nil, err
	}
	f, err := root.OpenFile(rel, cloudEnvOpenFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	after, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkRegular(after); err != nil {
		return nil, err
	}
	if !os.SameFile(before, after) {
		return nil, errors.New("changed while it was opened; try again")
	}
	data, err := io.ReadAll(io.LimitReader(ctxReader{ctx, f}, MaxCloudEnvFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxCloudEnvFileSize {
		return nil, fmt.Errorf("larger than %d KiB; a cloud environment file is a small JSON object", MaxCloudEnvFileSize>>10)
	}
	return data, nil
}

// checkRegular refuses anything but a regular file of a plausible size.
func checkRegular(fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return errors.New("is a symlink; name the file itself")
	case !fi.Mode().IsRegular():
		return fmt.Errorf("not a regular file (%s)", fileKind(fi.Mode()))
	case fi.Size() > MaxCloudEnvFileSize:
		return fmt.Errorf("larger than %d KiB; a cloud environment file is a small JSON object", MaxCloudEnvFileSize>>10)
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.Type().String()
}

// ctxReader stops reading once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
