package csi

import (
	"context"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Volume context keys kubelet sets (csi.storage.k8s.io/*) and the one the
// user sets.
const (
	keyClass          = "secretProviderClass"
	keyPodName        = "csi.storage.k8s.io/pod.name"
	keyPodNamespace   = "csi.storage.k8s.io/pod.namespace"
	keyPodUID         = "csi.storage.k8s.io/pod.uid"
	keyServiceAccount = "csi.storage.k8s.io/serviceAccount.name"
	// keyTokens holds the pod's service account tokens (workload
	// identity). It is as secret as a password but not marked csi_secret
	// in the spec, so the generic secret stripping misses it.
	keyTokens = "csi.storage.k8s.io/serviceAccount.tokens"
)

// redacted replaces secret values in logged requests.
const redacted = "***stripped***"

// Sanitize returns a copy of m fit for logs: fields the CSI spec marks
// csi_secret (the CSI secrets map: client ID and secret) and the service
// account tokens in any string map are replaced by a placeholder. m itself
// is not changed.
func Sanitize(m proto.Message) proto.Message {
	c := proto.Clone(m)
	strip(c.ProtoReflect())
	return c
}

// strip redacts m in place, descending into nested messages.
func strip(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case isSecret(fd):
			redactField(m, fd, v)
		case fd.IsMap():
			redactTokens(m, fd, v.Map())
		case fd.Kind() == protoreflect.MessageKind && fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				strip(v.List().Get(i).Message())
			}
		case fd.Kind() == protoreflect.MessageKind:
			strip(v.Message())
		}
		return true
	})
}

// isSecret reports whether the spec marks fd csi_secret; the name check
// covers a message built without the option's descriptor.
func isSecret(fd protoreflect.FieldDescriptor) bool {
	if fd.Name() == "secrets" {
		return true
	}
	opts := fd.Options()
	if opts == nil || !proto.HasExtension(opts, csi.E_CsiSecret) {
		return false
	}
	secret, _ := proto.GetExtension(opts, csi.E_CsiSecret).(bool)
	return secret
}

func redactField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch {
	case fd.IsMap():
		mp := m.Mutable(fd).Map()
		for _, k := range mapKeys(v.Map()) {
			mp.Set(k, protoreflect.ValueOfString(redacted))
		}
	case fd.Kind() == protoreflect.StringKind && !fd.IsList():
		m.Set(fd, protoreflect.ValueOfString(redacted))
	default:
		m.Clear(fd)
	}
}

// redactTokens replaces the service account tokens in a string map.
func redactTokens(m protoreflect.Message, fd protoreflect.FieldDescriptor, mp protoreflect.Map) {
	if fd.MapValue().Kind() != protoreflect.StringKind {
		return
	}
	key := protoreflect.ValueOfString(keyTokens).MapKey()
	if mp.Has(key) {
		m.Mutable(fd).Map().Set(key, protoreflect.ValueOfString(redacted))
	}
}

func mapKeys(mp protoreflect.Map) []protoreflect.MapKey {
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	return keys
}

// maxLogged bounds a request or response in a log line. A real publish
// renders to about 1 KiB; a refused oversized request (checkPublishLimits)
// is still logged, and must not put megabytes into the log.
const maxLogged = 8 << 10

// formatSanitized renders a request or response for a log line, cut at
// maxLogged bytes.
func formatSanitized(v any) string {
	m, ok := v.(proto.Message)
	if !ok || m == nil {
		return ""
	}
	b, err := protojson.Marshal(Sanitize(m))
	if err != nil {
		return "<unprintable>"
	}
	return truncate(string(b), maxLogged)
}

// truncate cuts s to at most n bytes on a character boundary and says how
// long it was.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (truncated, %d bytes)", s[:cut], len(s))
}

// logCalls is a unary interceptor logging every call through Sanitize.
// Publish and unpublish log at Info, the chatty probes at Debug, failures
// at Warn.
func logCalls(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		level := callLevel(info.FullMethod, err)
		if !log.Enabled(ctx, level) {
			return resp, err
		}
		attrs := []slog.Attr{
			slog.String("method", info.FullMethod),
			slog.String("request", formatSanitized(req)),
			slog.Duration("duration", time.Since(start)),
		}
		if err != nil {
			st := status.Convert(err)
			attrs = append(attrs, slog.String("code", st.Code().String()), slog.String("error", st.Message()))
		} else {
			attrs = append(attrs, slog.String("response", formatSanitized(resp)))
		}
		log.LogAttrs(ctx, level, "csi call", attrs...)
		return resp, err
	}
}

// callLevel names the methods exactly: a suffix match on "PublishVolume"
// missed NodeUnpublishVolume ("...UnpublishVolume" has a lower-case p).
func callLevel(method string, err error) slog.Level {
	switch {
	case err != nil:
		return slog.LevelWarn
	case method == csi.Node_NodePublishVolume_FullMethodName,
		method == csi.Node_NodeUnpublishVolume_FullMethodName:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}
