package vault

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	yaml "sigs.k8s.io/yaml/goyaml.v2"
)

// windowsReserved are the characters Windows refuses in a file name besides
// the separators (which checkFileName refuses already). ':' would also open an
// NTFS alternate data stream; the files backend refuses it on every system.
const windowsReserved = `<>:"|?*`

// checkPortableName refuses one file name component that some node could not
// write, or that would mislead a reader of `ls` or of a log line: a
// SecretProviderClass is shared by Linux and Windows pods, and its file names
// end up in events, logs and the state file. What is refused, and why:
//   - bytes that are not UTF-8: Windows names are UTF-16, and the name could
//     not be quoted faithfully;
//   - control characters (C0, DEL, C1): a newline or ESC forges log lines and
//     terminal output;
//   - format characters (category Cf, which holds every bidi control), line
//     and paragraph separators: a right-to-left override shows
//     "invoice\u202Efdp.sh" as "invoicehs.pdf", a zero-width space makes two
//     names look alike; likewise any other character that is not graphic
//     (unassigned or private use: a later Unicode version may make it one of
//     the above);
//   - the characters Windows refuses, a trailing dot or space (Windows strips
//     them, so "a." would write "a"), and the device names CON, NUL, COM1, ...
//     with or without an extension.
func checkPortableName(name string) error {
	if !utf8.ValidString(name) {
		return invalidf("file name %q is not valid UTF-8", name)
	}
	for _, r := range name {
		if err := checkRune(name, r); err != nil {
			return err
		}
	}
	switch {
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
		return invalidf("file name %q must not end with a dot or a space: Windows drops them, writing a different file", name)
	case isWindowsDevice(name):
		return invalidf("file name %q is a device name reserved on Windows (CON, PRN, AUX, NUL, COM0-9, LPT0-9, CONIN$, CONOUT$, with or without an extension)", name)
	}
	return nil
}

// checkRune refuses one character of name; the error shows it as U+XXXX so
// the message itself stays one printable line.
func checkRune(name string, r rune) error {
	switch {
	case unicode.IsControl(r):
		return invalidf("file name %q contains the control character %U", name, r)
	case unicode.Is(unicode.Bidi_Control, r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
		return invalidf("file name %q contains the invisible formatting character %U (bidi override, zero-width or line separator)", name, r)
	case !unicode.IsGraphic(r):
		return invalidf("file name %q contains %U, which is not a printable character (unassigned or private use)", name, r)
	case strings.ContainsRune(windowsReserved, r):
		return invalidf("file name %q contains %s, which Windows does not allow in file names (none of %s)", name, strconv.QuoteRune(r), windowsReserved)
	}
	return nil
}

// isWindowsDevice reports whether name is a Windows device name. As in Go's
// own filepath.IsLocal on Windows, the base before the first dot, with
// trailing spaces dropped, is what counts ("nul.txt" and "NUL .x" open the
// NUL device on Windows 10), and COM/LPT take a digit or a superscript 1-3.
func isWindowsDevice(name string) bool {
	base, _, _ := strings.Cut(name, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) < 4 || (base[:3] != "COM" && base[:3] != "LPT") {
		return false
	}
	switch base[3:] {
	case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00b9", "\u00b2", "\u00b3":
		return true
	}
	return false
}

// foldKey maps a name to a key that is equal for exactly the names
// strings.EqualFold calls equal: each rune becomes the smallest rune of its
// Unicode simple case-folding orbit (so "K", "k" and the Kelvin sign K share
// a key). Names that differ only in case are one file on Windows and on
// case-insensitive file systems; the later would overwrite the earlier.
func foldKey(name string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, name)
}

// oneLine renders a YAML error as one printable line. yaml.v2 puts each of
// several errors on its own line and quotes keys as written, so a hostile key
// would carry a newline or a bidi override into logs and pod events.
func oneLine(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return printable(err.Error())
	}
	parts := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		parts[i] = printable(e)
	}
	return "yaml: " + strings.Join(parts, "; ")
}

// printable escapes every character of s that is not printable (newline,
// ESC, bidi controls, invalid UTF-8) the way %q would.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == ' ' || (unicode.IsPrint(r) && r != utf8.RuneError) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRuneToASCII(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}
