package fusefs

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// entry is one node of a mount's tree, before it is served.
type entry struct {
	path string      // relative, slash-separated; "" is the root
	dir  bool        // a directory (root or history directory)
	perm fs.FileMode // permission bits of a file
	// optional: a file that may not exist (File.Optional)
	optional bool
}

// layout is the validated tree of a mount: every directory implied by a
// file path, in an order where parents come before children.
type layout struct {
	entries []entry
}

// errLayout marks a file list that cannot form a tree.
var errLayout = errors.New("invalid file list")

// planLayout validates files and derives the directories they imply. The
// caller validated names already; this only refuses what would make the tree
// ambiguous: duplicates, a path that is both a file and a directory, and
// (astronomically unlikely) two paths with one inode number.
func planLayout(files []File) (*layout, error) {
	kinds := map[string]bool{"": true} // path → is a directory
	var l layout
	l.entries = append(l.entries, entry{dir: true})
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for _, f := range sorted {
		if err := checkPath(f.Path); err != nil {
			return nil, err
		}
		if err := l.addParents(kinds, f.Path); err != nil {
			return nil, err
		}
		if _, dup := kinds[f.Path]; dup {
			return nil, fmt.Errorf("%w: %q appears twice or is also a directory", errLayout, f.Path)
		}
		kinds[f.Path] = false
		l.entries = append(l.entries, entry{path: f.Path, perm: f.Mode.Perm(), optional: f.Optional})
	}
	return &l, checkInos(l.entries)
}

// addParents records the directories above p, refusing one that is a file.
func (l *layout) addParents(kinds map[string]bool, p string) error {
	parts := strings.Split(p, "/")
	for i := 1; i < len(parts); i++ {
		dir := strings.Join(parts[:i], "/")
		isDir, seen := kinds[dir]
		if seen && !isDir {
			return fmt.Errorf("%w: %q is a file and the parent of %q", errLayout, dir, p)
		}
		if !seen {
			kinds[dir] = true
			l.entries = append(l.entries, entry{path: dir, dir: true})
		}
	}
	return nil
}

// checkPath refuses paths that are not clean, relative and slash-separated.
func checkPath(p string) error {
	if p == "" || p == "." || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." {
		return fmt.Errorf("%w: path %q must be clean, relative and inside the mount", errLayout, p)
	}
	return nil
}

// checkInos refuses two paths hashing to one inode number.
func checkInos(entries []entry) error {
	seen := make(map[uint64]string, len(entries))
	for _, e := range entries {
		ino := Ino(e.path)
		if other, dup := seen[ino]; dup {
			return fmt.Errorf("%w: %q and %q share inode number %d; rename one", errLayout, other, e.path, ino)
		}
		seen[ino] = e.path
	}
	return nil
}
