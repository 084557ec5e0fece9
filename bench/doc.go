// Package bench is the secretfs benchmark harness behind `make bench` and
// `make bench-quick`: it measures every performance claim of design.md as a
// ratio against a baseline measured in the same run, on the same machine, and
// writes a Markdown report, a JSON file with every number, and SVG plots.
//
// Why a harness and not `go test -bench`: the claims are about a system, not
// a function. A pod reads through the kernel from another process, Key Vault
// answers with latency and faults, kubelet publishes through gRPC, and memory
// is the RSS of a whole process. So every measure runs the real parts — the
// Key Vault emulator over TLS driven by the real Azure SDK clients, the node
// cache, real FUSE and tmpfs mounts, the CSI node service over a unix socket —
// and readers run as separate processes (this binary re-executed as a child,
// see [RunChild]) that report latency quantiles as JSON.
//
// Every number is a median over repeated runs with its spread (min–max), and
// every row carries the baseline, the ratio, the target from design.md and
// whether it is met; a target that is not met is said plainly and the CPU
// profile of the FUSE server during the warm-read run shows where time goes.
//
// Linux only (FUSE, tmpfs, /proc); it must run as root.
package bench
