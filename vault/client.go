package vault

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// ClientOptions configures a Client.
type ClientOptions struct {
	// Transport sends the requests; nil = azcore's default. Tests pass the
	// emulator's *http.Client (which trusts its CA).
	Transport policy.Transporter
}

// Client fetches objects from one vault with one credential. It is safe for
// concurrent use and holds no goroutines.
type Client struct {
	vault   string // the vault's name, for errors
	secrets *azsecrets.Client
	keys    *azkeys.Client
	certs   *azcertificates.Client
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
	co := azcore.ClientOptions{Transport: opts.Transport, Retry: policy.RetryOptions{StatusCodes: retryStatusCodes}}
	c := &Client{vault: strings.SplitN(u.Hostname(), ".", 2)[0]}
	if c.secrets, err = azsecrets.NewClient(vaultURL, cred, &azsecrets.ClientOptions{ClientOptions: co}); err != nil {
		return nil, fmt.Errorf("secrets client for %q: %w", vaultURL, err)
	}
	if c.keys, err = azkeys.NewClient(vaultURL, cred, &azkeys.ClientOptions{ClientOptions: co}); err != nil {
		return nil, fmt.Errorf("keys client for %q: %w", vaultURL, err)
	}
	if c.certs, err = azcertificates.NewClient(vaultURL, cred, &azcertificates.ClientOptions{ClientOptions: co}); err != nil {
		return nil, fmt.Errorf("certificates client for %q: %w", vaultURL, err)
	}
	return c, nil
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
	var ct Content
	var err error
	switch o.Type {
	case TypeSecret:
		ct, err = c.fetchSecret(ctx, o, version)
	case TypeKey:
		ct, err = c.fetchKey(ctx, o, version)
	case TypeCert:
		ct, err = c.fetchCert(ctx, o, version)
	default:
		err = invalidf("objectType %q: must be one of secret, key, cert", o.Type)
	}
	if err != nil {
		op := fmt.Sprintf("key vault %q: get %s %q (version %s)", c.vault, o.Type, o.Name, cmp.Or(version, "latest"))
		return Content{}, classify(op, err)
	}
	return ct, nil
}

func (c *Client) fetchSecret(ctx context.Context, o Object, version string) (Content, error) {
	resp, err := c.secrets.GetSecret(ctx, o.Name, version, nil)
	if err != nil {
		return Content{}, err
	}
	certBacked := resp.KID != nil && *resp.KID != ""
	b, err := secretBytes(o, deref(resp.Value), deref(resp.ContentType), certBacked)
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
	b, err := publicKeyPEM(resp.Key)
	if err != nil {
		return Content{}, contentError{err}
	}
	var v string
	if resp.Key != nil && resp.Key.KID != nil {
		v = resp.Key.KID.Version()
	}
	return Content{Bytes: b, Version: v}, nil
}

func (c *Client) fetchCert(ctx context.Context, o Object, version string) (Content, error) {
	resp, err := c.certs.GetCertificate(ctx, o.Name, version, nil)
	if err != nil {
		return Content{}, err
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
	var all []versionInfo
	var err error
	switch o.Type {
	case TypeSecret:
		all, err = c.secretVersions(ctx, o.Name)
	case TypeKey:
		all, err = c.keyVersions(ctx, o.Name)
	case TypeCert:
		all, err = c.certVersions(ctx, o.Name)
	default:
		err = invalidf("objectType %q: must be one of secret, key, cert", o.Type)
	}
	if err != nil {
		return nil, classify(fmt.Sprintf("key vault %q: list versions of %s %q", c.vault, o.Type, o.Name), err)
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
