package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// dockerBuild is the build step of the Dockerfile; TestDockerfileBuild checks the Dockerfile still
// says it and runs it, since no Docker engine is available to build the image itself.
const dockerBuild = "go build -trimpath -buildvcs=false -ldflags=\"-s -w\" -o /out/secretfs ./cmd/secretfs"

// TestDockerfileBuild runs the Dockerfile's build step natively and checks that the binary is
// static: the runtime image (debian-slim) must not need any library the builder had.
func TestDockerfileBuild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image is built for GOOS=linux only; CI runs on linux and never skips this")
	}
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", dockerBuild, "COPY --from=build /out/secretfs /usr/local/bin/secretfs", "fuse3"} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("Dockerfile no longer says %q; update this test with it", want)
		}
	}
	bin := filepath.Join(t.TempDir(), "secretfs")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, "./cmd/secretfs")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's build fails: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has a dynamic loader (PT_INTERP): not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary links shared libraries %v: not static", libs)
	}
}
