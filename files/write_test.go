package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// entry is what a reader sees at one path through the user-visible links.
type entry struct {
	Mode  fs.FileMode
	Bytes string
}

// snapshot reads every file reachable from dir through the top-level links,
// as an application would, skipping the layout's own ..entries.
func snapshot(t *testing.T, dir string) map[string]entry {
	t.Helper()
	got := map[string]entry{}
	tops, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, top := range tops {
		if strings.HasPrefix(top.Name(), "..") {
			continue
		}
		walkTop(t, dir, top.Name(), got)
	}
	return got
}

func walkTop(t *testing.T, dir, top string, got map[string]entry) {
	t.Helper()
	root := filepath.Join(dir, top)
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(real, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		got[filepath.ToSlash(filepath.Join(top, rel))] = entry{info.Mode(), string(b)}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func want(files []File) map[string]entry {
	m := map[string]entry{}
	for _, f := range files {
		m[f.Path] = entry{f.Mode, string(f.Bytes)}
	}
	return m
}

// generations lists the timestamped directories in dir.
func generations(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var gens []string
	for _, e := range entries {
		if isGeneration(e.Name()) {
			gens = append(gens, e.Name())
		}
	}
	return gens
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}

func mustWrite(t *testing.T, dir string, files []File) {
	t.Helper()
	if err := Write(dir, files); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func readlink(t *testing.T, name string) string {
	t.Helper()
	target, err := os.Readlink(name)
	if err != nil {
		t.Fatal(err)
	}
	return target
}

var sample = []File{
	{Path: "db-password", Mode: 0o644, Bytes: []byte("hunter2")},
	{Path: "tls.key", Mode: 0o400, Bytes: []byte("-----BEGIN PRIVATE KEY-----\n")},
	{Path: "history/0", Mode: 0o640, Bytes: []byte("v2")},
	{Path: "history/1", Mode: 0o640, Bytes: []byte("v1")},
	{Path: "empty", Mode: 0o600},
}

func TestWriteLayout(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, dir, sample)

	gen := readlink(t, filepath.Join(dir, dataLink))
	if !regexp.MustCompile(`^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$`).MatchString(gen) {
		t.Errorf("..data -> %q, want ..YYYY_MM_DD_HH_MM_SS.N", gen)
	}
	links := map[string]string{}
	for _, name := range []string{"db-password", "tls.key", "history", "empty"} {
		links[name] = readlink(t, filepath.Join(dir, name))
	}
	wantLinks := map[string]string{
		"db-password": "..data/db-password", "tls.key": "..data/tls.key",
		"history": "..data/history", "empty": "..data/empty",
	}
	if diff := cmp.Diff(wantLinks, links); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want(sample), snapshot(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{gen}, generations(t, dir)); diff != "" {
		t.Errorf("generations (-want +got):\n%s", diff)
	}
}

func TestWriteUnchangedKeepsGeneration(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, dir, sample)
	before := readlink(t, filepath.Join(dir, dataLink))
	reordered := append([]File{sample[4]}, sample[:4]...)
	mustWrite(t, dir, reordered)
	if after := readlink(t, filepath.Join(dir, dataLink)); after != before {
		t.Errorf("unchanged set rewrote ..data: %s -> %s", before, after)
	}
	if got := generations(t, dir); len(got) != 1 {
		t.Errorf("generations = %v, want one", got)
	}
}

func TestWriteRepairsMissingLink(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, dir, sample)
	gen := readlink(t, filepath.Join(dir, dataLink))
	if err := os.Remove(filepath.Join(dir, "db-password")); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, dir, sample)
	if got := readlink(t, filepath.Join(dir, dataLink)); got != gen {
		t.Errorf("..data -> %s, want unchanged %s", got, gen)
	}
	if diff := cmp.Diff(want(sample), snapshot(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

func TestWriteChange(t *testing.T) {
	defer func(g time.Duration) { generationGrace = g }(generationGrace)
	generationGrace = 0 // prune at once, to see exactly what is kept
	changed := func(edit func(fs []File) []File) []File {
		return edit(append([]File(nil), sample...))
	}
	tests := []struct {
		name string
		next []File
	}{
		{"bytes", changed(func(fs []File) []File { fs[0].Bytes = []byte("rotated"); return fs })},
		{"mode", changed(func(fs []File) []File { fs[1].Mode = 0o440; return fs })},
		{"file removed", changed(func(fs []File) []File { return fs[1:] })},
		{"history shrinks", changed(func(fs []File) []File { return append(fs[:3], fs[4]) })},
		{"file added", changed(func(fs []File) []File { return append(fs, File{Path: "new", Mode: 0o644, Bytes: []byte("n")}) })},
		{"everything replaced", []File{{Path: "other", Mode: 0o644, Bytes: []byte("o")}}},
		{"empty set", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			mustWrite(t, dir, sample)
			old := readlink(t, filepath.Join(dir, dataLink))
			mustWrite(t, dir, tt.next)
			gen := readlink(t, filepath.Join(dir, dataLink))
			if gen == old {
				t.Errorf("..data still -> %s after a change", old)
			}
			if diff := cmp.Diff(sorted(old, gen), generations(t, dir)); diff != "" {
				t.Errorf("generations after one change (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want(tt.next), snapshot(t, dir)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			mustWrite(t, dir, sample)
			latest := readlink(t, filepath.Join(dir, dataLink))
			if diff := cmp.Diff(sorted(gen, latest), generations(t, dir)); diff != "" {
				t.Errorf("generations after two changes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteRejectsInvalidPaths(t *testing.T) {
	ok := File{Path: "ok", Mode: 0o644, Bytes: []byte("x")}
	tests := []struct {
		name  string
		files []File
	}{
		{"parent", []File{ok, {Path: "../x"}}},
		{"nested parent", []File{{Path: "a/../../x"}}},
		{"absolute", []File{{Path: "/etc/passwd"}}},
		{"not canonical", []File{{Path: "a/../b"}}},
		{"dot", []File{{Path: "."}}},
		{"empty", []File{{Path: ""}}},
		{"trailing slash", []File{{Path: "a/"}}},
		{"backslash", []File{{Path: `..\x`}}},
		{"drive", []File{{Path: "C:x"}}},
		{"reserved data link", []File{{Path: "..data"}}},
		{"reserved prefix", []File{{Path: "..2020_01_01_00_00_00.1/x"}}},
		{"duplicate", []File{ok, ok}},
		{"file and directory", []File{{Path: "a"}, {Path: "a/0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "vol")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			err := Write(dir, tt.files)
			if !errors.Is(err, ErrInvalidPath) {
				t.Fatalf("Write = %v, want ErrInvalidPath", err)
			}
			for _, d := range []string{parent, dir} {
				entries, _ := os.ReadDir(d)
				if d == parent && len(entries) == 1 || d == dir && len(entries) == 0 {
					continue
				}
				t.Errorf("%s was touched: %v", d, entries)
			}
		})
	}
}

func TestWriteKeepsForeignEntriesAndPrunesLeftovers(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "lost+found")
	if err := os.Mkdir(foreign, 0o700); err != nil {
		t.Fatal(err)
	}
	// What a crash between steps could leave behind.
	crashed := filepath.Join(dir, "..2020_01_01_00_00_00.42")
	if err := os.Mkdir(crashed, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..2020_01_01_00_00_00.42", filepath.Join(dir, dataTmpLink)); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, dir, sample)
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !isGeneration(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	wantNames := []string{"..data", "db-password", "empty", "history", "lost+found", "tls.key"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{readlink(t, filepath.Join(dir, dataLink))}, generations(t, dir)); diff != "" {
		t.Errorf("generations (-want +got):\n%s", diff)
	}
}

// TestWriteAtomicForReaders rewrites a volume while readers keep opening
// every file through the user-visible names: each open must succeed and
// return one whole version of the file.
func TestWriteAtomicForReaders(t *testing.T) {
	dir := t.TempDir()
	names := []string{"a", "b", "c"}
	version := func(v int) []File {
		var fs []File
		for _, n := range names {
			body := fmt.Sprintf("<%s:%d:%s>", n, v, strings.Repeat("x", v%97))
			fs = append(fs, File{Path: n, Mode: 0o644, Bytes: []byte(body)})
		}
		return fs
	}
	mustWrite(t, dir, version(0))
	whole := regexp.MustCompile(`^<([abc]):(\d+):x*>$`)

	stop := make(chan struct{})
	errs := make(chan error, 4)
	reads := make([]int, 4)
	var wg sync.WaitGroup
	for r := range reads {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, n := range names {
					b, err := os.ReadFile(filepath.Join(dir, n))
					if err != nil || whole.FindSubmatch(b) == nil || string(whole.FindSubmatch(b)[1]) != n {
						errs <- fmt.Errorf("read %s = %q, %v", n, b, err)
						return
					}
					reads[r]++
				}
			}
		})
	}
	const versions = 300
	for v := 1; v <= versions; v++ {
		if err := Write(dir, version(v)); err != nil {
			t.Errorf("Write version %d: %v", v, err)
			break
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if diff := cmp.Diff(want(version(versions)), snapshot(t, dir)); diff != "" {
		t.Errorf("final files (-want +got):\n%s", diff)
	}
	t.Logf("%d versions published under %v reads", versions, reads)
}
