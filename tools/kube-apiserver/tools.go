//go:build tools

// Package tools records the commands this module builds, so that
// `go mod tidy` keeps their dependencies. It is never compiled: the
// commands are built with `go build k8s.io/kubernetes/cmd/...`.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
