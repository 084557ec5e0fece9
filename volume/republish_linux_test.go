package volume_test

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/fusefs/keeper"
	"github.com/secretfs/secretfs/volume"
)

// startKeeper runs a keeper in this process and returns its socket.
func startKeeper(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "keeper.sock")
	k, err := keeper.Start(keeper.Config{Socket: sock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return sock
}

// memoObjects returns the object names of the keeper's memo of target.
func memoObjects(t *testing.T, sock, target string) []string {
	t.Helper()
	list, err := keeper.NewClient(sock).List()
	if err != nil {
		t.Fatal(err)
	}
	for _, mi := range list {
		if mi.Target != target {
			continue
		}
		var memo struct {
			Request csi.MountRequest `json:"request"`
		}
		if err := json.Unmarshal(mi.Memo, &memo); err != nil {
			t.Fatalf("decoding the memo: %v", err)
		}
		var names []string
		for _, o := range memo.Request.Params.Objects {
			names = append(names, o.Name)
		}
		return names
	}
	t.Fatalf("the keeper holds no mount at %s", target)
	return nil
}

// TestRepublishWithChangedClassIsRefused: a republish whose
// SecretProviderClass changed is refused with FailedPrecondition, every
// time, and changes nothing: the files stay those of the first publish and
// the keeper's memo keeps describing them (it used to store the new
// parameters while the volume kept the old, so the file set changed at an
// unrelated restart).
func TestRepublishWithChangedClassIsRefused(t *testing.T) {
	for _, backend := range []string{"fuse", "files", "keeper"} {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, time.Minute)
			var m *volume.Manager
			var sock string
			if backend == "keeper" {
				sock = startKeeper(t)
				m = volume.NewManager(f.node, volume.NewKeeperBackend(sock, volume.FuseOptions{}))
			} else {
				m = newManager(t, f, backend)
			}
			target := filepath.Join(t.TempDir(), "mnt")
			r := f.request(t, target, clientA, f.secretA)
			mustMount(t, m, r)

			changed := r
			changed.Params = f.params(t)
			changed.Params.Objects = changed.Params.Objects[:1] // api-token removed
			for range 2 {
				err := m.Mount(context.Background(), changed)
				if !errors.Is(err, csi.ErrFailedPrecondition) || !strings.Contains(fmtErr(err), "recreate the pod") {
					t.Fatalf("republish with a changed class: got %v, want FailedPrecondition saying to recreate the pod", err)
				}
			}
			// Read by another process: this one serves the keeper's
			// connection without go-fuse's poll hack (fusefs.Serve).
			if got := catFile(t, filepath.Join(target, "token")); got != "v1-token" {
				t.Errorf("token after the refused republish = %q, want the mounted file set unchanged", got)
			}
			if sock != "" {
				if got := memoObjects(t, sock, target); len(got) != 2 {
					t.Errorf("keeper memo objects = %v, want the two mounted ones", got)
				}
			}
			if err := m.Mount(context.Background(), r); err != nil {
				t.Errorf("republish with the mounted class: %v", err)
			}
		})
	}
}

func catFile(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("cat", path).Output()
	if err != nil {
		t.Fatalf("cat %s: %v", path, err)
	}
	return string(out)
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
