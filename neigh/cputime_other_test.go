//go:build !linux

package neigh_test

import "time"

func threadCPUTime() (time.Duration, bool) { return 0, false }
