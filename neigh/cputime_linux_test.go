package neigh_test

import (
	"syscall"
	"time"
)

// threadCPUTime is the calling thread's user+system CPU time. Benchmarks
// report it per op next to wall time: on a shared, loaded machine wall time
// includes the time the thread was not running.
func threadCPUTime() (time.Duration, bool) {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
