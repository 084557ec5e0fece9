//go:build tools

// Package tools records the command this module builds, so that `go mod
// tidy` keeps its dependencies. It is never compiled: tools.mk runs
// `go build helm.sh/helm/v3/cmd/helm` here. A nested module (rather than
// `go install helm@version`) pins every dependency in go.sum, so each machine
// builds the same helm.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
