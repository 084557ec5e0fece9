package csi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/secretfs/secretfs/vault"
)

// maxStatusLen is the bound csi puts on a status message.
const maxStatusLen = 1024

// TestErrorsAreOneBoundedLine: a handler's error becomes the gRPC status
// message, which kubelet puts into the pod's events verbatim. Whatever the
// Mounter returns (errors.Join's line breaks, a cause quoting a response
// body), the message is one line of printable text, bounded, with its
// vault class still deciding the code.
func TestErrorsAreOneBoundedLine(t *testing.T) {
	e := startEnv(t, defaultClasses())
	body := "RESPONSE 401\n----\n{\n  \"error\": \"invalid_client\x1b[31m\u202e\"\n}\n" + strings.Repeat("A", 64<<10)
	e.mounter.setErr(fmt.Errorf("client %q could not get a token: %w", "client-1",
		errors.Join(vault.ErrAccessDenied, errors.New(body))))
	_, err := e.node.NodePublishVolume(context.Background(), publishReq(e.target("a")))
	st := status.Convert(err)
	checkErr(t, err, wantErr{codes.PermissionDenied, "could not get a token: access denied; RESPONSE 401; ----; {; \"error\": \"invalid_client"})
	if n := len(st.Message()); n > maxStatusLen {
		t.Errorf("status message is %d bytes, want at most %d", n, maxStatusLen)
	}
	for _, r := range st.Message() {
		if !unicode.IsPrint(r) {
			t.Fatalf("status message holds %U: %.300q", r, st.Message())
		}
	}
}
