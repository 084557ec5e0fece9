package csi

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Bounds on what a request may carry. kubelet fills requests from API
// objects that already obey the Kubernetes rules; anything beyond them
// comes from something that is not kubelet (or a hostile socket peer) and
// would otherwise go unbounded into the state file, logs, pod events and
// memory (a 3 MB pod name did). gRPC's own 4 MiB message cap is far too
// loose for that.
const (
	// maxRequestBytes bounds a whole request. A real publish is a few KiB
	// (a workload identity token is ~1 KiB); a Kubernetes Secret, the
	// largest thing kubelet puts in one, is capped at 1 MiB by the API, but
	// the Azure provider reads only two short keys of it.
	maxRequestBytes = 256 << 10
	// maxVolumeID is the CSI spec's general limit on a string field;
	// kubelet's inline volume IDs are "csi-" and 64 hex digits.
	maxVolumeID = 128
	// maxTargetPath is PATH_MAX: no longer path can be mounted on.
	maxTargetPath = 4096
	// maxContextKey fits a Kubernetes qualified name (253-byte prefix, "/",
	// 63-byte name) with room to spare.
	maxContextKey = 512
	// maxContextValue bounds each volume context and secrets value,
	// the service account tokens JSON included.
	maxContextValue = 64 << 10
	// maxPodUID fits a UUID (36 bytes) with room to spare.
	maxPodUID = 128
)

// checkPublishLimits refuses a NodePublishVolume request whose size or
// strings are beyond what kubelet sends, naming the field: the fields one by
// one first, so the message names the culprit, then the whole request (many
// fields each within bounds). It runs before anything else reads the
// request, and only bounds: a missing field is validatePublish's to report. Its messages quote no value, only sizes and
// names, so they are bounded too.
func checkPublishLimits(req *csi.NodePublishVolumeRequest) error {
	if err := checkVolumeID(req.GetVolumeId()); err != nil {
		return err
	}
	if err := checkTargetPath(req.GetTargetPath()); err != nil {
		return err
	}
	if err := checkPodNames(req.GetVolumeContext()); err != nil {
		return err
	}
	if err := checkMap("volume_context", req.GetVolumeContext(), true); err != nil {
		return err
	}
	if err := checkMap("secrets", req.GetSecrets(), false); err != nil {
		return err
	}
	if n := proto.Size(req); n > maxRequestBytes {
		return invalidArg("request is %d bytes, more than the %d a publish of secretfs can need: check volume_context, mount flags and the nodePublishSecretRef Secret", n, maxRequestBytes)
	}
	return nil
}

// checkUnpublishLimits bounds the two strings of NodeUnpublishVolume.
func checkUnpublishLimits(req *csi.NodeUnpublishVolumeRequest) error {
	if err := checkVolumeID(req.GetVolumeId()); err != nil {
		return err
	}
	return checkTargetPath(req.GetTargetPath())
}

// checkVolumeID allows at most maxVolumeID bytes of printable ASCII, no
// space: the ID goes into logs and the state file.
func checkVolumeID(id string) error {
	if len(id) > maxVolumeID {
		return invalidArg("volume_id: %d bytes; at most %d (the CSI spec's limit for a string field)", len(id), maxVolumeID)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return invalidArg("volume_id %q: byte %d is not printable ASCII", id, i)
		}
	}
	return nil
}

// checkTargetPath bounds the path and refuses control characters (a NUL
// cannot reach a syscall, a newline would forge log and mountinfo lines);
// cleaning and checking where the path points is validatePublish's job.
func checkTargetPath(p string) error {
	if len(p) > maxTargetPath {
		return invalidArg("target_path: %d bytes; at most %d (PATH_MAX)", len(p), maxTargetPath)
	}
	if i := strings.IndexFunc(p, unicode.IsControl); i >= 0 || !utf8.ValidString(p) {
		return invalidArg("target_path %q: contains a control character or invalid UTF-8", p)
	}
	return nil
}

// checkMap bounds every key and value of a string map. Secret values are
// never quoted, and neither are other values: only the key and sizes are.
func checkMap(field string, m map[string]string, printableKeys bool) error {
	for _, k := range sortedKeys(m) {
		switch {
		case len(k) > maxContextKey:
			return invalidArg("%s: a key of %d bytes (%.40q...); keys are at most %d bytes", field, len(k), k, maxContextKey)
		case printableKeys && !isPrintable(k):
			return invalidArg("%s: key %q holds a control character or invalid UTF-8", field, k)
		case len(m[k]) > maxContextValue:
			return invalidArg("%s: %s is %d bytes; at most %d", field, quoteKey(k), len(m[k]), maxContextValue)
		}
	}
	return nil
}

// checkPodNames validates the pod attributes kubelet sets (podInfoOnMount)
// and the class name the user sets with Kubernetes' own rules for those
// names, when present. They are written to the state file, logs and events
// and used as API names.
func checkPodNames(vc map[string]string) error {
	checks := []struct {
		key   string
		rule  func(string) []string
		names string
	}{
		{keyClass, validation.IsDNS1123Subdomain, "the name of a SecretProviderClass in the pod's namespace"},
		{keyPodName, validation.IsDNS1123Subdomain, "a pod name"},
		{keyPodNamespace, validation.IsDNS1123Label, "a namespace name"},
		{keyServiceAccount, validation.IsDNS1123Subdomain, "a service account name"},
		{keyPodUID, isPodUID, "a pod UID"},
	}
	for _, c := range checks {
		v, ok := vc[c.key]
		if !ok || v == "" {
			continue
		}
		if errs := c.rule(v); len(errs) > 0 {
			return invalidArg("volume_context: %s %s: must be %s: %s", c.key, shortQuote(v), c.names, strings.Join(errs, "; "))
		}
	}
	return nil
}

// isPodUID accepts what kubelet sends (a UUID) and the hex or short IDs
// tests and other COs use: letters, digits, '-', '_' and '.'.
func isPodUID(v string) []string {
	if len(v) > maxPodUID {
		return []string{fmt.Sprintf("must be no more than %d bytes", maxPodUID)}
	}
	for _, r := range v {
		if !(r < utf8.RuneSelf && (r == '-' || r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return []string{"must consist of ASCII letters, digits, '-', '_' and '.'"}
		}
	}
	return nil
}

// shortQuote quotes at most the first 64 bytes of v and gives the length
// of the rest, so a huge or hostile value never reaches a message whole.
func shortQuote(v string) string {
	if len(v) <= 64 {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%.64q... (%d bytes)", v, len(v))
}

// quoteKey names a map key in a message: bounded, control characters escaped.
func quoteKey(k string) string {
	if isPrintable(k) && len(k) <= 64 {
		return k
	}
	return shortQuote(k)
}

func isPrintable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
