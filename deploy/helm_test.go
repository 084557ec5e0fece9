package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"sigs.k8s.io/yaml"
)

// chartDir is the chart under test, relative to this package.
const chartDir = "chart/secretfs"

// releaseName is the release every test renders; render.sh uses the same one.
const releaseName = "secretfs"

// toolPath returns the binary named by the environment variable env, failing (never skipping) when
// it is unset: CI must run these tests, and `make tools` provides the binaries.
func toolPath(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("%s is unset: run `make tools` (or `make test`, which sets it)", env)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s=%s: %v: run `make tools` to build it", env, p, err)
	}
	return p
}

// helmCmd prepares helm with args, its config, cache and data kept in a temporary directory so a
// test never reads or writes the user's helm setup.
func helmCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(toolPath(t, "SECRETFS_HELM"), args...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	return cmd
}

// helmTemplate renders the chart into namespace with extra helm arguments (--set …), CRDs included.
// It returns helm's error and stderr instead of failing, so tests can expect a rejection.
func helmTemplate(t *testing.T, namespace string, extra ...string) ([]byte, error) {
	t.Helper()
	args := append([]string{"template", releaseName, chartDir, "--namespace", namespace, "--include-crds"}, extra...)
	cmd := helmCmd(t, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &helmError{err: err, stderr: stderr.String()}
	}
	return out, nil
}

// helmError is a failed helm run with what it printed.
type helmError struct {
	err    error
	stderr string
}

func (e *helmError) Error() string { return e.err.Error() + ": " + e.stderr }
func (e *helmError) Unwrap() error { return e.err }

// docSeparator splits a YAML stream into documents.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocs returns each non-empty document of a YAML stream as JSON; comment-only documents (helm
// prints one per empty template) are dropped.
func splitDocs(t *testing.T, stream []byte) [][]byte {
	t.Helper()
	var docs [][]byte
	for i, part := range docSeparator.Split(string(stream), -1) {
		j, err := yaml.YAMLToJSONStrict([]byte(part)) // strict: duplicate keys are errors
		if err != nil {
			t.Fatalf("document %d is not YAML: %v\n%s", i, err, part)
		}
		if s := string(bytes.TrimSpace(j)); s == "null" || s == "" || s == "{}" {
			continue
		}
		docs = append(docs, j)
	}
	return docs
}
