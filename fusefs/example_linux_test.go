//go:build linux

package fusefs_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/secretfs/secretfs/fusefs"
)

// staticSource serves fixed bytes; in secretfs the node-wide cache does.
type staticSource map[string][]byte

func (s staticSource) Read(ctx context.Context, path string) ([]byte, error) {
	if b, ok := s[path]; ok {
		return b, nil
	}
	return nil, os.ErrNotExist
}

// Mount a volume, rotate a secret, unmount.
func ExampleMount() {
	src := staticSource{"db-password": []byte("v1"), "tls-cert/0": []byte("cert")}
	m, err := fusefs.Mount("/mnt/secrets", []fusefs.File{
		{Path: "db-password", Mode: 0o644},
		{Path: "tls-cert/0", Mode: 0o640},
	}, src, fusefs.Options{Name: "pod-1234-secrets"})
	if err != nil {
		log.Fatal(err)
	}
	src["db-password"] = []byte("v2")
	m.Changed("db-password") // new opens read v2; watchers get IN_ATTRIB
	b, _ := os.ReadFile("/mnt/secrets/db-password")
	fmt.Println(string(b))
	if err := m.Unmount(); err != nil {
		log.Fatal(err)
	}
}
