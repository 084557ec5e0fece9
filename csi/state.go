package csi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// stateVersion is written into the file; a reader refuses a newer one
// rather than dropping fields it does not know.
const stateVersion = 1

// Entry records one published volume: enough to remount it or clean it up
// after a restart. It holds no secret: credentials are asked again from
// kubelet on the next republish.
type Entry struct {
	TargetPath string    `json:"targetPath"`
	VolumeID   string    `json:"volumeID"`
	Class      string    `json:"secretProviderClass"` // "namespace/name"
	Pod        PodInfo   `json:"pod"`
	Backend    string    `json:"backend,omitempty"` // "fuse" or "files"
	Published  time.Time `json:"published"`         // first publish; a republish keeps it
}

type stateFile struct {
	Version int     `json:"version"`
	Entries []Entry `json:"entries"`
}

// State is the set of published volumes, kept in memory and mirrored to a
// JSON file written atomically (temp file + rename, mode 0600) after every
// change. An empty path keeps it in memory only.
type State struct {
	path string

	mu      sync.Mutex
	entries map[string]Entry // by target path; guarded by mu
}

// LoadState reads the entries recorded at path, sorted by target; a
// missing file holds none.
func LoadState(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse state %s: %w", path, err)
	}
	if f.Version > stateVersion {
		return nil, fmt.Errorf("state %s has version %d, this build reads up to %d", path, f.Version, stateVersion)
	}
	sortEntries(f.Entries)
	return f.Entries, nil
}

// OpenState returns a State holding what path records, so that entries of
// a previous run are kept until they are removed.
func OpenState(path string) (*State, error) {
	s := &State{path: path, entries: map[string]Entry{}}
	if path == "" {
		return s, nil
	}
	entries, err := LoadState(path)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		s.entries[e.TargetPath] = e
	}
	return s, nil
}

// Entries returns the recorded entries sorted by target path.
func (s *State) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedLocked()
}

// Put records e, replacing an entry for the same target. Recording what
// is already there (kubelet's periodic republish) writes nothing and keeps
// the first Published time: the write is an fsync, milliseconds.
func (s *State) Put(e Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.entries[e.TargetPath]; ok {
		e.Published = old.Published
		if old == e {
			return nil
		}
	}
	s.entries[e.TargetPath] = e
	return s.saveLocked()
}

// Remove drops the entry for target, if any.
func (s *State) Remove(target string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[target]; !ok {
		return nil
	}
	delete(s.entries, target)
	return s.saveLocked()
}

func (s *State) sortedLocked() []Entry {
	out := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e)
	}
	sortEntries(out)
	return out
}

// saveLocked writes the file under s.mu so that writes land in order.
func (s *State) saveLocked() error {
	if s.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(stateFile{Version: stateVersion, Entries: s.sortedLocked()}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return writeFileAtomic(s.path, data)
}

// writeFileAtomic replaces path with data so that a crash of the process
// leaves either the old or the new file, never a torn one. It does not
// fsync: the file only has to outlive the process, not the machine — a
// reboot loses every mount it describes — and an fsync cost a cold publish
// up to 20 ms on a loaded node.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".state-*.tmp")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool { return es[i].TargetPath < es[j].TargetPath })
}
