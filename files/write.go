package files

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

const (
	// dataLink is the symlink that names the current generation.
	dataLink = "..data"
	// dataTmpLink is created beside dataLink and renamed over it.
	dataTmpLink = "..data_tmp"
	// tsLayout is the prefix of a generation directory; os.MkdirTemp adds a
	// random numeric suffix, so two writes within a second never collide.
	tsLayout = "..2006_01_02_15_04_05."
	// dirMode is the mode of the generation directory and of subdirectories
	// (objectVersionHistory writes name/0, name/1, ...).
	dirMode fs.FileMode = 0o755
)

// File is one file of a volume.
type File struct {
	// Path is slash-separated and relative to the volume's root, e.g.
	// "db-password" or "tls-cert/0". It must be local: no "..", no leading
	// "/", and its first element must not start with ".." (reserved for the
	// layout).
	Path string
	// Mode holds the permission bits the file gets, exactly (umask is not
	// applied).
	Mode fs.FileMode
	// Bytes is the whole content.
	Bytes []byte
}

// ErrInvalidPath is wrapped by Write's error when a File's Path is not a
// local, canonical, slash-separated path or collides with another.
var ErrInvalidPath = errors.New("invalid file path")

// Write publishes files as the new content of dir, atomically: a reader sees
// the previous set or the new one. If dir already holds exactly these paths,
// bytes and modes, Write changes nothing (no new generation, no events for
// watchers). Top-level names that disappear from the set are removed. dir
// must exist.
//
// The generation just replaced is kept until the next change, and older ones
// are removed once generationGrace old. kubelet removes it at once, but a reader resolving
// name -> ..data -> old generation at the moment of the swap then finds the
// old directory gone (ENOENT); TestWriteAtomicForReaders sees that within a
// few hundred rewrites. Keeping one generation costs one copy of the set in
// tmpfs and holds bytes the pod could already read.
func Write(dir string, files []File) error {
	set, err := validate(files)
	if err != nil {
		return err
	}
	current, _ := os.Readlink(filepath.Join(dir, dataLink))
	if current != "" && unchanged(filepath.Join(dir, current), set) {
		return linkNames(dir, set)
	}
	gen, err := writeGeneration(dir, set)
	if err != nil {
		return err
	}
	if err := publish(dir, gen); err != nil {
		_ = os.RemoveAll(filepath.Join(dir, gen))
		return err
	}
	if err := linkNames(dir, set); err != nil {
		return err
	}
	return prune(dir, []string{gen, current}, set)
}

// validate checks every path again (defence in depth: callers validate too,
// but a path that escapes dir must never reach the file system) and returns
// the files sorted by path.
func validate(files []File) ([]File, error) {
	set := append([]File(nil), files...)
	sort.Slice(set, func(i, j int) bool { return set[i].Path < set[j].Path })
	seen := make(map[string]bool, len(set))
	for _, f := range set {
		if err := checkPath(f.Path); err != nil {
			return nil, err
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("%w: %q appears twice", ErrInvalidPath, f.Path)
		}
		seen[f.Path] = true
	}
	for _, f := range set {
		for p := path.Dir(f.Path); p != "."; p = path.Dir(p) {
			if seen[p] {
				return nil, fmt.Errorf("%w: %q is a file and a directory of %q", ErrInvalidPath, p, f.Path)
			}
		}
	}
	return set, nil
}

// checkPath accepts only canonical local slash paths whose first element is
// not reserved by the layout.
func checkPath(p string) error {
	switch {
	case p == "" || !fs.ValidPath(p) || p == ".":
		return fmt.Errorf("%w: %q must be a relative slash path without . or .. elements", ErrInvalidPath, p)
	case strings.ContainsAny(p, `\:`):
		return fmt.Errorf("%w: %q must not contain a backslash or colon", ErrInvalidPath, p)
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("%w: %q must not start with .. (reserved for the layout)", ErrInvalidPath, p)
	case !filepath.IsLocal(filepath.FromSlash(p)):
		return fmt.Errorf("%w: %q is not local on this system", ErrInvalidPath, p)
	}
	return nil
}

// topNames returns the distinct first elements of the paths in set.
func topNames(set []File) map[string]bool {
	names := make(map[string]bool, len(set))
	for _, f := range set {
		top, _, _ := strings.Cut(f.Path, "/")
		names[top] = true
	}
	return names
}

// unchanged reports whether genDir holds exactly set: the same regular files
// with the same bytes and permission bits, and nothing else.
func unchanged(genDir string, set []File) bool {
	want := make(map[string]File, len(set))
	for _, f := range set {
		want[f.Path] = f
	}
	found, same := 0, true
	err := filepath.WalkDir(genDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(genDir, p)
		if err != nil {
			return err
		}
		f, ok := want[filepath.ToSlash(rel)]
		if !ok || !sameFile(p, d, f) {
			same = false
			return fs.SkipAll
		}
		found++
		return nil
	})
	return err == nil && same && found == len(set)
}

// sameFile compares one file on disk with f.
func sameFile(p string, d fs.DirEntry, f File) bool {
	info, err := d.Info()
	if err != nil || !info.Mode().IsRegular() || !samePerm(info.Mode(), f.Mode) {
		return false
	}
	b, err := os.ReadFile(p)
	return err == nil && bytes.Equal(b, f.Bytes)
}

// writeGeneration writes set into a new timestamped directory of dir and
// returns its name. Writes go through an os.Root, so nothing can land outside
// the new directory even if a path check were wrong.
func writeGeneration(dir string, set []File) (string, error) {
	genDir, err := os.MkdirTemp(dir, time.Now().UTC().Format(tsLayout))
	if err != nil {
		return "", fmt.Errorf("creating generation directory in %s: %w", dir, err)
	}
	gen := filepath.Base(genDir)
	if err := writeFiles(genDir, set); err != nil {
		_ = os.RemoveAll(genDir)
		return "", err
	}
	return gen, nil
}

func writeFiles(genDir string, set []File) error {
	if err := os.Chmod(genDir, dirMode); err != nil {
		return fmt.Errorf("setting mode of %s: %w", genDir, err)
	}
	root, err := os.OpenRoot(genDir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", genDir, err)
	}
	defer root.Close()
	for _, f := range set {
		if err := writeFile(root, f); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(root *os.Root, f File) error {
	name := filepath.FromSlash(f.Path)
	if d := filepath.Dir(name); d != "." {
		if err := root.MkdirAll(d, dirMode); err != nil {
			return fmt.Errorf("creating directory for %q: %w", f.Path, err)
		}
	}
	if err := root.WriteFile(name, f.Bytes, f.Mode.Perm()); err != nil {
		return fmt.Errorf("writing %q: %w", f.Path, err)
	}
	// WriteFile's mode is filtered by umask; the volume's mode is exact.
	if err := root.Chmod(name, f.Mode.Perm()); err != nil {
		return fmt.Errorf("setting mode of %q: %w", f.Path, err)
	}
	return nil
}

// publish points dir/..data at gen with one atomic swap.
func publish(dir, gen string) error {
	tmp := filepath.Join(dir, dataTmpLink)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing stale %s: %w", tmp, err)
	}
	if err := os.Symlink(gen, tmp); err != nil {
		return fmt.Errorf("linking %s: %w", tmp, err)
	}
	if err := swapLink(tmp, filepath.Join(dir, dataLink), gen); err != nil {
		return fmt.Errorf("publishing %s in %s: %w", gen, dir, err)
	}
	return nil
}

// linkNames makes dir/name -> ..data/name for each top-level name of set.
// Existing correct links are left alone, so a republish with an unchanged set
// touches nothing.
func linkNames(dir string, set []File) error {
	for name := range topNames(set) {
		link := filepath.Join(dir, name)
		target := filepath.Join(dataLink, name)
		if got, err := os.Readlink(link); err == nil && got == target {
			continue
		}
		if err := os.RemoveAll(link); err != nil {
			return fmt.Errorf("replacing %s: %w", link, err)
		}
		if err := os.Symlink(target, link); err != nil {
			return fmt.Errorf("linking %s: %w", link, err)
		}
	}
	return nil
}

// prune removes what no longer belongs in dir: generations other than keep
// (also ones a crash left behind) and links to names that left the set.
func prune(dir string, keep []string, set []File) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing %s: %w", dir, err)
	}
	names := topNames(set)
	var errs []error
	for _, e := range entries {
		n := e.Name()
		if slices.Contains(keep, n) || n == dataLink || names[n] || !stale(dir, n) || recent(e) {
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join(dir, n)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing old files from %s: %w", dir, err)
	}
	return nil
}

// generationGrace is how long a replaced generation outlives its
// replacement at least: a reader descheduled between resolving ..data and
// opening the file (seen under load when rewrites come back to back) still
// finds it. Rewrites normally come a TTL apart, so this keeps only the
// previous generation in practice. A variable only so tests can set it.
var generationGrace = 2 * time.Second

// recent reports whether generation directory n was made within the grace,
// by the UTC time its name records.
func recent(e fs.DirEntry) bool {
	n := e.Name()
	if !isGeneration(n) {
		return false
	}
	made, err := time.Parse(tsLayout, n[:len(tsLayout)])
	return err == nil && time.Since(made) < generationGrace
}

// stale reports whether entry n of dir was made by Write: a generation
// directory, the temporary link, or a name link into ..data. Anything else
// (something the caller put there) is kept.
func stale(dir, n string) bool {
	if n == dataTmpLink || isGeneration(n) {
		return true
	}
	target, err := os.Readlink(filepath.Join(dir, n))
	return err == nil && target == filepath.Join(dataLink, n)
}

// isGeneration reports whether n has the form of a generation directory.
func isGeneration(n string) bool {
	if len(n) < len(tsLayout) {
		return false
	}
	_, err := time.Parse(tsLayout, n[:len(tsLayout)])
	return err == nil
}
