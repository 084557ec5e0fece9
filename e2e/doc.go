// Package e2e holds the kubelet-like end-to-end tests: a real kube-apiserver
// and etcd (kube/kubetest), the Key Vault emulator over TLS, and the
// `secretfs node` binary started as its own process, driven over its CSI
// unix socket with exactly what kubelet sends for an inline ephemeral
// SecretProviderClass volume.
package e2e
