package fwdbench

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU is the calling OS thread's user+system time. The caller must
// be locked to its thread for two readings to mean anything.
func threadCPU() time.Duration { return rusage(unix.RUSAGE_THREAD) }

// processCPU is the whole process's user+system time.
func processCPU() time.Duration { return rusage(unix.RUSAGE_SELF) }

// processSys is the whole process's system time.
func processSys() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Stime.Nano())
}

// threadSys is the calling thread's system time.
func threadSys() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Stime.Nano())
}

func rusage(who int) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
