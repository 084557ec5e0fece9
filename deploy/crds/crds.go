// Package crds embeds the CustomResourceDefinitions secretfs reads, the
// Secrets Store CSI Driver's SecretProviderClass and
// SecretProviderClassPodStatus, so tests (kube/kubetest) and installers apply
// the very files the chart ships instead of a copy that could drift.
package crds

import "embed"

// FS holds the CRD manifests, one YAML file per CRD, at its root.
//
//go:embed *.yaml
var FS embed.FS
