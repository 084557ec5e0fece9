//go:build linux

package keeper_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secretfs/secretfs/fusefs/keeper"
)

// realisticMemo is about the size of secretfs's memo of a mount of five
// objects with a workload identity token (~3.4 KB), different per target.
func realisticMemo(target string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"request":{"TargetPath":%q,"Params":{"keyvaultName":"kv-team","tenantId":"0000","objects":"`, target)
	for i := range 5 {
		fmt.Fprintf(&b, `objectName: secret-%d\nobjectType: secret\nobjectAlias: alias-%d\n`, i, i)
	}
	b.WriteString(`"},"Creds":{"Token":"`)
	for b.Len() < 3400 {
		b.WriteString("eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9")
	}
	b.WriteString(`"}}}`)
	return []byte(b.String())
}

// bigMemo is a memo of size bytes, its content depending on seed.
func bigMemo(size int, seed string) []byte {
	return bytes.Repeat([]byte(seed), size/len(seed)+1)[:size]
}

// TestManyAndLargeMemos: 500 kept volumes with realistic memos, and one
// memo of 1 MiB, are mounted, remembered, listed whole and handed over.
// Control protocol 1 sent a List in one message: over ~208 KiB (~61 such
// memos) it failed and List returned EOF; a 1 MiB memo failed its mount
// with EMSGSIZE.
func TestManyAndLargeMemos(t *testing.T) {
	requireFUSE(t)
	const n = 500
	targets := makeTargets(t, n+1)
	sock := filepath.Join(t.TempDir(), "keeper.sock")
	k := startRole(t, "keeper", true, sock)
	c := keeper.NewClient(sock)
	want := map[string][]byte{}
	for i, target := range targets {
		memo := realisticMemo(target)
		if i == n {
			memo = bigMemo(1<<20, "large memo of "+target)
		}
		f, _, err := c.Mount(target, "secretfs", memo)
		if err != nil {
			t.Fatalf("mount %d with a %d-byte memo: %v", i, len(memo), err)
		}
		f.Close() // no server: List and Remember never touch the mounts
		want[target] = memo
	}
	checkList(t, c, "mounted", want)
	want[targets[0]] = bigMemo(1<<20+7, "remembered "+targets[0])
	if err := c.Remember(targets[0], want[targets[0]]); err != nil {
		t.Fatalf("Remember with a 1 MiB memo: %v", err)
	}
	checkList(t, c, "remembered", want)
	startRole(t, "keeper", true, "-takeover", sock)
	if err := waitExit(k, 60*time.Second); err != nil {
		t.Fatalf("handover: the old keeper: %v", err)
	}
	checkList(t, c, "handed over", want)
}

// checkList fails unless the keeper lists exactly the memos of want.
func checkList(t *testing.T, c *keeper.Client, step string, want map[string][]byte) {
	t.Helper()
	ms, err := c.List()
	if err != nil {
		t.Fatalf("%s: List: %v", step, err)
	}
	if len(ms) != len(want) {
		t.Errorf("%s: List returned %d mounts, want %d", step, len(ms), len(want))
	}
	for _, m := range ms {
		if !bytes.Equal(m.Memo, want[m.Target]) {
			t.Errorf("%s: the memo of %s: got %d bytes, want the %d given", step, m.Target, len(m.Memo), len(want[m.Target]))
		}
	}
}
