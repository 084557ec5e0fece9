package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"golang.org/x/sync/errgroup"

	"github.com/secretfs/secretfs/cache"
	"github.com/secretfs/secretfs/vault"
)

// Node is what every volume on a node shares: the cache, the credential
// cache, and the routing of cache change notifications to volumes.
type Node struct {
	cache      *cache.Cache
	creds      *vault.Credentials
	clientOpts vault.ClientOptions
	cancel     func() // stops the cache subscription

	mu sync.Mutex
	// routes maps a cache key to the volumes, and their file paths, that show
	// it. Guarded by mu.
	routes map[cache.Key]map[*Volume][]string
	// clients reuses one Key Vault client per vault and credential: a new
	// client's first request costs a challenge round trip. Guarded by mu.
	clients map[clientKey]*vault.Client
	// prefetching holds a token per object fetch of a publish in flight,
	// node-wide (MaxNodePrefetch).
	prefetching chan struct{}
}

type clientKey struct {
	vaultURL string
	cred     azcore.TokenCredential
}

// fetchTimeout bounds a read that must wait for Key Vault (a cold object).
const fetchTimeout = time.Minute

// MaxPrefetch bounds the objects one publish fetches at once: a class of
// up to this many objects (the 50 the benchmark publishes) is fetched in one
// round, and a huge class does not start thousands of requests at once
// (3,000 objects peaked at 212 MB).
const MaxPrefetch = 64

// MaxNodePrefetch bounds the objects all publishes of the node fetch at
// once, so many pods starting together (or Resume after a restart) stay
// within the memory limit too.
const MaxNodePrefetch = 2 * MaxPrefetch

// maxClients bounds the client map; the credential cache is bounded alike.
const maxClients = 1024

// CacheOptions are the node cache's settings: TTL, byte bound, Key Vault's
// Retry-After honoured, and a 403 treated as revoked access (the last good
// value is served for a grace of one TTL, then reads fail with EACCES).
func CacheOptions(ttl time.Duration, maxBytes int64) cache.Options {
	return cache.Options{
		TTL: ttl, MaxBytes: maxBytes, RetryAfter: vault.RetryAfter,
		Revoked: func(err error) bool { return errors.Is(err, vault.ErrAccessDenied) },
	}
}

// NewNode returns a Node reading through c. It subscribes to c's change
// notifications until Close.
func NewNode(c *cache.Cache, creds *vault.Credentials, opts vault.ClientOptions) *Node {
	n := &Node{cache: c, creds: creds, clientOpts: opts, routes: map[cache.Key]map[*Volume][]string{}, clients: map[clientKey]*vault.Client{},
		prefetching: make(chan struct{}, MaxNodePrefetch)}
	n.cancel = c.Subscribe(n.changed)
	return n
}

// Close stops routing change notifications.
func (n *Node) Close() { n.cancel() }

// Cache returns the node-wide cache, for metrics.
func (n *Node) Cache() *cache.Cache { return n.cache }

// changed tells every volume showing k which of its files changed. It runs
// outside n.mu when calling volumes, so a backend may read back at once.
func (n *Node) changed(k cache.Key, _ cache.Value) {
	n.mu.Lock()
	targets := make(map[*Volume][]string, len(n.routes[k]))
	for v, paths := range n.routes[k] {
		targets[v] = append([]string(nil), paths...)
	}
	n.mu.Unlock()
	for v, paths := range targets {
		v.notify(paths)
	}
}

func (n *Node) route(k cache.Key, v *Volume, path string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.routes[k] == nil {
		n.routes[k] = map[*Volume][]string{}
	}
	n.routes[k][v] = append(n.routes[k][v], path)
}

func (n *Node) unroute(v *Volume) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, vols := range n.routes {
		delete(vols, v)
		if len(vols) == 0 {
			delete(n.routes, k)
		}
	}
}

// Open authenticates the pod's credentials, then fetches every file of the
// volume in parallel through the cache. One failure fails the whole open.
func (n *Node) Open(ctx context.Context, p *vault.Params, pc vault.PodCredentials) (*Volume, error) {
	client, id, err := n.authenticate(ctx, p, pc)
	if err != nil {
		return nil, err
	}
	v := &Volume{node: n, params: p, id: id, client: client, byPath: map[string]vault.File{}, layout: p.Files()}
	for _, f := range v.layout {
		v.byPath[f.Path] = f
	}
	if err := v.prefetch(ctx); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// authenticate makes the pod's own credential produce a token for the vault
// before anything cached may be served to it. Credentials are cached per
// secret, and the token is asked with the Key Vault client's own options, so
// the client reuses it and no extra token request is made.
func (n *Node) authenticate(ctx context.Context, p *vault.Params, pc vault.PodCredentials) (*vault.Client, vault.Identity, error) {
	cred, id, err := n.creds.Get(p, pc)
	if err != nil {
		return nil, id, err
	}
	ctx, cancel := context.WithTimeout(ctx, vault.DefaultDeadline)
	defer cancel()
	if _, err := cred.GetToken(ctx, vault.TokenRequestOptions(p)); err != nil {
		return nil, id, fmt.Errorf("client %q of tenant %q could not get a token for vault %q: %w",
			id.ClientID, id.TenantID, p.VaultName, errors.Join(vault.ErrAccessDenied, err))
	}
	client, err := n.client(p.VaultURL(), cred)
	return client, id, err
}

func (n *Node) client(vaultURL string, cred azcore.TokenCredential) (*vault.Client, error) {
	k := clientKey{vaultURL, cred}
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.clients[k]; ok {
		return c, nil
	}
	c, err := vault.NewClient(vaultURL, cred, n.clientOpts)
	if err != nil {
		return nil, err
	}
	if len(n.clients) >= maxClients {
		clear(n.clients)
	}
	n.clients[k] = c
	return c, nil
}

// Volume is one mounted volume: its identity, client and files.
type Volume struct {
	node   *Node
	params *vault.Params
	id     vault.Identity
	byPath map[string]vault.File // all files the parameters name; fixed

	// layout is every file the parameters name, in parameter order,
	// history entries included whether or not their version exists yet.
	layout []vault.File

	mu sync.Mutex
	// client is replaced when kubelet republishes with fresher credentials.
	client *vault.Client // guarded by mu
	// onChange is the backend's invalidation hook. Guarded by mu.
	onChange func(path string)
	// releases undo the cache holds that keep this volume's keys refreshed
	// ahead: the kernel serves most reads, so the cache cannot see them.
	releases []func() // guarded by mu
}

// Params returns the volume's parameters.
func (v *Volume) Params() *vault.Params { return v.params }

// SameParams reports whether p equals the parameters v was opened with
// (a republish of an unchanged SecretProviderClass).
func (v *Volume) SameParams(p *vault.Params) bool { return reflect.DeepEqual(v.params, p) }

// Identity returns who the volume authenticates as.
func (v *Volume) Identity() vault.Identity { return v.id }

// Layout returns every file the volume may show, in parameter order: its
// Files, and the history entries whose versions do not exist yet (a history
// directory grows as versions appear, up to objectVersionHistory).
func (v *Volume) Layout() []vault.File { return v.layout }

// Files returns the files the volume shows now, in parameter order: history
// entries only for the versions the cached version list holds.
func (v *Volume) Files() []vault.File {
	var out []vault.File
	lens := map[string]int{} // history length by object file name
	for _, f := range v.layout {
		if f.History >= 0 {
			n, ok := lens[f.Object.FileName()]
			if !ok {
				n = v.historyLen(f.Object)
				lens[f.Object.FileName()] = n
			}
			if f.History >= n {
				continue
			}
		}
		out = append(out, f)
	}
	return out
}

// historyLen is the number of versions of o in the cached version list,
// without fetching (0 when none is cached).
func (v *Volume) historyLen(o vault.Object) int {
	val, ok := v.node.cache.Peek(v.historyKey(o))
	if !ok || len(val.Bytes) == 0 {
		return 0
	}
	return strings.Count(string(val.Bytes), "\n") + 1
}

// OnChange sets the function told about each changed file path.
func (v *Volume) OnChange(fn func(path string)) {
	v.mu.Lock()
	v.onChange = fn
	v.mu.Unlock()
}

// Reauthenticate checks new pod credentials (kubelet republishes with a fresh
// service-account token) and uses them for later fetches.
func (v *Volume) Reauthenticate(ctx context.Context, pc vault.PodCredentials) error {
	client, id, err := v.node.authenticate(ctx, v.params, pc)
	if err != nil {
		return err
	}
	if id != v.id {
		return fmt.Errorf("republish authenticated as client %q, the volume was mounted as %q: unpublish and publish again: %w",
			id.ClientID, v.id.ClientID, vault.ErrInvalid)
	}
	v.mu.Lock()
	v.client = client
	v.mu.Unlock()
	return nil
}

// Close stops change notifications and refresh-ahead for v's objects.
func (v *Volume) Close() {
	v.node.unroute(v)
	v.mu.Lock()
	releases := v.releases
	v.releases = nil
	v.mu.Unlock()
	for _, release := range releases {
		release()
	}
}

// Read returns the current bytes of the file at path. It implements
// fusefs.Source. The slice is the caller's (the cache hands out copies).
func (v *Volume) Read(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := readContext(ctx)
	defer cancel()
	f, err := v.file(path)
	if err != nil {
		return nil, err
	}
	val, err := v.get(ctx, f)
	if err != nil {
		return nil, readError(path, err)
	}
	return val.Bytes, nil
}

// Lend is Read lending the node cache's bytes instead of copying them
// (fusefs.Lender): every FUSE mount of one object serves the cache's one
// copy, counted against the cache's byte bound (--cache-bytes), where each
// mount used to keep its own copy outside it. The cache zeroes the bytes
// once released and no longer cached.
func (v *Volume) Lend(ctx context.Context, path string) ([]byte, func(), error) {
	ctx, cancel := readContext(ctx)
	defer cancel()
	f, err := v.file(path)
	if err != nil {
		return nil, nil, err
	}
	o, version, err := v.resolve(ctx, f)
	if err != nil {
		return nil, nil, readError(path, err)
	}
	l, err := v.node.cache.Lease(ctx, v.key(o, version, o.Variant()), v.fetcher(o, version))
	if err != nil {
		return nil, nil, readError(path, err)
	}
	return l.Bytes(), l.Release, nil
}

// readContext is the context of a read for a reader. A FUSE request's
// context ends when the reading process gets any signal (Go's preemption
// signals do, constantly). Cancelling the fetch then would fail the
// reader's open with EIO, while the kernel is still waiting for the
// answer: finish it, bounded by fetchTimeout.
func readContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
}

// file returns the file at path.
func (v *Volume) file(path string) (vault.File, error) {
	f, ok := v.byPath[path]
	if !ok {
		return f, fmt.Errorf("%s: %w", path, os.ErrNotExist)
	}
	return f, nil
}

// readError is what a reader of path is told about err.
func readError(path string, err error) error {
	if errors.Is(err, cache.ErrRevoked) {
		// Access was withdrawn and the grace has passed: readers get EACCES.
		return fmt.Errorf("%s: %w: %w", path, os.ErrPermission, err)
	}
	return err
}

// Versions returns the Key Vault version each file currently shows, by path,
// for status reporting.
func (v *Volume) Versions(ctx context.Context) map[string]string {
	files := v.Files()
	out := make(map[string]string, len(files))
	for _, f := range files {
		if val, err := v.get(ctx, f); err == nil {
			out[f.Path] = val.Version
		}
	}
	return out
}

func (v *Volume) get(ctx context.Context, f vault.File) (cache.Value, error) {
	o, version, err := v.resolve(ctx, f)
	if err != nil {
		return cache.Value{}, err
	}
	return v.node.cache.Get(ctx, v.key(o, version, o.Variant()), v.fetcher(o, version))
}

// resolve returns the object and version f shows: for a history entry, the
// version at its index (os.ErrNotExist while the object has fewer).
func (v *Volume) resolve(ctx context.Context, f vault.File) (vault.Object, string, error) {
	if f.History < 0 {
		return f.Object, f.Object.Version, nil
	}
	versions, err := v.versions(ctx, f.Object)
	if err != nil {
		return f.Object, "", err
	}
	if f.History >= len(versions) {
		return f.Object, "", fmt.Errorf("%s: %s %q has %d enabled versions: %w",
			f.Path, f.Object.Type, f.Object.Name, len(versions), os.ErrNotExist)
	}
	return f.Object, versions[f.History], nil
}

// fetcher fetches version of o from Key Vault for the cache.
func (v *Volume) fetcher(o vault.Object, version string) cache.Fetch {
	return func(ctx context.Context) (cache.Value, error) {
		c, err := v.currentClient().Fetch(ctx, o, version)
		return cache.Value{Bytes: c.Bytes, Version: c.Version}, err
	}
}

// versions returns the object's versions, newest enabled first; the list
// itself is cached like an object so history directories rotate too.
func (v *Volume) versions(ctx context.Context, o vault.Object) ([]string, error) {
	val, err := v.node.cache.Get(ctx, v.historyKey(o), func(ctx context.Context) (cache.Value, error) {
		vs, err := v.currentClient().Versions(ctx, o, o.VersionHistory)
		if err != nil {
			return cache.Value{}, err
		}
		list := strings.Join(vs, "\n")
		return cache.Value{Bytes: []byte(list), Version: list}, nil
	})
	if err != nil || len(val.Bytes) == 0 {
		return nil, err
	}
	return strings.Split(string(val.Bytes), "\n"), nil
}

func (v *Volume) historyKey(o vault.Object) cache.Key {
	return v.key(o, "", fmt.Sprintf("versions:%d", o.VersionHistory))
}

func (v *Volume) key(o vault.Object, version, variant string) cache.Key {
	return cache.Key{
		Tenant: v.id.TenantID, ClientID: v.id.ClientID, Vault: v.params.VaultURL(),
		Type: string(o.Type), Name: o.Name, Version: version, Variant: variant,
	}
}

func (v *Volume) currentClient() *vault.Client {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.client
}

// prefetch fetches every file in parallel and registers the cache keys whose
// changes concern each file: every history entry watches the version list,
// also those whose version does not exist yet, so they appear with it.
func (v *Volume) prefetch(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(MaxPrefetch)
	for _, f := range v.layout {
		g.Go(func() error {
			_, err := v.prefetchOne(gctx, f)
			if f.History >= 0 && errors.Is(err, os.ErrNotExist) {
				return nil // fewer versions than the history asks for
			}
			if err != nil {
				return fmt.Errorf("%s %q (file %q): %w", f.Object.Type, f.Object.Name, f.Path, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, f := range v.layout {
		if f.History >= 0 {
			v.watch(v.historyKey(f.Object), f.Path)
		} else if !f.Object.Pinned() {
			v.watch(v.key(f.Object, "", f.Object.Variant()), f.Path)
		}
	}
	return nil
}

// prefetchOne fetches f once a node-wide prefetch slot is free.
func (v *Volume) prefetchOne(ctx context.Context, f vault.File) (cache.Value, error) {
	select {
	case v.node.prefetching <- struct{}{}:
		defer func() { <-v.node.prefetching }()
	case <-ctx.Done():
		return cache.Value{}, ctx.Err()
	}
	return v.get(ctx, f)
}

// watch routes k's changes to path and keeps k refreshed ahead while the
// volume is open.
func (v *Volume) watch(k cache.Key, path string) {
	v.node.route(k, v, path)
	release := v.node.cache.Hold(k)
	v.mu.Lock()
	v.releases = append(v.releases, release)
	v.mu.Unlock()
}

func (v *Volume) notify(paths []string) {
	v.mu.Lock()
	fn := v.onChange
	v.mu.Unlock()
	if fn == nil {
		return
	}
	for _, p := range paths {
		fn(p)
	}
}
