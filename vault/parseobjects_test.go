package vault

import (
	"errors"
	"strings"
	"testing"
	"unicode"

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
		{"non-ASCII alias", []string{"objectName: a\nobjectType: secret\nobjectAlias: pässwort-ключ.txt"},
			[]Object{{Name: "a", Alias: "pässwort-ключ.txt", Type: TypeSecret, Encoding: "utf-8", Format: "pem", FileMode: 0o644}}},
		{"reserved word inside a name", []string{"objectName: console\nobjectType: secret\nobjectAlias: nul-device.conf"},
			[]Object{{Name: "console", Alias: "nul-device.conf", Type: TypeSecret, Encoding: "utf-8", Format: "pem", FileMode: 0o644}}},
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
		{"empty array", "array: []", []string{"objects:", "no objects", "at least one"}},
		{"array without entries", objectsYAML(), []string{"objects:", "no objects"}},
		{"no array key", "{}", []string{"objects:", "no objects"}},
		{"alias newline", aliasYAML(`"a\nb"`), []string{"objects[1]", "objectAlias", `"a\nb"`, "control"}},
		{"alias ESC", aliasYAML(`"a\eb"`), []string{"objects[1]", "objectAlias", "control"}},
		{"alias DEL", aliasYAML(`"a\x7fb"`), []string{"objects[1]", "objectAlias", "control"}},
		{"alias C1 control", aliasYAML(`"a\x85b"`), []string{"objects[1]", "objectAlias"}},
		{"alias right-to-left override", aliasYAML(`"invoice\u202Efdp.sh"`), []string{"objects[1]", "objectAlias", `U+202E`}},
		{"alias left-to-right isolate", aliasYAML(`"a\u2066b"`), []string{"objects[1]", "objectAlias", `U+2066`}},
		{"alias zero-width space", aliasYAML(`"a\u200Bb"`), []string{"objects[1]", "objectAlias", `U+200B`}},
		{"alias byte order mark", aliasYAML(`"\uFEFFa"`), []string{"objects[1]", "objectAlias", `U+FEFF`}},
		{"alias line separator", aliasYAML(`"a\u2028b"`), []string{"objects[1]", "objectAlias", `U+2028`}},
		{"alias colon", aliasYAML("a:b"), []string{"objects[1]", "objectAlias", `"a:b"`, "Windows"}},
		{"alias less than", aliasYAML("'a<b'"), []string{"objects[1]", "objectAlias", `'<'`}},
		{"alias greater than", aliasYAML("'a>b'"), []string{"objects[1]", "objectAlias", `'>'`}},
		{"alias quote", aliasYAML(`'a"b'`), []string{"objects[1]", "objectAlias"}},
		{"alias pipe", aliasYAML("'a|b'"), []string{"objects[1]", "objectAlias", `'|'`}},
		{"alias question mark", aliasYAML("'a?b'"), []string{"objects[1]", "objectAlias", `'?'`}},
		{"alias star", aliasYAML("'a*b'"), []string{"objects[1]", "objectAlias", `'*'`}},
		{"alias CON", aliasYAML("CON"), []string{"objects[1]", "objectAlias", `"CON"`, "reserved"}},
		{"alias nul with extension", aliasYAML("nul.txt"), []string{"objects[1]", "objectAlias", "reserved"}},
		{"alias com1", aliasYAML("com1"), []string{"objects[1]", "objectAlias", "reserved"}},
		{"alias LPT9 with extension", aliasYAML("LPT9.log"), []string{"objects[1]", "objectAlias", "reserved"}},
		{"alias superscript COM", aliasYAML("COM\u00b9"), []string{"objects[1]", "objectAlias", "reserved"}},
		{"alias CONIN$", aliasYAML("conin$"), []string{"objects[1]", "objectAlias", "reserved"}},
		{"alias trailing dot", aliasYAML("secret."), []string{"objects[1]", "objectAlias", "end with"}},
		{"object name reserved on Windows", objectsYAML("objectName: a\nobjectType: secret", "objectName: aux\nobjectType: secret"),
			[]string{"objects[1]", `objectName "aux"`, "reserved", "objectAlias"}},
		{"names differing in case", objectsYAML("objectName: db\nobjectType: secret", "objectName: DB\nobjectType: key"),
			[]string{"objects[0] and objects[1]", `"db"`, `"DB"`, "letter case", "objectAlias"}},
		{"aliases differing in case", objectsYAML("objectName: a\nobjectType: secret\nobjectAlias: tls.crt", "objectName: b\nobjectType: secret\nobjectAlias: TLS.CRT"),
			[]string{"objects[0] and objects[1]", "letter case"}},
		{"alias differs in case from history dir", objectsYAML("objectName: a\nobjectType: secret", "objectName: b\nobjectType: secret\nobjectVersionHistory: 2\nobjectAlias: hist", "objectName: c\nobjectType: secret\nobjectAlias: HIST"),
			[]string{"objects[1] and objects[2]", "letter case"}},
		{"Kelvin sign folds to k", objectsYAML("objectName: k\nobjectType: secret", "objectName: b\nobjectType: secret\nobjectAlias: \"\u212A\""),
			[]string{"objects[0] and objects[1]", "letter case"}},
		{"hostile key quoted on one line", objectsYAML("objectName: a\nobjectType: secret\n\"x\\u202e\\ny\": 1\nobjectAlais: b"),
			[]string{"objects[0]", `x\u202e\ny`, "objectAlais", "known fields"}},
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
			assertPrintable(t, err.Error())
		})
	}
}

// aliasYAML is an objects value whose second entry has the given objectAlias
// (a YAML scalar as written), so errors must name objects[1].
func aliasYAML(alias string) string {
	return objectsYAML("objectName: a\nobjectType: secret", "objectName: b\nobjectType: secret\nobjectAlias: "+alias)
}

// assertPrintable fails if an error message carries a raw control or format
// character: a newline would forge log lines, an RLO would reorder them.
func assertPrintable(t *testing.T, msg string) {
	t.Helper()
	for _, r := range msg {
		if r != ' ' && !unicode.IsPrint(r) {
			t.Errorf("error %q holds the raw character %U", msg, r)
		}
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
		{"ünïcödé", true}, {"console", true}, {"nul-x", true}, {"com10", true}, {"lpt", true}, {"a b", true}, {"-a", true},
		{"a\nb", false}, {"a\tb", false}, {"a\x1b[31m", false}, {"a\u202eb", false}, {"a\u200db", false}, {"a\xffb", false},
		{"a:b", false}, {"a<b", false}, {"a>b", false}, {`a"b`, false}, {"a|b", false}, {"a?b", false}, {"a*b", false},
		{"CON", false}, {"prn", false}, {"Aux.json", false}, {"NUL", false}, {"nul .txt", false}, {"COM0", false}, {"lpt5.x", false},
		{"CONOUT$", false}, {"a.", false}, {"a ", false},
	}
	for _, tt := range tests {
		err := checkFileName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("checkFileName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
