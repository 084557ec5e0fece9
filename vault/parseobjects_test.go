package vault

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// objectsYAML builds an `objects` value from entries, each a block of fields.
func objectsYAML(entries ...string) string {
	var b strings.Builder
	b.WriteString("array:\n")
	for _, e := range entries {
		b.WriteString("  - |\n")
		for _, line := range strings.Split(strings.TrimSpace(e), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
	return b.String()
}

func TestParseObjects(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		want    []Object
	}{
		{"secret defaults", []string{"objectName: db\nobjectType: secret"},
			[]Object{{Name: "db", Type: TypeSecret, Encoding: "utf-8", Format: "pem", FileMode: 0o644}}},
		{"key and cert defaults", []string{"objectName: k\nobjectType: key", "objectName: c\nobjectType: cert"},
			[]Object{{Name: "k", Type: TypeKey, Format: "pem", FileMode: 0o644}, {Name: "c", Type: TypeCert, Format: "pem", FileMode: 0o644}}},
		{"every field", []string{"objectName: tls\nobjectType: secret\nobjectVersion: 0123456789abcdef0123456789abcdef\nobjectAlias: tls.pfx\nobjectEncoding: base64\nobjectFormat: pfx\nfilePermission: \"0600\""},
			[]Object{{Name: "tls", Type: TypeSecret, Version: "0123456789abcdef0123456789abcdef", Alias: "tls.pfx", Encoding: "base64", Format: "pfx", FileMode: 0o600}}},
		{"unquoted octal permission keeps its digits", []string{"objectName: a\nobjectType: secret\nfilePermission: 0440"},
			[]Object{{Name: "a", Type: TypeSecret, Encoding: "utf-8", Format: "pem", FileMode: 0o440}}},
		{"permission without leading zero", []string{"objectName: a\nobjectType: secret\nfilePermission: 644"},
			[]Object{{Name: "a", Type: TypeSecret, Encoding: "utf-8", Format: "pem", FileMode: 0o644}}},
		{"upper case values as users write them", []string{"objectName: a\nobjectType: Secret\nobjectFormat: PFX\nobjectEncoding: Base64"},
			[]Object{{Name: "a", Type: TypeSecret, Encoding: "base64", Format: "pfx", FileMode: 0o644}}},
		{"whitespace trimmed", []string{"objectName: \" a \"\nobjectType: secret\nobjectAlias: \" b \""},
			[]Object{{Name: "a", Alias: "b", Type: TypeSecret, Encoding: "utf-8", Format: "pem", FileMode: 0o644}}},
		{"history", []string{"objectName: a\nobjectType: key\nobjectVersionHistory: 3"},
			[]Object{{Name: "a", Type: TypeKey, Format: "pem", FileMode: 0o644, VersionHistory: 3}}},
		{"history 1 is a single file, as upstream", []string{"objectName: a\nobjectType: key\nobjectVersionHistory: \"1\""},
			[]Object{{Name: "a", Type: TypeKey, Format: "pem", FileMode: 0o644}}},
		{"same name, different aliases", []string{"objectName: a\nobjectType: secret", "objectName: a\nobjectType: secret\nobjectAlias: a-hex\nobjectEncoding: hex"},
			[]Object{{Name: "a", Type: TypeSecret, Encoding: "utf-8", Format: "pem", FileMode: 0o644}, {Name: "a", Alias: "a-hex", Type: TypeSecret, Encoding: "hex", Format: "pem", FileMode: 0o644}}},
		{"empty array", nil, []Object{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseObjects(objectsYAML(tt.entries...))
			if err != nil {
				t.Fatalf("ParseObjects: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseObjects (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseObjectsRefuses(t *testing.T) {
	tests := []struct {
		name    string
		objects string
		want    []string // substrings the error must contain
	}{
		{"empty", "", []string{"objects: empty"}},
		{"not an array", "objectName: a", []string{"objects:", "array"}},
		{"entry is a map not a string", "array:\n  - objectName: a\n    objectType: secret\n", []string{"objects:"}},
		{"misspelled key", objectsYAML("objectName: a\nobjectType: secret\nobjectAlais: b"), []string{"objects[0]", "objectAlais", "known fields"}},
		{"duplicate key", objectsYAML("objectName: a\nobjectName: b\nobjectType: secret"), []string{"objects[0]", "objectName"}},
		{"missing name", objectsYAML("objectType: secret"), []string{"objects[0]", "objectName"}},
		{"bad name", objectsYAML("objectName: a_b\nobjectType: secret"), []string{"objectName \"a_b\"", "0-9, a-z, A-Z and -"}},
		{"missing type", objectsYAML("objectName: a"), []string{"objects[0]", "objectType: missing", "secret, key, cert"}},
		{"unknown type", objectsYAML("objectName: a\nobjectType: certificate"), []string{"objectType \"certificate\"", "secret, key, cert"}},
		{"encoding on key", objectsYAML("objectName: a\nobjectType: key\nobjectEncoding: hex"), []string{"objectEncoding \"hex\"", "only allowed with objectType secret"}},
		{"unknown encoding", objectsYAML("objectName: a\nobjectType: secret\nobjectEncoding: latin1"), []string{"objectEncoding \"latin1\"", "utf-8, hex, base64"}},
		{"unknown format", objectsYAML("objectName: a\nobjectType: secret\nobjectFormat: der"), []string{"objectFormat \"der\"", "pem or pfx"}},
		{"pfx on cert", objectsYAML("objectName: a\nobjectType: cert\nobjectFormat: pfx"), []string{"objectFormat \"pfx\"", "only allowed with objectType secret"}},
		{"permission abc", objectsYAML("objectName: a\nobjectType: secret\nfilePermission: abc"), []string{"filePermission \"abc\"", "octal"}},
		{"permission 999", objectsYAML("objectName: a\nobjectType: secret\nfilePermission: \"999\""), []string{"filePermission \"999\""}},
		{"permission setuid", objectsYAML("objectName: a\nobjectType: secret\nfilePermission: \"01777\""), []string{"filePermission \"01777\""}},
		{"permission 0800", objectsYAML("objectName: a\nobjectType: secret\nfilePermission: \"0800\""), []string{"filePermission \"0800\""}},
		{"alias absolute", objectsYAML("objectName: a\nobjectType: secret\nobjectAlias: /etc/passwd"), []string{"objectAlias", "path separator"}},
		{"alias dotdot", objectsYAML("objectName: a\nobjectType: secret\nobjectAlias: .."), []string{"objectAlias", "\"..\""}},
		{"alias with dotdot inside", objectsYAML("objectName: a\nobjectType: secret\nobjectAlias: a..b"), []string{"objectAlias", "\"..\""}},
		{"alias dot", objectsYAML("objectName: a\nobjectType: secret\nobjectAlias: ."), []string{"objectAlias", "volume directory"}},
		{"alias subdir", objectsYAML("objectName: a\nobjectType: secret\nobjectAlias: dir/file"), []string{"objectAlias", "path separator"}},
		{"alias backslash", objectsYAML("objectName: a\nobjectType: secret\nobjectAlias: 'dir\\file'"), []string{"objectAlias", "path separator"}},
		{"alias NUL", objectsYAML("objectName: a\nobjectType: secret\nobjectAlias: \"a\\0b\""), []string{"objectAlias", "NUL"}},
		{"duplicate names", objectsYAML("objectName: a\nobjectType: secret", "objectName: a\nobjectType: key"), []string{"objects[0] and objects[1]", "\"a\"", "objectAlias"}},
		{"alias collides with name", objectsYAML("objectName: a\nobjectType: secret", "objectName: b\nobjectType: secret\nobjectAlias: a"), []string{"objects[0] and objects[1]"}},
		{"alias collides with history dir", objectsYAML("objectName: a\nobjectType: secret\nobjectVersionHistory: 2", "objectName: b\nobjectType: secret\nobjectAlias: a"), []string{"objects[0] and objects[1]", "\"a\""}},
		{"history negative", objectsYAML("objectName: a\nobjectType: secret\nobjectVersionHistory: -1"), []string{"objectVersionHistory \"-1\"", "0 to 200"}},
		{"history too large", objectsYAML("objectName: a\nobjectType: secret\nobjectVersionHistory: 201"), []string{"objectVersionHistory \"201\""}},
		{"history not a number", objectsYAML("objectName: a\nobjectType: secret\nobjectVersionHistory: 1.5"), []string{"objectVersionHistory \"1.5\""}},
		{"history with version", objectsYAML("objectName: a\nobjectType: secret\nobjectVersion: abc\nobjectVersionHistory: 2"), []string{"objectVersionHistory 2 with objectVersion \"abc\""}},
		{"version with slash", objectsYAML("objectName: a\nobjectType: secret\nobjectVersion: ../x"), []string{"objectVersion \"../x\""}},
		{"second entry named in error", objectsYAML("objectName: a\nobjectType: secret", "objectName: b\nobjectType: blob"), []string{"objects[1]", "objectName \"b\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseObjects(tt.objects)
			if err == nil {
				t.Fatalf("ParseObjects = %+v, want an error", got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q is not ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestObjectMethods(t *testing.T) {
	type got struct {
		FileName, Variant string
		Pinned            bool
	}
	tests := []struct {
		name string
		o    Object
		want got
	}{
		{"plain secret", Object{Name: "a", Type: TypeSecret, Encoding: "utf-8", Format: "pem"}, got{"a", "secret/utf-8/pem", false}},
		{"aliased pinned pfx", Object{Name: "a", Alias: "b", Version: "v1", Type: TypeSecret, Encoding: "base64", Format: "pfx"}, got{"b", "secret/base64/pfx", true}},
		{"key", Object{Name: "k", Type: TypeKey, Format: "pem", FileMode: 0o600}, got{"k", "key", false}},
		{"cert", Object{Name: "c", Type: TypeCert, Format: "pem"}, got{"c", "cert", false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := got{tt.o.FileName(), tt.o.Variant(), tt.o.Pinned()}
			if diff := cmp.Diff(tt.want, g); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckFileName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"tls.crt", true}, {"my_secret.json", true}, {".hidden", true}, {"a.b.c", true}, {strings.Repeat("x", 255), true},
		{"", false}, {".", false}, {"..", false}, {"a..", false}, {"../a", false}, {"a/b", false}, {"/a", false},
		{`a\b`, false}, {"a\x00", false}, {strings.Repeat("x", 256), false},
	}
	for _, tt := range tests {
		err := checkFileName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("checkFileName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
