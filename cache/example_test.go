package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/secretfs/secretfs/cache"
)

func ExampleCache_Get() {
	c := cache.New(cache.Options{TTL: 2 * time.Minute})
	defer c.Close()

	k := cache.Key{Tenant: "tenant", ClientID: "client", Vault: "myvault", Type: "secret", Name: "db-password"}
	fetch := func(ctx context.Context) (cache.Value, error) {
		// In secretfs this calls Key Vault through package vault.
		return cache.Value{Bytes: []byte("s3cret"), Version: "0123abcd"}, nil
	}
	for range 3 { // one fetch, two hits
		v, err := c.Get(context.Background(), k, fetch)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(v.Version, len(v.Bytes))
	}
	st := c.Stats()
	fmt.Println("fetches:", st.Fetches, "hits:", st.Hits)
	// Output:
	// 0123abcd 6
	// 0123abcd 6
	// 0123abcd 6
	// fetches: 1 hits: 2
}

func ExampleCache_Subscribe() {
	c := cache.New(cache.Options{})
	defer c.Close()

	changed := make(chan string, 1)
	cancel := c.Subscribe(func(k cache.Key, v cache.Value) {
		changed <- k.Name + " is now " + v.Version
	})
	defer cancel()

	k := cache.Key{Vault: "myvault", Type: "secret", Name: "tls"}
	version := "v1"
	fetch := func(context.Context) (cache.Value, error) {
		return cache.Value{Bytes: []byte("pem " + version), Version: version}, nil
	}
	_, _ = c.Get(context.Background(), k, fetch)
	version = "v2" // rotated in Key Vault
	_ = c.Refresh(context.Background(), k)
	fmt.Println(<-changed)
	// Output: tls is now v2
}
