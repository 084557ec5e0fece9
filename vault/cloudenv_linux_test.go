package vault

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A SecretProviderClass author chooses cloudEnvFileName, and the node plugin
// reads it as root. These are the files issue 9 pointed it at.
func TestCloudEnvFileRefusesHostileFiles(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	good := `{"activeDirectoryEndpoint":"https://login.stack.test/","keyVaultDNSSuffix":"vault.stack.test"}`
	writeCloudEnv(t, dir, "good.json", good)
	outsideFile := writeCloudEnv(t, outside, "cloud.json", good)
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// An old reader blocks in open(2) on the FIFO until a writer comes; let
	// it go at the end, so a failing run does not leave it behind.
	t.Cleanup(func() { unblockFIFO(fifo) })
	symlink := func(name, to string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(to, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	linkInside := symlink("link-inside.json", "good.json")
	linkOutside := symlink("link-outside.json", outsideFile)
	dirLinkOutside := symlink("sub", outside)
	// Valid JSON padded past the limit: accepted if the size is not checked.
	big := writeCloudEnv(t, dir, "big.json", good[:len(good)-1]+strings.Repeat(" ", MaxCloudEnvFileSize)+"}")
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, dir, file string
		want            []string
	}{
		{"/dev/zero, /dev allowed", "/dev", "/dev/zero", []string{"not a regular file", "device"}},
		{"/dev/zero, outside", dir, "/dev/zero", []string{"outside " + dir, "--cloud-env-dir"}},
		{"FIFO", dir, fifo, []string{"not a regular file", "FIFO"}},
		{"directory", dir, filepath.Join(dir, "d"), []string{"not a regular file", "directory"}},
		{"symlink inside the directory", dir, linkInside, []string{"symlink"}},
		{"symlink leaving the directory", dir, linkOutside, []string{"symlink"}},
		{"directory symlink leaving the directory", dir, filepath.Join(dirLinkOutside, "cloud.json"), []string{"cloudEnvFileName"}},
		{"file outside the directory", dir, outsideFile, []string{"outside " + dir}},
		{"dot-dot out of the directory", dir, filepath.Join(dir, "..", filepath.Base(outside), "cloud.json"), []string{"outside " + dir}},
		{"/etc/shadow", dir, "/etc/shadow", []string{"outside " + dir}},
		{"the directory itself", dir, dir, []string{"outside " + dir}},
		{"relative path", dir, "good.json", []string{"absolute path inside " + dir}},
		{"over 64 KiB", dir, big, []string{"larger than 64 KiB"}},
		{"no allowed directory", "", filepath.Join(dir, "good.json"), []string{"--cloud-env-dir", "cloudEnvDir"}},
		{"huge path", dir, "/" + strings.Repeat("a", 5000), []string{"longer than 4096 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseWithin(t, stackParams(tt.file), tt.dir)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error = %v, want ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if len(err.Error()) > 600 {
				t.Errorf("error is %d bytes long, want it bounded", len(err.Error()))
			}
		})
	}
	t.Run("a good file in the directory", func(t *testing.T) {
		if err := parseWithin(t, stackParams(filepath.Join(dir, "good.json")), dir); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCloudEnvFileErrorsNeverQuoteContent: the file may be any file in the
// allowed directory, and errors reach pod events.
func TestCloudEnvFileErrorsNeverQuoteContent(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"shadow-like", "root:$6$Zq9hunter2:19000:0:99999:7:::\n", `not JSON (syntax error at byte offset 1)`},
		{"truncated object", `{"activeDirectoryEndpoint":"https://Zq9hunter2`, `not JSON (syntax error at byte offset 46)`},
		{"number literal", `{"keyVaultDNSSuffix": 79135}`, `field keyVaultDNSSuffix is not a string`},
		{"bad endpoint", `{"activeDirectoryEndpoint":"Zq9hunter2","keyVaultDNSSuffix":"vault.test"}`, `activeDirectoryEndpoint: missing or not an https URL`},
		{"bad suffix", `{"activeDirectoryEndpoint":"https://login.test/","keyVaultDNSSuffix":"Zq9 hunter2/"}`, `keyVaultDNSSuffix: missing or not a host name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeCloudEnv(t, dir, strings.ReplaceAll(tt.name, " ", "-")+".json", tt.content)
			err := parseWithin(t, stackParams(path), dir)
			if err == nil {
				t.Fatal("parsed")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			for _, leak := range []string{"Zq9", "hunter2", "79135", "'r'", "'Z'"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q quotes the file's content %q", err, leak)
				}
			}
		})
	}
}

func TestCloudEnvFileHonoursContext(t *testing.T) {
	dir := t.TempDir()
	path := writeCloudEnv(t, dir, "cloud.json", `{"activeDirectoryEndpoint":"https://login.stack.test/","keyVaultDNSSuffix":"vault.stack.test"}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ParseParameters(ctx, stackParams(path), ParseOptions{CloudEnvDir: dir})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func stackParams(file string) map[string]string {
	return with(baseParams(), "cloudName", "AzureStackCloud", "cloudEnvFileName", file)
}

// parseWithin parses in the background and fails the test if that does not
// return within a generous bound (a FIFO used to block it forever).
func parseWithin(t *testing.T, params map[string]string, dir string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := ParseParameters(context.Background(), params, ParseOptions{CloudEnvDir: dir})
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("ParseParameters did not return within 30s")
		return nil
	}
}

// unblockFIFO opens the FIFO as a writer and closes it, so a reader blocked
// opening it sees EOF.
func unblockFIFO(path string) {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err == nil {
		f.Close()
	}
}
