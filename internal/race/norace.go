//go:build !race

// Package race reports whether the binary was built with the race
// detector, so tests can scale their workloads and skip throughput
// assertions that the detector's ~10× slowdown makes meaningless.
package race

// Enabled is true when built with -race.
const Enabled = false
