package vault

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// ClientOptions configures a Client.
type ClientOptions struct {
	// Transport sends the requests; nil = a NewTransport client without extra
	// CAs. It must not follow redirects: an *http.Client is used with its
	// redirects refused, and NewTransport's client refuses them itself. Tests
	// pass the emulator's *http.Client (which trusts its CA).
	Transport policy.Transporter
	// TryTimeout bounds one attempt of a request, the token request and the
	// whole response body included; 0 = DefaultTryTimeout. A timed-out
	// attempt is retried like a 503.
	TryTimeout time.Duration
	// Deadline bounds one Fetch or Versions call, retries and the wait for a
	// new client's first challenge included; 0 = DefaultDeadline.
	Deadline time.Duration
}

// The time bounds of a Client. Key Vault answers a GET in well under a
// second; these bound what a hung or trickling endpoint can cost.
const (
	DefaultTryTimeout = 15 * time.Second
	DefaultDeadline   = time.Minute
	// maxRetries, retryDelay and maxRetryDelay are azcore's retry policy for
	// 408 and 5xx (and timed-out attempts): 4 tries, jittered exponential
	// delays from 1 s, and a Retry-After above maxRetryDelay is not waited
	// for at all but returned.
	maxRetries    = 3
	retryDelay    = time.Second
	maxRetryDelay = 10 * time.Second
)

// The largest response body a Client reads per object type; a larger one is
// refused with an ErrInvalid error naming the object, before more than the
// cap is buffered. Key Vault stores at most 25 KiB per secret value (a
// certificate's PFX included, base64 in JSON adds a third); keys are JWKs of a
// few KiB, and certificate responses carry one DER certificate and its policy.
const (
	MaxSecretResponseBytes      = 256 << 10
	MaxKeyResponseBytes         = 1 << 20
	MaxCertificateResponseBytes = 1 << 20
)

// Client fetches objects from one vault with one credential. It is safe for
// concurrent use and holds no goroutines.
type Client struct {
	vault    string // the vault's name, for errors
	deadline time.Duration
	secrets  *azsecrets.Client
	keys     *azkeys.Client
	certs    *azcertificates.Client
	// The first call of each SDK client learns the vault's challenge; until
	// one has, calls on that client go one at a time (see challengeGate).
	secretsGate, keysGate, certsGate *challengeGate
}

// retryStatusCodes are azcore's defaults without 429: a throttled request
// returns at once with its Retry-After (see RetryAfter), and the cache backs off
// and keeps serving, instead of this call sleeping through three retries.
var retryStatusCodes = []int{http.StatusRequestTimeout, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// NewClient returns a Client for the vault at vaultURL (https://<vault>.<suffix>/).
// Challenge-resource verification stays on: a token is only ever sent to a host
// under the resource the vault's 401 challenge names.
func NewClient(vaultURL string, cred azcore.TokenCredential, opts ClientOptions) (*Client, error) {
	u, err := url.Parse(vaultURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return nil, invalidf("vault URL %q: must be https://<vault>.<dns suffix>/", vaultURL)
	}
	tr, err := clientTransport(opts.Transport)
	if err != nil {
		return nil, err
	}
	c := &Client{vault: strings.SplitN(u.Hostname(), ".", 2)[0], deadline: cmp.Or(opts.Deadline, DefaultDeadline),
		secretsGate: newChallengeGate(), keysGate: newChallengeGate(), certsGate: newChallengeGate()}
	co := func(max int64, what string, gate *challengeGate) azcore.ClientOptions {
		return azcore.ClientOptions{
			Transport: cappedTransporter{next: tr, max: max, what: what, gate: gate},
			Retry: policy.RetryOptions{StatusCodes: retryStatusCodes, MaxRetries: maxRetries,
				TryTimeout: cmp.Or(opts.TryTimeout, DefaultTryTimeout), RetryDelay: retryDelay, MaxRetryDelay: maxRetryDelay},
		}
	}
	if c.secrets, err = azsecrets.NewClient(vaultURL, cred, &azsecrets.ClientOptions{ClientOptions: co(MaxSecretResponseBytes, "a secret", c.secretsGate)}); err != nil {
		return nil, fmt.Errorf("secrets client for %q: %w", vaultURL, err)
	}
	if c.keys, err = azkeys.NewClient(vaultURL, cred, &azkeys.ClientOptions{ClientOptions: co(MaxKeyResponseBytes, "a key", c.keysGate)}); err != nil {
		return nil, fmt.Errorf("keys client for %q: %w", vaultURL, err)
	}
	if c.certs, err = azcertificates.NewClient(vaultURL, cred, &azcertificates.ClientOptions{ClientOptions: co(MaxCertificateResponseBytes, "a certificate", c.certsGate)}); err != nil {
		return nil, fmt.Errorf("certificates client for %q: %w", vaultURL, err)
	}
	return c, nil
}

// clientTransport is the transport the SDK clients use: t with redirects
// refused if it is an *http.Client, or a NewTransport client for nil.
func clientTransport(t policy.Transporter) (policy.Transporter, error) {
	switch t := t.(type) {
	case nil:
		return NewTransport("", nil)
	case *http.Client:
		return noRedirects(t), nil
	}
	return t, nil
}

// cappedTransporter refuses response bodies over max bytes (see capBody).
// It also opens the client's challenge gate when a request goes out with a
// token.
type cappedTransporter struct {
	next policy.Transporter
	max  int64
	what string
	gate *challengeGate
}

func (c cappedTransporter) Do(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		c.gate.open()
	}
	resp, err := c.next.Do(req)
	if err != nil {
		return resp, err
	}
	return capBody(resp, c.max, c.what)
}

// challengeGate makes a new SDK client's calls wait for its first one. The
// Key Vault clients learn the vault's bearer challenge from a token-less first
// request; calls started together before that each send one, so a cold
// 50-object publish cost 50 challenges. With the gate the first call goes
// alone until the client sends a request carrying a token (the challenge is
// learned: the transport opens the gate), and from then on every call goes at
// once. The gate does not wait for that first call to end: a hung first call
// must not hold back the others. A call that ends before a token went out
// (no answer, a refused challenge) lets the next one try.
type challengeGate struct {
	once   sync.Once
	opened chan struct{} // closed once a request went out with a token
	turn   chan struct{} // holds a token while a call goes alone
}

func newChallengeGate() *challengeGate {
	return &challengeGate{opened: make(chan struct{}), turn: make(chan struct{}, 1)}
}

// open lets every call through from now on.
func (g *challengeGate) open() { g.once.Do(func() { close(g.opened) }) }

func (g *challengeGate) isOpen() bool {
	select {
	case <-g.opened:
		return true
	default:
		return false
	}
}

// through runs f, alone unless the gate is open or opens meanwhile.
func through[T any](ctx context.Context, g *challengeGate, f func() (T, error)) (T, error) {
	if g.isOpen() {
		return f()
	}
	select {
	case g.turn <- struct{}{}:
		defer func() { <-g.turn }()
	case <-g.opened:
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("waiting for the first request to learn the vault's challenge: %w", ctx.Err())
	}
	return f()
}

// badResponse is a 200 from the vault that is not a usable answer: no value,
// no version id, or another version than the one asked for. Only a broken
// vault or proxy sends one, and the next try may fare better, so it is
// ErrUnavailable (the cache keeps serving the last good value).
type badResponse struct{ msg string }

func (e badResponse) Error() string { return e.msg }

// checkVersion refuses a response without a version id, or, for a pinned
// request, with another version than asked: a pinned version is cached for
// good, so it must be the one named.
func checkVersion(asked, got string) error {
	switch {
	case got == "":
		return badResponse{"the response has no version in its id"}
	case asked != "" && !strings.EqualFold(asked, got):
		return badResponse{fmt.Sprintf("the response is of version %s, not the version %s asked for", got, asked)}
	}
	return nil
}

// Content is the bytes of a file and the Key Vault version they came from.
type Content struct {
	Bytes   []byte
	Version string
}

// Fetch gets object o at version ("" = latest) and returns its file bytes,
// exactly as the Azure provider writes them (see secretBytes, publicKeyPEM,
// certificatePEM). Errors wrap one of the Err* classes and name vault, object
// and version; they never contain the object's value.
func (c *Client) Fetch(ctx context.Context, o Object, version string) (Content, error) {
	ctx, cancel := context.WithTimeout(ctx, c.deadline)
	defer cancel()
	var ct Content
	var err error
	switch o.Type {
	case TypeSecret:
		ct, err = through(ctx, c.secretsGate, func() (Content, error) { return c.fetchSecret(ctx, o, version) })
	case TypeKey:
		ct, err = through(ctx, c.keysGate, func() (Content, error) { return c.fetchKey(ctx, o, version) })
	case TypeCert:
		ct, err = through(ctx, c.certsGate, func() (Content, error) { return c.fetchCert(ctx, o, version) })
	default:
		err = invalidf("objectType %q: must be one of secret, key, cert", o.Type)
	}
	if err == nil {
		err = checkVersion(version, ct.Version)
	}
	if err != nil {
		clear(ct.Bytes)
		op := fmt.Sprintf("key vault %q: get %s %q (version %s)", c.vault, o.Type, o.Name, cmp.Or(version, "latest"))
		return Content{}, classify(op, c.deadlineError(ctx, err))
	}
	return ct, nil
}

// deadlineError says so when err is the end of this call's own deadline.
func (c *Client) deadlineError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s, the deadline of one Key Vault call: %w", c.deadline, err)
	}
	return err
}

func (c *Client) fetchSecret(ctx context.Context, o Object, version string) (Content, error) {
	resp, err := c.secrets.GetSecret(ctx, o.Name, version, nil)
	if err != nil {
		return Content{}, err
	}
	// Key Vault stores empty secrets, so "" is a value; a missing one is not.
	if resp.Value == nil {
		return Content{}, badResponse{"the response has no value"}
	}
	certBacked := resp.KID != nil && *resp.KID != ""
	b, err := secretBytes(o, *resp.Value, deref(resp.ContentType), certBacked)
	if err != nil {
		return Content{}, contentError{err}
	}
	return Content{Bytes: b, Version: idVersion(resp.ID)}, nil
}

func (c *Client) fetchKey(ctx context.Context, o Object, version string) (Content, error) {
	resp, err := c.keys.GetKey(ctx, o.Name, version, nil)
	if err != nil {
		return Content{}, err
	}
	if resp.Key == nil {
		return Content{}, badResponse{"the response has no key"}
	}
	b, err := publicKeyPEM(resp.Key)
	if err != nil {
		return Content{}, contentError{err}
	}
	var v string
	if resp.Key.KID != nil {
		v = resp.Key.KID.Version()
	}
	return Content{Bytes: b, Version: v}, nil
}

func (c *Client) fetchCert(ctx context.Context, o Object, version string) (Content, error) {
	resp, err := c.certs.GetCertificate(ctx, o.Name, version, nil)
	if err != nil {
		return Content{}, err
	}
	if len(resp.CER) == 0 {
		return Content{}, badResponse{"the response has no certificate (cer)"}
	}
	b, err := certificatePEM(resp.CER)
	if err != nil {
		return Content{}, contentError{err}
	}
	var v string
	if resp.ID != nil {
		v = resp.ID.Version()
	}
	return Content{Bytes: b, Version: v}, nil
}

// idVersion is the version of a secret ID, "" if absent.
func idVersion(id *azsecrets.ID) string {
	if id == nil {
		return ""
	}
	return id.Version()
}

// versionInfo is one listed version.
type versionInfo struct {
	version string
	created time.Time
	enabled bool
}

// Versions lists o's enabled versions, newest first, at most n (exactly n when
// that many exist). Newest is by creation time; for versions created in the
// same instant the one listed later counts as newer.
func (c *Client) Versions(ctx context.Context, o Object, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.deadline)
	defer cancel()
	var all []versionInfo
	var err error
	switch o.Type {
	case TypeSecret:
		all, err = through(ctx, c.secretsGate, func() ([]versionInfo, error) { return c.secretVersions(ctx, o.Name) })
	case TypeKey:
		all, err = through(ctx, c.keysGate, func() ([]versionInfo, error) { return c.keyVersions(ctx, o.Name) })
	case TypeCert:
		all, err = through(ctx, c.certsGate, func() ([]versionInfo, error) { return c.certVersions(ctx, o.Name) })
	default:
		err = invalidf("objectType %q: must be one of secret, key, cert", o.Type)
	}
	if err != nil {
		return nil, classify(fmt.Sprintf("key vault %q: list versions of %s %q", c.vault, o.Type, o.Name), c.deadlineError(ctx, err))
	}
	return newestEnabled(all, n), nil
}

// newestEnabled sorts newest first and keeps the first n enabled versions.
func newestEnabled(all []versionInfo, n int) []string {
	slices.Reverse(all) // a later listing position wins ties in the stable sort
	slices.SortStableFunc(all, func(a, b versionInfo) int { return b.created.Compare(a.created) })
	out := make([]string, 0, min(n, len(all)))
	for _, v := range all {
		if v.enabled && v.version != "" && len(out) < n {
			out = append(out, v.version)
		}
	}
	return out
}

func (c *Client) secretVersions(ctx context.Context, name string) ([]versionInfo, error) {
	var out []versionInfo
	for pager := c.secrets.NewListSecretPropertiesVersionsPager(name, nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.Value {
			if p != nil && p.Attributes != nil {
				out = append(out, versionInfo{idVersion(p.ID), deref(p.Attributes.Created), deref(p.Attributes.Enabled)})
			}
		}
	}
	return out, nil
}

func (c *Client) keyVersions(ctx context.Context, name string) ([]versionInfo, error) {
	var out []versionInfo
	for pager := c.keys.NewListKeyPropertiesVersionsPager(name, nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.Value {
			if p != nil && p.Attributes != nil && p.KID != nil {
				out = append(out, versionInfo{p.KID.Version(), deref(p.Attributes.Created), deref(p.Attributes.Enabled)})
			}
		}
	}
	return out, nil
}

func (c *Client) certVersions(ctx context.Context, name string) ([]versionInfo, error) {
	var out []versionInfo
	for pager := c.certs.NewListCertificatePropertiesVersionsPager(name, nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.Value {
			if p != nil && p.Attributes != nil && p.ID != nil {
				out = append(out, versionInfo{p.ID.Version(), deref(p.Attributes.Created), deref(p.Attributes.Enabled)})
			}
		}
	}
	return out, nil
}
