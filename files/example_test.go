package files_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/secretfs/secretfs/files"
)

func ExampleWrite() {
	dir, err := os.MkdirTemp("", "volume")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	set := []files.File{{Path: "db-password", Mode: 0o644, Bytes: []byte("s3cr3t")}}
	if err := files.Write(dir, set); err != nil {
		log.Fatal(err)
	}
	// A rotation publishes the whole new set with one rename.
	set[0].Bytes = []byte("r0tated")
	if err := files.Write(dir, set); err != nil {
		log.Fatal(err)
	}
	link, _ := os.Readlink(filepath.Join(dir, "db-password"))
	b, _ := os.ReadFile(filepath.Join(dir, "db-password"))
	fmt.Println(link, string(b))
	// Output: ..data/db-password r0tated
}
