package bench

import "time"

// Config selects the mode and where the report goes.
type Config struct {
	Quick  bool   // the < 2 minute mode CI runs: fewer sizes, runs and seconds
	OutDir string // REPORT.md, results.json and plots go here; "" writes nothing
	// Only, if non-empty, runs just these measure IDs (1..9), for development.
	Only []int
	// Log receives progress lines; nil discards.
	Log func(format string, args ...any)
}

// plan is every knob of a mode, chosen so quick < 2 min and full < 15 min
// on 2 cores.
type plan struct {
	runs          int             // repeats of each latency run (medians over these)
	warmIters     int             // operations per reader run
	sizes         []int           // file sizes for measure 1
	coldLatencies []time.Duration // measure 2
	coldReads     int             // uncached objects read per latency
	publishM      []int           // measure 3
	publishRuns   int
	pods          []int         // measure 4
	reqTTL        time.Duration // TTL in measures 4 and 5
	rotations     int           // per rotated object, measure 5
	rotObjects    int           // objects rotated concurrently, measure 5
	volumesN      []int         // measure 6
	readers       int           // measure 7
	mounts        int
	tputFor       time.Duration
	stormFor      time.Duration // measure 8
	outageFor     time.Duration
	faultTTL      time.Duration
}

func planFor(quick bool) plan {
	if quick {
		return plan{
			runs: 2, warmIters: 2000, sizes: []int{100, 4096, 25 * 1024},
			coldLatencies: []time.Duration{5 * time.Millisecond, 20 * time.Millisecond}, coldReads: 5,
			publishM: []int{1, 10, 50}, publishRuns: 2,
			pods: []int{1, 10}, reqTTL: time.Second, rotations: 2, rotObjects: 4,
			volumesN: []int{1, 10}, readers: 4, mounts: 10, tputFor: 500 * time.Millisecond,
			stormFor: 2 * time.Second, outageFor: 3 * time.Second, faultTTL: time.Second,
		}
	}
	return plan{
		runs: 7, warmIters: 20000, sizes: []int{100, 4096, 25 * 1024},
		coldLatencies: []time.Duration{5 * time.Millisecond, 20 * time.Millisecond}, coldReads: 20,
		publishM: []int{1, 10, 50}, publishRuns: 9,
		pods: []int{1, 10, 100}, reqTTL: 2 * time.Second, rotations: 12, rotObjects: 5,
		volumesN: []int{1, 50, 200}, readers: 16, mounts: 50, tputFor: 3 * time.Second,
		stormFor: 15 * time.Second, outageFor: 60 * time.Second, faultTTL: 2 * time.Second,
	}
}
