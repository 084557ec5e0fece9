package vault

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// contentError marks a value Key Vault returned that cannot become the file the
// object asks for (not base64 with objectEncoding base64, a broken PFX). The
// SecretProviderClass or the vault content must change, so it is ErrInvalid.
type contentError struct{ err error }

func (e contentError) Error() string { return e.err.Error() }
func (e contentError) Unwrap() error { return e.err }

// classify turns an SDK, network or content error into an *opError.
func classify(op string, err error) error {
	oe := &opError{op: op, err: err}
	var ce contentError
	var br badResponse
	var tl *tooLargeError
	var re *redirectError
	var authErr *azidentity.AuthenticationFailedError
	var respErr *azcore.ResponseError
	switch {
	case errors.As(err, &ce):
		oe.kind, oe.detail = ErrInvalid, ce.Error()
	case errors.As(err, &tl):
		oe.kind, oe.detail = ErrInvalid, tl.Error()
		if tl.limit == MaxSecretResponseBytes {
			oe.detail += "; Key Vault itself stores at most 25 KiB per secret value"
		}
	case errors.As(err, &br):
		oe.kind, oe.detail = ErrUnavailable, "Key Vault answered 200 but "+br.Error()
	case errors.As(err, &re):
		oe.kind, oe.detail = ErrUnavailable, re.Error()
	case errors.Is(err, ErrInvalid):
		oe.kind, oe.detail = ErrInvalid, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")
	case errors.As(err, &authErr):
		classifyAuth(oe, authErr)
	case errors.As(err, &respErr):
		classifyResponse(oe, respErr.StatusCode, respErr.RawResponse)
		oe.detail = keyVaultDetail(respErr) + redirectDetail(respErr.RawResponse)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		oe.kind, oe.detail = ErrUnavailable, firstLine(err.Error())
	default:
		// Network errors, and azidentity's CredentialUnavailableError (e.g. no
		// managed identity endpoint on this node): nothing the request can fix.
		oe.kind, oe.detail = ErrUnavailable, firstLine(err.Error())
	}
	return oe
}

// classifyResponse sets the class from an HTTP status.
func classifyResponse(oe *opError, status int, resp *http.Response) {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		oe.kind = ErrAccessDenied
	case status == http.StatusNotFound:
		oe.kind = ErrNotFound
	case status == http.StatusTooManyRequests:
		oe.kind, oe.retryAfter = ErrThrottled, retryAfter(resp)
	case status == http.StatusBadRequest:
		oe.kind = ErrInvalid
	default:
		oe.kind = ErrUnavailable
	}
}

// classifyAuth handles a token request Entra ID (or the managed identity
// endpoint) refused. 400/401 mean a wrong client, secret or assertion.
func classifyAuth(oe *opError, e *azidentity.AuthenticationFailedError) {
	if e.RawResponse == nil {
		// No answer at all (a timeout, a refused connection): nothing was
		// denied, and the next try may get through.
		oe.kind, oe.detail = ErrUnavailable, "authentication failed, no answer from Entra ID: "+truncate(strings.Join(strings.Fields(e.Error()), " "), 200)
		return
	}
	classifyResponse(oe, e.RawResponse.StatusCode, e.RawResponse)
	if oe.kind == ErrInvalid || oe.kind == ErrNotFound {
		oe.kind = ErrAccessDenied
	}
	oe.detail = "authentication failed: " + entraDetail(e.RawResponse) + redirectDetail(e.RawResponse)
}

// redirectDetail explains a redirect response that a caller's own transport
// handed back (ours refuse them before: see redirectError); "" for any other.
func redirectDetail(resp *http.Response) string {
	if resp == nil || resp.StatusCode < 300 || resp.StatusCode > 399 {
		return ""
	}
	return ": a redirect, not followed"
}

// entraDetail is Entra ID's error code and description (e.g. "invalid_client:
// AADSTS7000215: Invalid client secret provided..."); these never echo the secret.
func entraDetail(resp *http.Response) string {
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	detail := strconv.Itoa(resp.StatusCode)
	if b, err := runtime.Payload(resp); err == nil && json.Unmarshal(b, &body) == nil && body.Error != "" {
		detail += " " + truncate(firstLine(body.Error), 64)
		if body.Description != "" {
			detail += ": " + truncate(firstLine(body.Description), 200)
		}
	}
	return detail
}

// keyVaultDetail is the status, Key Vault's error code and its message (which
// names the missing permission), never a value.
func keyVaultDetail(e *azcore.ResponseError) string {
	detail := strconv.Itoa(e.StatusCode)
	if e.ErrorCode != "" {
		detail += " " + e.ErrorCode
	}
	var body struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if e.RawResponse != nil {
		if b, err := runtime.Payload(e.RawResponse); err == nil && json.Unmarshal(b, &body) == nil && body.Error.Message != "" {
			detail += ": " + truncate(firstLine(body.Error.Message), 200)
		}
	}
	return detail
}

// MaxRetryAfter caps the delay a 429 may ask for. A Retry-After of
// 999999999 would otherwise freeze an object for decades (and fail every
// publish of an uncached one until restart); Key Vault's own throttling
// windows are ten seconds. The cache adds jitter on top.
const MaxRetryAfter = 2 * time.Minute

// retryAfter reads the delay a 429 asks for, in the headers azcore honours,
// at most MaxRetryAfter.
func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	for _, h := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if ms, ok := parseCount(resp.Header.Get(h)); ok {
			return clampDelay(ms, time.Millisecond)
		}
	}
	v := resp.Header.Get("Retry-After")
	if s, ok := parseCount(v); ok {
		return clampDelay(s, time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), MaxRetryAfter)
	}
	return 0
}

// parseCount parses a positive decimal count; one too large for an int64
// counts as math.MaxInt64.
func parseCount(v string) (int64, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) && n > 0 {
		return n, true // ParseInt returns math.MaxInt64 for a positive overflow
	}
	return n, err == nil && n > 0
}

// clampDelay is n units, at most MaxRetryAfter, without overflowing.
func clampDelay(n int64, unit time.Duration) time.Duration {
	if n >= int64(MaxRetryAfter/unit) {
		return MaxRetryAfter
	}
	return time.Duration(n) * unit
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
