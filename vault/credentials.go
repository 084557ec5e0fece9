package vault

import (
	"container/list"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"strconv"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// DefaultCredentialsSize bounds a Credentials cache. Each entry is one
// azidentity credential with its token cache (a few KiB); workload identity
// tokens rotate hourly, so old entries must age out.
const DefaultCredentialsSize = 1024

// Credentials shares azidentity credentials between pods and republishes that
// present the same credential, so azidentity's token cache is reused instead of
// asking Entra ID for a token per mount. Entries are keyed by identity, cloud,
// mode and an HMAC of the client secret or token under a per-process random
// key: a wrong secret never finds a right one's credential, and the key never
// holds the secret itself. Least recently used entries are dropped beyond
// DefaultCredentialsSize. Safe for concurrent use; starts no goroutines.
type Credentials struct {
	opts   CredentialOptions
	macKey [32]byte

	mu      sync.Mutex               // guards entries and lru
	entries map[string]*list.Element // key → element of lru holding *credEntry
	lru     *list.List               // front = most recently used
	max     int
}

type credEntry struct {
	key  string
	cred azcore.TokenCredential
	id   Identity
}

// NewCredentials returns an empty cache whose credentials use opts.
func NewCredentials(opts CredentialOptions) *Credentials {
	c := &Credentials{opts: opts, entries: map[string]*list.Element{}, lru: list.New(), max: DefaultCredentialsSize}
	_, _ = rand.Read(c.macKey[:]) // crypto/rand.Read never fails on supported platforms
	return c
}

// Get returns the shared credential for what the pod presented, building it
// with NewCredential on first use.
func (c *Credentials) Get(p *Params, pc PodCredentials) (azcore.TokenCredential, Identity, error) {
	id, err := identityOf(p, pc)
	if err != nil {
		return nil, Identity{}, err
	}
	key := c.key(p, pc, id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.lru.MoveToFront(el)
		e := el.Value.(*credEntry)
		return e.cred, e.id, nil
	}
	cred, id, err := NewCredential(p, pc, c.opts)
	if err != nil {
		return nil, Identity{}, err
	}
	c.entries[key] = c.lru.PushFront(&credEntry{key: key, cred: cred, id: id})
	for c.lru.Len() > c.max {
		old := c.lru.Remove(c.lru.Back()).(*credEntry)
		delete(c.entries, old.key)
	}
	return cred, id, nil
}

// Len is the number of cached credentials.
func (c *Credentials) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// key names everything that selects a distinct credential. The mode is part
// of it because the same client ID may be reached several ways.
func (c *Credentials) key(p *Params, pc PodCredentials, id Identity) string {
	mode, proof := "sp", pc.ClientSecret
	switch {
	case p.UseVMManagedIdentity:
		mode, proof = "mi", ""
	case p.ClientID != "":
		mode, proof = "wi", pc.ServiceAccountToken
	}
	mac := hmac.New(sha256.New, c.macKey[:])
	mac.Write([]byte(proof))
	return strings.Join([]string{mode, id.TenantID, id.ClientID, p.Cloud.ActiveDirectoryEndpoint,
		strconv.FormatBool(p.Cloud.Custom()), string(mac.Sum(nil))}, "\x00")
}
