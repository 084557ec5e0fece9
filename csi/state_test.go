package csi_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/secretfs/secretfs/csi"
)

func entry(target string) csi.Entry {
	return csi.Entry{
		TargetPath: target, VolumeID: "vol-" + filepath.Base(target), Class: "app/spc",
		Pod:     csi.PodInfo{Name: "web-0", Namespace: "app", UID: "uid-1", ServiceAccount: "web"},
		Backend: "fuse", Published: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// TestStateRoundTrip writes entries through one State and reads them back
// with LoadState and a second OpenState, as a restarted node does.
func TestStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "state.json")
	s, err := csi.OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/b", "/a", "/c"} {
		if err := s.Put(entry(target)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Remove("/c"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("/unknown"); err != nil {
		t.Fatal(err)
	}
	want := []csi.Entry{entry("/a"), entry("/b")}
	got, err := csi.LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadState (-want +got):\n%s", diff)
	}
	reopened, err := csi.OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, reopened.Entries()); diff != "" {
		t.Errorf("reopened Entries (-want +got):\n%s", diff)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	names, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 {
		t.Errorf("state dir holds %d files (temp files left?), want 1", len(names))
	}
}

func TestLoadStateErrors(t *testing.T) {
	dir := t.TempDir()
	got, err := csi.LoadState(filepath.Join(dir, "missing.json"))
	if err != nil || got != nil {
		t.Errorf("LoadState of a missing file = %v, %v; want nil, nil", got, err)
	}
	tests := []struct{ name, content, wantErr string }{
		{"torn", `{"version":1,"entries":[`, "parse state"},
		{"newer", `{"version":99,"entries":[]}`, "version 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := csi.LoadState(path); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadState = %v, want error containing %q", err, tt.wantErr)
			}
			if _, err := csi.OpenState(path); err == nil {
				t.Error("OpenState succeeded on a bad file")
			}
		})
	}
}

// TestStateHoldsNoSecret publishes with a client secret and checks the
// file on disk.
func TestStateHoldsNoSecret(t *testing.T) {
	e := startEnv(t, defaultClasses())
	if _, err := e.node.NodePublishVolume(t.Context(), publishReq(e.target("s"))); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(e.dir, "state", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{testClientSecret, "client-1"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("state file holds %q:\n%s", secret, data)
		}
	}
	if !strings.Contains(string(data), `"secretProviderClass": "app/spc"`) {
		t.Errorf("state file lacks the class:\n%s", data)
	}
}

// TestStateRepublish: recording the same mount again keeps the first
// publish time (and skips the write); a changed mount is recorded.
func TestStateRepublish(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s, err := csi.OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	first := entry("/a")
	later := first
	later.Published = first.Published.Add(time.Hour)
	changed := later
	changed.VolumeID = "vol-other"
	wantChanged := changed
	wantChanged.Published = first.Published

	steps := []struct {
		put  csi.Entry
		want csi.Entry
	}{
		{first, first},
		{later, first},
		{changed, wantChanged},
	}
	for i, st := range steps {
		if err := s.Put(st.put); err != nil {
			t.Fatal(err)
		}
		got, err := csi.LoadState(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]csi.Entry{st.want}, got); diff != "" {
			t.Errorf("step %d: file (-want +got):\n%s", i, diff)
		}
	}
}
