package main

import (
	"slices"
	"testing"
)

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{"": nil, "0": {0}, "0-3": {0, 1, 2, 3}, "1,3": {1, 3}, "4-5,0": {4, 5, 0}} {
		got, err := parseCPUList(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"a", "1,", "-1", "3-1", "1,1", "0-2,2", "9999", "1--2"} {
		if got, err := parseCPUList(in); err == nil {
			t.Errorf("parseCPUList(%q) = %v, want an error", in, got)
		}
	}
}

func TestWorkerFlagsRefused(t *testing.T) {
	for _, args := range [][]string{{"--workers", "-1"}, {"--cpus", "x"}, {"--cpus", "2-1"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("fibd %v: accepted", args)
		}
	}
	f, err := parseFlags([]string{"--workers", "2", "--cpus", "0-1"})
	if err != nil || f.workers != 2 || !slices.Equal(f.cpuList, []int{0, 1}) {
		t.Fatalf("fibd --workers 2 --cpus 0-1: %+v, %v", f, err)
	}
}
