package volume

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/secretfs/secretfs/fusefs/keeper"
)

// TestResumeRefusesMemosItCannotRead: a kept mount whose memo is missing
// or not this version's is left to kubelet's republish, and the error
// names the target but never quotes the memo (it may hold credentials).
func TestResumeRefusesMemosItCannotRead(t *testing.T) {
	const target = "/var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/v/mount"
	const secret = "client-secret-in-the-memo"
	tests := []struct {
		name string
		memo string
	}{
		{"no memo", ""},
		{"not JSON", `{"request": {"Creds": {"ClientSecret": "` + secret + `"`},
		{"another target", `{"request": {"TargetPath": "/elsewhere", "Creds": {"ClientSecret": "` + secret + `"}}}`},
		{"no parameters", `{"request": {"TargetPath": "` + target + `", "Creds": {"ClientSecret": "` + secret + `"}}}`},
		{"wrong types", `{"request": {"TargetPath": 7, "Creds": {"ClientSecret": "` + secret + `"}}}`},
	}
	m := &Manager{mounts: map[string]*mounted{}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := m.resume(context.Background(), keeper.MountInfo{Target: target, Memo: []byte(tc.memo)}, slog.Default())
			if err == nil {
				t.Fatal("resume: want an error")
			}
			if msg := err.Error(); !strings.Contains(msg, target) || !strings.Contains(msg, "kubelet's republish") || strings.Contains(msg, secret) {
				t.Errorf("error %q: want the target and what happens next, never the memo", msg)
			}
		})
	}
}
