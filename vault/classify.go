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
	var authErr *azidentity.AuthenticationFailedError
	var respErr *azcore.ResponseError
	switch {
	case errors.As(err, &ce):
		oe.kind, oe.detail = ErrInvalid, ce.Error()
	case errors.Is(err, ErrInvalid):
		oe.kind, oe.detail = ErrInvalid, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")
	case errors.As(err, &authErr):
		classifyAuth(oe, authErr)
	case errors.As(err, &respErr):
		classifyResponse(oe, respErr.StatusCode, respErr.RawResponse)
		oe.detail = keyVaultDetail(respErr)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		oe.kind, oe.detail = ErrUnavailable, err.Error()
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
		oe.kind, oe.detail = ErrAccessDenied, "authentication failed: "+firstLine(e.Error())
		return
	}
	classifyResponse(oe, e.RawResponse.StatusCode, e.RawResponse)
	if oe.kind == ErrInvalid || oe.kind == ErrNotFound {
		oe.kind = ErrAccessDenied
	}
	oe.detail = "authentication failed: " + entraDetail(e.RawResponse)
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

// retryAfter reads the delay a 429 asks for, in the headers azcore honours.
func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	for _, h := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if ms, err := strconv.Atoi(resp.Header.Get(h)); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	v := resp.Header.Get("Retry-After")
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
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
