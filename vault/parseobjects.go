package vault

import (
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	// goyaml.v2 rather than sigs.k8s.io/yaml's JSON path: the JSON path turns an
	// unquoted `filePermission: 0644` into the string "420" and `objectVersion: 0x1F`
	// into "31". yaml.v2 keeps the scalar's text, as the Azure provider's parser does.
	yaml "sigs.k8s.io/yaml/goyaml.v2"
)

// objectsArray is the outer `objects` value: a list of YAML documents as strings.
type objectsArray struct {
	Array []string `yaml:"array"`
}

// rawObject is one entry as written. Every field is a string so that scalars keep
// their text (0644 stays octal) and so we, not the YAML library, say what is wrong.
type rawObject struct {
	ObjectName           string `yaml:"objectName"`
	ObjectType           string `yaml:"objectType"`
	ObjectVersion        string `yaml:"objectVersion"`
	ObjectAlias          string `yaml:"objectAlias"`
	ObjectEncoding       string `yaml:"objectEncoding"`
	ObjectFormat         string `yaml:"objectFormat"`
	FilePermission       string `yaml:"filePermission"`
	ObjectVersionHistory string `yaml:"objectVersionHistory"`
}

var (
	// objectNameRE is Key Vault's rule for secret, key and certificate names.
	objectNameRE = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)
	// versionRE accepts Key Vault's 32-hex-digit versions and nothing that could
	// change the request path.
	versionRE = regexp.MustCompile(`^[0-9A-Za-z]{1,64}$`)
	// filePermRE is three octal digits, optionally with a leading 0: no setuid,
	// setgid or sticky bits, which a secret file never needs.
	filePermRE = regexp.MustCompile(`^0?[0-7]{3}$`)
)

// ParseObjects parses and validates the `objects` parameter:
//
//	array:
//	  - |
//	    objectName: db-password
//	    objectType: secret
//
// Each entry is decoded strictly (an unknown key such as `objectAlais` is an
// error), every field is checked, file names must be writable on every
// node (see checkPortableName) and unique across the volume ignoring letter
// case, and at least one object is listed. Errors wrap ErrInvalid, name the
// entry's index and field, and are one printable line.
func ParseObjects(s string) ([]Object, error) {
	if strings.TrimSpace(s) == "" {
		return nil, invalidf("objects: empty; list the Key Vault objects to mount under `array:`")
	}
	var arr objectsArray
	if err := yaml.UnmarshalStrict([]byte(s), &arr); err != nil {
		return nil, invalidf("objects: not a YAML `array:` of object entries (each `- |` followed by the object's fields): %s", oneLine(err))
	}
	if len(arr.Array) == 0 {
		return nil, invalidf("objects: no objects under `array:`; list at least one Key Vault object to mount (an empty volume is almost always a mistake)")
	}
	objs := make([]Object, 0, len(arr.Array))
	for i, entry := range arr.Array {
		o, err := parseObject(entry)
		if err != nil {
			return nil, fmt.Errorf("objects[%d]: %w", i, err)
		}
		objs = append(objs, o)
	}
	if err := checkUnique(objs); err != nil {
		return nil, err
	}
	return objs, nil
}

// parseObject decodes and validates one entry of the array.
func parseObject(entry string) (Object, error) {
	var r rawObject
	if err := yaml.UnmarshalStrict([]byte(entry), &r); err != nil {
		return Object{}, invalidf("%s (known fields: objectName, objectType, objectVersion, objectAlias, objectEncoding, objectFormat, filePermission, objectVersionHistory)", oneLine(err))
	}
	r.trim()
	o, err := r.object()
	if err != nil && r.ObjectName != "" {
		return Object{}, fmt.Errorf("objectName %q: %w", r.ObjectName, err)
	}
	return o, err
}

// trim removes surrounding whitespace from every field, as the provider does.
func (r *rawObject) trim() {
	for _, f := range []*string{&r.ObjectName, &r.ObjectType, &r.ObjectVersion, &r.ObjectAlias,
		&r.ObjectEncoding, &r.ObjectFormat, &r.FilePermission, &r.ObjectVersionHistory} {
		*f = strings.TrimSpace(*f)
	}
}

// object validates the fields one by one, in the order a user reads them.
func (r *rawObject) object() (Object, error) {
	o := Object{Name: r.ObjectName, Version: r.ObjectVersion, Alias: r.ObjectAlias}
	if !objectNameRE.MatchString(o.Name) {
		return o, invalidf("objectName %q: must be 1-127 characters of 0-9, a-z, A-Z and -", o.Name)
	}
	var err error
	if o.Type, err = parseType(r.ObjectType); err != nil {
		return o, err
	}
	if o.Version != "" && !versionRE.MatchString(o.Version) {
		return o, invalidf("objectVersion %q: must be a Key Vault version (letters and digits), or empty for the latest", o.Version)
	}
	if err := checkObjectFileName(o); err != nil {
		return o, err
	}
	if o.Encoding, err = parseEncoding(r.ObjectEncoding, o.Type); err != nil {
		return o, err
	}
	if o.Format, err = parseFormat(r.ObjectFormat, o.Type); err != nil {
		return o, err
	}
	if o.FileMode, err = parseFileMode(r.FilePermission); err != nil {
		return o, err
	}
	if o.VersionHistory, err = parseHistory(r.ObjectVersionHistory, o.Version); err != nil {
		return o, err
	}
	return o, nil
}

// checkObjectFileName checks the name the object's file gets, at parse time
// rather than when a backend first writes it after the fetch. Without an
// alias that is the object name: Key Vault allows "nul", Windows does not.
func checkObjectFileName(o Object) error {
	if o.Alias != "" {
		if err := checkFileName(o.Alias); err != nil {
			return fmt.Errorf("objectAlias: %w", err)
		}
		return nil
	}
	if err := checkFileName(o.Name); err != nil {
		return fmt.Errorf("%w; set objectAlias to write the object under another file name", err)
	}
	return nil
}

func parseType(s string) (ObjectType, error) {
	switch t := ObjectType(strings.ToLower(s)); t {
	case TypeSecret, TypeKey, TypeCert:
		return t, nil
	case "":
		return "", invalidf("objectType: missing; must be one of secret, key, cert")
	default:
		return "", invalidf("objectType %q: must be one of secret, key, cert", s)
	}
}

// parseEncoding accepts any letter case, as the provider does (EqualFold).
func parseEncoding(s string, t ObjectType) (string, error) {
	if s == "" {
		if t == TypeSecret {
			return EncodingUTF8, nil
		}
		return "", nil
	}
	if t != TypeSecret {
		return "", invalidf("objectEncoding %q: only allowed with objectType secret (a %s is always PEM text)", s, t)
	}
	switch e := strings.ToLower(s); e {
	case EncodingUTF8, EncodingHex, EncodingBase64:
		return e, nil
	}
	return "", invalidf("objectEncoding %q: must be one of utf-8, hex, base64", s)
}

// parseFormat accepts any letter case: users write `objectFormat: PFX`.
func parseFormat(s string, t ObjectType) (string, error) {
	switch f := strings.ToLower(s); f {
	case "", FormatPEM:
		return FormatPEM, nil
	case FormatPFX:
		if t != TypeSecret {
			return "", invalidf("objectFormat %q: pfx is only allowed with objectType secret (the certificate's secret holds the private key)", s)
		}
		return FormatPFX, nil
	}
	return "", invalidf("objectFormat %q: must be pem or pfx", s)
}

// parseFileMode reads filePermission as octal ("0644" or "644"). The provider
// turns an invalid value into mode 0 silently; we refuse it.
func parseFileMode(s string) (fs.FileMode, error) {
	if s == "" {
		return DefaultFileMode, nil
	}
	if !filePermRE.MatchString(s) {
		return 0, invalidf("filePermission %q: must be an octal mode from 000 to 0777, e.g. \"0644\" (quote it in YAML)", s)
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, invalidf("filePermission %q: %v", s, err)
	}
	return fs.FileMode(m), nil
}

// parseHistory reads objectVersionHistory. As in the provider, 1 means the
// latest version only, written as a plain file; N ≥ 2 gives name/0..name/N-1
// (the provider writes N+1 files; we write N).
func parseHistory(s, version string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > MaxVersionHistory {
		return 0, invalidf("objectVersionHistory %q: must be a whole number from 0 to %d", s, MaxVersionHistory)
	}
	if n > 0 && version != "" {
		return 0, invalidf("objectVersionHistory %d with objectVersion %q: history always starts at the latest version; drop one of them", n, version)
	}
	if n == 1 {
		return 0, nil
	}
	return n, nil
}

// checkUnique refuses two objects writing the same file (or history
// directory); the provider lets the later silently overwrite the earlier.
// Names are compared case-insensitively: "db" and "DB" are two files on
// Linux but one on Windows, and Key Vault itself treats them as one name.
func checkUnique(objs []Object) error {
	seen := make(map[string]int, len(objs))
	for i, o := range objs {
		name := o.FileName()
		key := foldKey(name)
		j, ok := seen[key]
		switch {
		case !ok:
			seen[key] = i
		case objs[j].FileName() == name:
			return invalidf("objects[%d] and objects[%d] both write the file %q; give one an objectAlias", j, i, name)
		default:
			return invalidf("objects[%d] and objects[%d] write the files %q and %q, which differ only in letter case: on Windows and case-insensitive file systems one overwrites the other; give one an objectAlias", j, i, objs[j].FileName(), name)
		}
	}
	return nil
}
