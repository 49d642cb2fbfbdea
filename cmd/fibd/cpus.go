package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// workerFlags are --workers and --cpus.
type workerFlags struct {
	perIface int
	cpus     []int
}

// maxCPU bounds a CPU number in --cpus (the kernel's CONFIG_NR_CPUS
// ceiling): a typo like 10000 is refused here, not by sched_setaffinity
// at the first packet.
const maxCPU = 8191

// parseCPUList parses a CPU list as taskset and /sys do: "0-3,6", "1,3".
// Empty is none. Each CPU appears once, in the order given.
func parseCPUList(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := cpuNumber(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = cpuNumber(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("range %q runs backwards", part)
			}
		}
		for c := a; c <= b; c++ {
			if seen[c] {
				return nil, fmt.Errorf("CPU %d given twice", c)
			}
			seen[c] = true
			out = append(out, c)
		}
	}
	return out, nil
}

func cpuNumber(s string) (int, error) {
	if s == "" {
		return 0, errors.New("empty CPU number")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxCPU {
		return 0, fmt.Errorf("%q is not a CPU number (0-%d)", s, maxCPU)
	}
	return n, nil
}
