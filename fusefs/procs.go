package fusefs

import "runtime"

// MinProcs is the GOMAXPROCS a process that serves FUSE mounts should run
// with at least. go-fuse's request readers wait in blocking read(2) calls
// on /dev/fuse, and the Go runtime takes a P back from a goroutine in a
// system call only when its monitor notices, up to ~20 ms later when the
// process was idle. With GOMAXPROCS = 2 (a two-core node, or a CPU limit)
// two waiting readers hold both Ps and every other goroutine — a gRPC
// reply to kubelet, a cache refresh — waits that long. Measured with the
// bench (measure 3): a cold NodePublishVolume of 10 objects at L = 20 ms
// took 42 ms with 2 Ps and 25 ms with 8. More Ps than cores costs nothing
// here: the extra threads are mostly blocked in read(2).
const MinProcs = 4

// RaiseProcs makes GOMAXPROCS at least MinProcs; main functions call it.
func RaiseProcs() {
	if runtime.GOMAXPROCS(0) < MinProcs {
		runtime.GOMAXPROCS(MinProcs)
	}
}
