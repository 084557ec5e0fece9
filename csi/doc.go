// Package csi is secretfs's CSI node plugin: the Identity and Node gRPC
// services kubelet calls over a unix socket, the orchestration of
// NodePublishVolume / NodeUnpublishVolume, and the state file that records
// what is mounted.
//
// NodePublishVolume is a short sequence of named steps (validate, find the
// SecretProviderClass, parse its parameters, collect the pod's credentials,
// mount, record); each step returns an error tagged with the gRPC code the
// handler will answer with, so codes are chosen in one place and the steps
// stay plain Go. The mounting itself is behind Mounter, implemented by
// package volume.
//
// Secret hygiene: requests carry the pod's client secret (CSI secrets) and
// service account token (volume context key
// csi.storage.k8s.io/serviceAccount.tokens). Requests are logged only after
// Sanitize has stripped both; they are never put into errors, metric labels
// or the state file.
//
// Concurrency: calls for different targets run in parallel; a call for a
// target that another call is working on fails with Aborted, which kubelet
// retries.
package csi
