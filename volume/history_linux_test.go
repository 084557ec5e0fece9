package volume_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/secretfs/secretfs/vault"
)

// TestHistoryDirectoryGrows: with objectVersionHistory 3 and one version
// at mount, new versions appear in the history directory, up to 3, on both
// backends (it used to stay at "0" however many versions followed).
func TestHistoryDirectoryGrows(t *testing.T) {
	for _, backend := range []string{"fuse", "files"} {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, 200*time.Millisecond)
			f.kv.SetSecret(vaultName, "rotating", "v1", "")
			m := newManager(t, f, backend)
			target := filepath.Join(t.TempDir(), "mnt")
			r := f.request(t, target, clientA, f.secretA)
			p, err := vault.ParseParameters(context.Background(), map[string]string{
				"keyvaultName": vaultName, "tenantID": f.kv.TenantID(),
				"cloudName": "AzureStackCloud", "cloudEnvFileName": f.kv.CloudEnvFile(),
				"objects": "array:\n  - |\n    objectName: rotating\n    objectType: secret\n    objectVersionHistory: 3\n",
			}, f.parseOptions())
			if err != nil {
				t.Fatal(err)
			}
			r.Params = p
			mustMount(t, m, r)
			dir := filepath.Join(target, "rotating")
			list := func() []string {
				ents, err := os.ReadDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				return names
			}
			if got := list(); !slices.Equal(got, []string{"0"}) {
				t.Fatalf("history at mount = %v, want [0]", got)
			}
			f.kv.SetSecret(vaultName, "rotating", "v2", "")
			eventually(t, 10*time.Second, "version 2 appears as 1", func() bool {
				return slices.Equal(list(), []string{"0", "1"}) && catFile(t, filepath.Join(dir, "1")) == "v1"
			})
			for i := 3; i <= 6; i++ {
				f.kv.SetSecret(vaultName, "rotating", fmt.Sprint("v", i), "")
			}
			eventually(t, 10*time.Second, "the history fills up to 3 with the newest versions", func() bool {
				return slices.Equal(list(), []string{"0", "1", "2"}) && catFile(t, filepath.Join(dir, "0")) == "v6" &&
					catFile(t, filepath.Join(dir, "2")) == "v4"
			})
			vol, _ := m.Volume(target)
			if got := len(vol.Files()); got != 3 {
				t.Errorf("Volume.Files lists %d files, want 3", got)
			}
		})
	}
}
