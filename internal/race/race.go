//go:build race

// Package race tells tests whether the race detector is on, so that the
// few tests whose size matters (full-table regeneration, throughput runs)
// can scale down under its ~10× slowdown instead of being skipped.
package race

// Enabled is true when built with -race.
const Enabled = true
