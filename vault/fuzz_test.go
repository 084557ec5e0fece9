package vault

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// assertSafePath fails if an accepted file path could leave the volume.
func assertSafePath(t *testing.T, p string) {
	t.Helper()
	if !filepath.IsLocal(p) || strings.Contains(p, "..") || strings.ContainsAny(p, "\\\x00") || strings.HasPrefix(p, "/") {
		t.Fatalf("accepted unsafe path %q", p)
	}
}

// FuzzParseObjects: any input either fails cleanly or yields objects whose
// files all stay inside the volume and have unique paths.
func FuzzParseObjects(f *testing.F) {
	for _, s := range []string{
		objectsYAML("objectName: a\nobjectType: secret"),
		objectsYAML("objectName: a\nobjectType: secret\nobjectAlias: b\nobjectVersionHistory: 3", "objectName: b\nobjectType: key"),
		objectsYAML("objectName: a\nobjectType: cert\nfilePermission: 0600\nobjectVersion: abc"),
		objectsYAML("objectName: a\nobjectType: secret\nobjectAlias: ../../etc/passwd"),
		"array: []",
		objectsYAML("objectName: db\nobjectType: secret", "objectName: DB\nobjectType: secret"),
		objectsYAML("objectName: a\nobjectType: secret\nobjectAlias: \"a\\u202eb\""),
		objectsYAML("objectName: a\nobjectType: secret\n\"k\\ny\": 1"),
		"array:\n  - objectName: a",
		"array:\n  - |\n    &a [*a]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		objs, err := ParseObjects(s)
		if err != nil {
			assertPrintable(t, err.Error())
			return
		}
		if len(objs) == 0 {
			t.Fatal("accepted an empty objects array")
		}
		p := &Params{Objects: objs}
		seen := map[string]bool{}
		for _, file := range p.Files() {
			assertSafePath(t, file.Path)
			if seen[foldKey(file.Path)] {
				t.Fatalf("two files at %q, ignoring case", file.Path)
			}
			seen[foldKey(file.Path)] = true
			if file.Object.FileMode&^0o777 != 0 {
				t.Fatalf("mode %o has bits beyond 0777", file.Object.FileMode)
			}
		}
	})
}

// FuzzFileName: checkFileName never panics and accepts only local, single-
// component names without "..", that Windows can write and that print as
// what they are.
func FuzzFileName(f *testing.F) {
	for _, s := range []string{"a", "tls.crt", "..", ".", "a/b", `a\b`, "/abs", "a\x00b", "C:", "C:\\x", "...", "a..b", "NUL", "con.txt", "",
		"a:b", "a\nb", "a\u202eb", "a.", "COM\u00b9", "ünï", "a\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkFileName(name) != nil {
			return
		}
		assertSafePath(t, name)
		if strings.Contains(name, "/") || len(name) > maxFileName || name == "." {
			t.Fatalf("accepted %q", name)
		}
		if !utf8.ValidString(name) || strings.ContainsAny(name, windowsReserved) || strings.HasSuffix(name, ".") || isWindowsDevice(name) {
			t.Fatalf("accepted %q, which Windows cannot write", name)
		}
		for _, r := range name {
			if r != ' ' && !unicode.IsGraphic(r) {
				t.Fatalf("accepted %q with the non-graphic character %U", name, r)
			}
		}
	})
}
