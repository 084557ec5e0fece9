package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// ErrNotFound is returned (wrapped) by Classes.Get for a class that does not exist.
var ErrNotFound = errors.New("secretproviderclass not found")

// liveGetTimeout bounds the one API call Get makes on a cache miss, so a
// slow API server fails a publish (kubelet retries) instead of hanging it.
const liveGetTimeout = 10 * time.Second

// Classes is a watch-fed cache of SecretProviderClasses in all namespaces.
// Get answers from the cache; it asks the API server only while the cache
// has not synced or when it misses, so a just-created class works at once.
//
// The zero value is not usable: build one with NewClasses, then Start it.
type Classes struct {
	client   rest.Interface
	informer cache.SharedIndexInformer

	mu     sync.Mutex
	cancel context.CancelFunc // guarded by mu; nil until Start
	done   chan struct{}      // guarded by mu; closed when the informer stops
}

// NewClasses returns a Classes reading through cfg; nothing is contacted
// until Start.
func NewClasses(cfg *rest.Config) (*Classes, error) {
	client, err := NewRESTClient(cfg)
	if err != nil {
		return nil, err
	}
	lw := cache.NewListWatchFromClient(client, ClassResource, metav1.NamespaceAll, fields.Everything())
	inf := cache.NewSharedIndexInformer(lw, &SecretProviderClass{}, 0, cache.Indexers{})
	return &Classes{client: client, informer: inf}, nil
}

// NewRESTClient returns a REST client for secrets-store.csi.x-k8s.io/v1
// that decodes into this package's types.
func NewRESTClient(cfg *rest.Config) (*rest.RESTClient, error) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		return nil, fmt.Errorf("register %s types: %w", GroupName, err)
	}
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &GroupVersion
	c.APIPath = "/apis"
	c.ContentType = runtime.ContentTypeJSON
	c.NegotiatedSerializer = serializer.NewCodecFactory(s).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	client, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("build %s client: %w", GroupName, err)
	}
	return client, nil
}

// Start runs the informer until ctx ends or Close is called. Starting
// twice is a no-op.
func (c *Classes) Start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		return
	}
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go func(done chan<- struct{}) {
		defer close(done)
		c.informer.RunWithContext(ctx)
	}(c.done)
}

// WaitForSync blocks until the cache holds a full list or ctx ends; it
// reports whether the cache synced. Get works without it.
func (c *Classes) WaitForSync(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced)
}

// Close stops the informer and waits for it.
func (c *Classes) Close() error {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}

// Get returns the class namespace/name; the result is the caller's to
// modify. A missing class gives an error wrapping ErrNotFound.
func (c *Classes) Get(namespace, name string) (*SecretProviderClass, error) {
	if spc, ok := c.cached(namespace, name); ok {
		return spc, nil
	}
	return c.getLive(namespace, name)
}

// cached answers from the informer's store, only once it has synced: before
// that a miss means nothing.
func (c *Classes) cached(namespace, name string) (*SecretProviderClass, bool) {
	if !c.informer.HasSynced() {
		return nil, false
	}
	obj, ok, err := c.informer.GetIndexer().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil, false
	}
	spc, ok := obj.(*SecretProviderClass)
	if !ok {
		return nil, false
	}
	return spc.DeepCopy(), true
}

func (c *Classes) getLive(namespace, name string) (*SecretProviderClass, error) {
	ctx, cancel := context.WithTimeout(context.Background(), liveGetTimeout)
	defer cancel()
	spc := &SecretProviderClass{}
	err := c.client.Get().Namespace(namespace).Resource(ClassResource).Name(name).Do(ctx).Into(spc)
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("failed to get secretproviderclass %s/%s: %w: %w", namespace, name, ErrNotFound, err)
	case err != nil:
		return nil, fmt.Errorf("failed to get secretproviderclass %s/%s: %w", namespace, name, err)
	}
	return spc, nil
}
