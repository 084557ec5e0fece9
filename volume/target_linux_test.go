package volume_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/kube"
	"github.com/secretfs/secretfs/volume"
)

// These tests hold secretfs to what it may do at a target path: remove only
// what it created, never write into or remove a directory, file or mount
// that was there before.

// backendsUnderTest are the backends a target meets: FUSE, files, and
// "auto" on a node without /dev/fuse (files again, reached another way).
var backendsUnderTest = []struct {
	name string
	new  func() (volume.Backend, error)
}{
	{"fuse", func() (volume.Backend, error) { return volume.NewBackend("fuse", volume.FuseOptions{}) }},
	{"files", func() (volume.Backend, error) { return volume.NewBackend("files", volume.FuseOptions{}) }},
	{"auto without /dev/fuse", func() (volume.Backend, error) { return volume.NewBackendWithoutFuse("auto") }},
}

func managerWith(t *testing.T, f *fixture, newBackend func() (volume.Backend, error)) *volume.Manager {
	t.Helper()
	b, err := newBackend()
	if err != nil {
		t.Fatal(err)
	}
	return volume.NewManager(f.node, b)
}

// preciousDir makes dir (mode 0711) holding p.txt, to be found exactly so
// afterwards.
func preciousDir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.txt"), []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkPrecious fails unless dir holds exactly what preciousDir put there.
func checkPrecious(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("the directory %s is gone: %v", dir, err)
	}
	if len(entries) != 1 || entries[0].Name() != "p.txt" {
		t.Errorf("%s holds %v, want only p.txt", dir, entries)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "p.txt")); err != nil || string(b) != "precious\n" {
		t.Errorf("p.txt = %q, %v; want it untouched", b, err)
	}
}

// mountsAt counts the file systems mounted at dir.
func mountsAt(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			n++
		}
	}
	return n
}

// TestPreexistingDirectoryLeftAsFound: a directory that was there before
// is mounted over, never written into, and is back exactly as found after
// unpublish (the files backend used to remove it with everything in it).
func TestPreexistingDirectoryLeftAsFound(t *testing.T) {
	for _, b := range backendsUnderTest {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, time.Minute)
			m := managerWith(t, f, b.new)
			target := filepath.Join(t.TempDir(), "d")
			preciousDir(t, target)
			if err := m.Mount(context.Background(), f.request(t, target, clientA, f.secretA)); err != nil {
				t.Fatalf("Mount: %v", err)
			}
			if got := readFile(t, filepath.Join(target, "db-password")); got != "v1-password" {
				t.Errorf("db-password = %q", got)
			}
			if _, err := os.Lstat(filepath.Join(target, "p.txt")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("p.txt shows on the volume (err %v): want the volume mounted over the directory", err)
			}
			if err := m.Unmount(context.Background(), target); err != nil {
				t.Fatalf("Unmount: %v", err)
			}
			if n := mountsAt(t, target); n != 0 {
				t.Errorf("%d mounts left at %s", n, target)
			}
			checkPrecious(t, target)
		})
	}
}

// TestFailedFilesMountLeavesTargetAsFound: a files mount that fails after
// the fetch (here: the file cannot be written, its object no longer
// readable) leaves a directory that was there as found and removes one it
// created (the old code removed both).
func TestFailedFilesMountLeavesTargetAsFound(t *testing.T) {
	for _, b := range backendsUnderTest[1:] {
		t.Run(b.name, func(t *testing.T) {
			const ttl = 100 * time.Millisecond
			f := newFixture(t, ttl)
			backend, err := b.new()
			if err != nil {
				t.Fatal(err)
			}
			vol, err := f.node.Open(context.Background(), f.params(t), f.request(t, "/x", clientA, f.secretA).Creds)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(vol.Close)
			f.kv.Revoke(clientA, vaultName)
			eventually(t, 20*time.Second, "reads refused after the revocation", func() bool {
				_, err := vol.Read(context.Background(), "db-password")
				return err != nil
			})

			dir := t.TempDir()
			existing := filepath.Join(dir, "d")
			preciousDir(t, existing)
			if m, err := volume.Show(context.Background(), backend, existing, vol); err == nil {
				m.Unmount()
				t.Fatal("Show succeeded with an unreadable object")
			}
			if n := mountsAt(t, existing); n != 0 {
				t.Errorf("%d mounts left at %s", n, existing)
			}
			checkPrecious(t, existing)

			fresh := filepath.Join(dir, "new")
			if m, err := volume.Show(context.Background(), backend, fresh, vol); err == nil {
				m.Unmount()
				t.Fatal("Show succeeded with an unreadable object")
			}
			if _, err := os.Lstat(fresh); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the target Show created is still there (err %v)", err)
			}
		})
	}
}

// TestMountPointAtTargetRefusedAndUntouched: a file system someone else
// mounted at the target (a tmpfs too) is refused with ErrTargetUnusable, not
// written into, covered or unmounted, by publish or unpublish (the files
// backend used to write into a tmpfs and then unmount and remove it; FUSE
// stacked a mount over any of them).
func TestMountPointAtTargetRefusedAndUntouched(t *testing.T) {
	for _, b := range backendsUnderTest[:2] {
		for _, fstype := range []string{"tmpfs", "ramfs"} {
			t.Run(b.name+"/"+fstype, func(t *testing.T) {
				f := newFixture(t, time.Minute)
				m := managerWith(t, f, b.new)
				target := filepath.Join(t.TempDir(), "d")
				if err := os.Mkdir(target, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := unix.Mount(fstype, target, fstype, 0, ""); err != nil {
					t.Fatalf("mounting %s: %v", fstype, err)
				}
				t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
				preciousDir(t, target)

				err := m.Mount(context.Background(), f.request(t, target, clientA, f.secretA))
				if !errors.Is(err, csi.ErrTargetUnusable) || !strings.Contains(err.Error(), fstype) {
					t.Errorf("Mount over someone's %s = %v, want ErrTargetUnusable naming it", fstype, err)
				}
				if err := m.Unmount(context.Background(), target); err != nil {
					t.Errorf("Unmount of a target never mounted = %v, want nil", err)
				}
				if n := mountsAt(t, target); n != 1 {
					t.Errorf("%d mounts at %s, want only the one there before", n, target)
				}
				checkPrecious(t, target)
			})
		}
	}
}

// TestRegularFileTargetRefusedAndKept: a regular file as the target is
// refused before anything is mounted, and unpublish never removes it (the
// old code left a dead read-write FUSE mount over it, and unpublish
// deleted it).
func TestRegularFileTargetRefusedAndKept(t *testing.T) {
	for _, b := range backendsUnderTest[:2] {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, time.Minute)
			m := managerWith(t, f, b.new)
			file := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(file, []byte("keep\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Unmount(file, unix.MNT_DETACH) })
			err := m.Mount(context.Background(), f.request(t, file, clientA, f.secretA))
			if !errors.Is(err, csi.ErrTargetUnusable) || !strings.Contains(err.Error(), "not a directory") {
				t.Errorf("Mount on a regular file = %v, want ErrTargetUnusable saying not a directory", err)
			}
			if n := mountsAt(t, file); n != 0 {
				t.Errorf("%d mounts left over %s", n, file)
			}
			if err := m.Unmount(context.Background(), file); err != nil {
				t.Errorf("Unmount = %v", err)
			}
			if b, err := os.ReadFile(file); err != nil || string(b) != "keep\n" {
				t.Errorf("file = %q, %v; want it untouched", b, err)
			}
		})
	}
}

// TestRestartTakesUpOwnTmpfs: a process started after the one that
// mounted a files volume takes up its tmpfs on republish (one mount, not
// a refusal), and on unpublish removes the target only if secretfs created
// it, which it learns from the directory itself.
func TestRestartTakesUpOwnTmpfs(t *testing.T) {
	f := newFixture(t, time.Minute)
	dir := t.TempDir()
	created := filepath.Join(dir, "created")
	existing := filepath.Join(dir, "existing")
	preciousDir(t, existing)
	before := managerWith(t, f, backendsUnderTest[1].new)
	for _, target := range []string{created, existing} {
		if err := before.Mount(context.Background(), f.request(t, target, clientA, f.secretA)); err != nil {
			t.Fatalf("Mount(%s): %v", target, err)
		}
	}
	before.Close() // the process ends; its tmpfs mounts stay

	b, err := volume.NewBackend("files", volume.FuseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := volume.NewManager(newNodeWithCache(t, f.cache, f.kv.HTTPClient()), b)
	if err := after.Mount(context.Background(), f.request(t, created, clientA, f.secretA)); err != nil {
		t.Fatalf("republish after the restart: %v", err)
	}
	if n := mountsAt(t, created); n != 1 {
		t.Errorf("%d mounts at %s after the republish, want 1", n, created)
	}
	for _, target := range []string{created, existing} { // known again, and not
		if err := after.Unmount(context.Background(), target); err != nil {
			t.Errorf("Unmount(%s): %v", target, err)
		}
		if n := mountsAt(t, target); n != 0 {
			t.Errorf("%d mounts left at %s", n, target)
		}
	}
	if _, err := os.Lstat(created); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the target secretfs created is still there (err %v)", err)
	}
	checkPrecious(t, existing)
}

// classes serves the fixture's SecretProviderClass as app/spc.
type classes struct{ f *fixture }

func (c classes) Get(namespace, name string) (*kube.SecretProviderClass, error) {
	spc := &kube.SecretProviderClass{Spec: kube.SecretProviderClassSpec{Provider: "azure", Parameters: c.f.paramMap()}}
	spc.Name, spc.Namespace = name, namespace
	return spc, nil
}

// nodeServer is the CSI node service over a Manager with backend.
func nodeServer(t *testing.T, f *fixture, backend string) *csi.NodeServer {
	t.Helper()
	return csi.NewNodeServer(csi.Config{NodeID: "node-1", Backend: backend, CloudEnvDir: filepath.Dir(f.kv.CloudEnvFile())}, classes{f}, newManager(t, f, backend))
}

func publishRequest(f *fixture, target string) *csipb.NodePublishVolumeRequest {
	return &csipb.NodePublishVolumeRequest{
		VolumeId: "csi-0123", TargetPath: target, Readonly: true,
		VolumeCapability: &csipb.VolumeCapability{
			AccessType: &csipb.VolumeCapability_Mount{Mount: &csipb.VolumeCapability_MountVolume{}},
			AccessMode: &csipb.VolumeCapability_AccessMode{Mode: csipb.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
		},
		VolumeContext: map[string]string{
			"secretProviderClass":              "spc",
			"csi.storage.k8s.io/pod.name":      "web-0",
			"csi.storage.k8s.io/pod.namespace": "app",
		},
		Secrets: map[string]string{"clientid": clientA, "clientsecret": f.secretA},
	}
}

func unpublish(t *testing.T, ns *csi.NodeServer, target string) {
	t.Helper()
	if _, err := ns.NodeUnpublishVolume(context.Background(), &csipb.NodeUnpublishVolumeRequest{VolumeId: "csi-0123", TargetPath: target}); err != nil {
		t.Errorf("NodeUnpublishVolume(%s): %v", target, err)
	}
}

// TestNodeServerRefusesFileTargetAndKeepsIt: through the CSI node service,
// a regular file as the target is FailedPrecondition, leaves no mount, and
// the unpublish kubelet sends next leaves the file (it was deleted).
func TestNodeServerRefusesFileTargetAndKeepsIt(t *testing.T) {
	for _, backend := range []string{"fuse", "files"} {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, time.Minute)
			ns := nodeServer(t, f, backend)
			file := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(file, []byte("keep\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Unmount(file, unix.MNT_DETACH) })
			_, err := ns.NodePublishVolume(context.Background(), publishRequest(f, file))
			if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "not a directory") {
				t.Errorf("NodePublishVolume on a file = %v, want FailedPrecondition saying not a directory", err)
			}
			if n := mountsAt(t, file); n != 0 {
				t.Errorf("%d mounts left over %s", n, file)
			}
			unpublish(t, ns, file)
			if b, err := os.ReadFile(file); err != nil || string(b) != "keep\n" {
				t.Errorf("file = %q, %v; want it untouched", b, err)
			}
		})
	}
}

// TestNodeServerTrailingSlashIsOneTarget: "/x/t/" is the target "/x/t":
// its republish does not stack a second mount, and its unpublish unmounts
// the volume and removes the target.
func TestNodeServerTrailingSlashIsOneTarget(t *testing.T) {
	for _, backend := range []string{"fuse", "files"} {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, time.Minute)
			ns := nodeServer(t, f, backend)
			target := filepath.Join(t.TempDir(), "t")
			t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
			for _, variant := range []string{target, target + "/", target + "//", target + "/."} {
				if _, err := ns.NodePublishVolume(context.Background(), publishRequest(f, variant)); err != nil {
					t.Fatalf("NodePublishVolume(%s): %v", variant, err)
				}
			}
			if n := mountsAt(t, target); n != 1 {
				t.Errorf("%d mounts at %s after publishing its variants, want 1", n, target)
			}
			unpublish(t, ns, target+"/")
			if n := mountsAt(t, target); n != 0 {
				t.Errorf("%d mounts left at %s", n, target)
			}
			if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("target still there after unpublish (err %v)", err)
			}
		})
	}
}
