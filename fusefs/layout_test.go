package fusefs

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlanLayout(t *testing.T) {
	tests := []struct {
		name    string
		files   []File
		want    []string // entry paths, directories with a trailing "/"
		wantErr bool
	}{
		{"flat and history", []File{{Path: "b"}, {Path: "a/1"}, {Path: "a/0"}}, []string{"/", "a/", "a/0", "a/1", "b"}, false},
		{"duplicate", []File{{Path: "a"}, {Path: "a"}}, nil, true},
		{"file is also a directory", []File{{Path: "a"}, {Path: "a/0"}}, nil, true},
		{"directory is also a file", []File{{Path: "a/0"}, {Path: "a"}}, nil, true},
		{"absolute", []File{{Path: "/etc/passwd"}}, nil, true},
		{"escapes", []File{{Path: "../x"}}, nil, true},
		{"not clean", []File{{Path: "a//b"}}, nil, true},
		{"empty", []File{{Path: ""}}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := planLayout(tc.files)
			if tc.wantErr {
				if !errors.Is(err, errLayout) {
					t.Fatalf("err = %v, want errLayout", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range l.entries {
				p := e.path
				if e.dir {
					p += "/"
				}
				got = append(got, p)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIno(t *testing.T) {
	got := map[string]uint64{"": Ino(""), ".": Ino("."), "db-password": Ino("db-password"), "again": Ino("db-password")}
	if got[""] != RootIno || got["."] != RootIno {
		t.Errorf("root inos = %d, %d, want %d", got[""], got["."], RootIno)
	}
	if got["db-password"] != got["again"] || got["db-password"] <= RootIno {
		t.Errorf("Ino(db-password) = %d then %d: want equal and > 1", got["db-password"], got["again"])
	}
	if Ino("tls-cert/0") == Ino("tls-cert/1") {
		t.Error("history entries share an inode number")
	}
}
