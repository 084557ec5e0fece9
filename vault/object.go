package vault

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// ObjectType is the kind of Key Vault object an entry of `objects` names.
type ObjectType string

// The object types of the `objectType` field.
const (
	TypeSecret ObjectType = "secret"
	TypeKey    ObjectType = "key"
	TypeCert   ObjectType = "cert"
)

// The objectEncoding and objectFormat values, normalised to lower case.
const (
	EncodingUTF8   = "utf-8"
	EncodingHex    = "hex"
	EncodingBase64 = "base64"
	FormatPEM      = "pem"
	FormatPFX      = "pfx"
)

// DefaultFileMode is the mode of a file whose object sets no filePermission.
const DefaultFileMode fs.FileMode = 0o644

// MaxVersionHistory bounds objectVersionHistory: each history entry is a Key
// Vault GET per refresh, and a typo like 10000 should not become a request storm.
const MaxVersionHistory = 200

// Object is one validated entry of the SecretProviderClass `objects` array.
type Object struct {
	Name           string      // objectName
	Type           ObjectType  // objectType
	Version        string      // objectVersion; "" = latest
	Alias          string      // objectAlias
	Encoding       string      // objectEncoding: "utf-8" (default), "hex", "base64"; secret only ("" for key/cert)
	Format         string      // objectFormat: "pem" (default) or "pfx"; pfx only for secret
	FileMode       fs.FileMode // filePermission, default 0644
	VersionHistory int         // objectVersionHistory; 0 = a single file
}

// FileName is the name of the object's file (or, with history, directory):
// the alias if set, else the object name, as the Azure provider writes it.
func (o Object) FileName() string {
	if o.Alias != "" {
		return o.Alias
	}
	return o.Name
}

// Pinned reports whether the object names a fixed version. A pinned version's
// bytes never change, so caches need not refetch it.
func (o Object) Pinned() bool { return o.Version != "" }

// Variant is a short string of what, besides name and version, changes the file
// bytes: two objects with the same name and version but different variants must
// not share a cache entry. Alias and file mode are not part of it.
func (o Object) Variant() string {
	if o.Type != TypeSecret {
		return string(o.Type)
	}
	return string(o.Type) + "/" + o.Encoding + "/" + o.Format
}

// maxFileName is NAME_MAX on Linux and the component limit on NTFS.
const maxFileName = 255

// checkFileName refuses file names that would escape the volume, name a
// directory, or be unportable: the volume is served on Linux (FUSE) and written
// on Windows, so both separators are refused everywhere. Like the provider (and
// Kubernetes' validatePathNoBacksteps) any "..", even inside a name, is refused.
func checkFileName(name string) error {
	switch {
	case name == "":
		return invalidf("file name is empty")
	case len(name) > maxFileName:
		return invalidf("file name %.40q... is longer than %d bytes", name, maxFileName)
	case strings.ContainsAny(name, "/\\"):
		return invalidf("file name %q contains a path separator", name)
	case strings.ContainsRune(name, 0):
		return invalidf("file name %q contains a NUL byte", name)
	case strings.Contains(name, ".."):
		return invalidf("file name %q contains \"..\"", name)
	case name == ".":
		return invalidf("file name %q names the volume directory", name)
	case filepath.IsAbs(name) || !filepath.IsLocal(name):
		return invalidf("file name %q is not a local relative name", name)
	}
	return checkPortableName(name)
}
