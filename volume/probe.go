package volume

import "context"

// MountState is what a probe found at a target.
type MountState int

const (
	// MountUnknown: the probe did not return in time. A FUSE mount whose
	// server is away (a kept mount not resumed yet) makes statfs wait for
	// it, for ever if none comes.
	MountUnknown MountState = iota
	// MountAlive: the file system answered (or nothing is mounted there).
	MountAlive
	// MountDead: a mount whose FUSE server (or keeper) is gone.
	MountDead
)

// ProbeMounts asks each target's file system whether it is alive
// (IsDeadMount), at most limit at a time, until ctx ends; a target whose
// probe has not returned (or started) by then is MountUnknown: the caller
// leaves it to kubelet's republish instead of blocking on it.
//
// A statfs waiting for an absent FUSE server cannot be interrupted: its
// goroutine stays in the kernel until the mount is served again (the
// republish) or unmounted, and then ends on its own. Each one holds its
// slot meanwhile, so one call never leaves more than limit of them.
func ProbeMounts(ctx context.Context, targets []string, limit int) map[string]MountState {
	states := make(map[string]MountState, len(targets))
	for _, t := range targets {
		states[t] = MountUnknown
	}
	type result struct {
		target string
		dead   bool
	}
	results := make(chan result, len(targets)) // a late probe never blocks on it
	slots := make(chan struct{}, max(limit, 1))
	started := 0
dispatch:
	for _, target := range targets {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break dispatch
		}
		started++
		go func() {
			dead := IsDeadMount(target)
			<-slots
			results <- result{target, dead}
		}()
	}
	for range started {
		select {
		case r := <-results:
			states[r.target] = MountAlive
			if r.dead {
				states[r.target] = MountDead
			}
		case <-ctx.Done():
			return states
		}
	}
	return states
}
