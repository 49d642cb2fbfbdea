// Package converge is `fibbench converge`: how long a real routing daemon
// fed a full table takes to make fibd forward all of it, beside the same
// daemon converging on its own (into the Linux kernel, or its RIB).
//
// A speaker, gobgpd loaded with the MRT dump of testdata/tables
// (tables.WriteMRT, `gobgp mrt inject`), announces the full IPv4 table over
// eBGP to each daemon under test in turn, in interleaved rounds:
//
//   - frr-fpm: FRR (zebra -M dplane_fpm_nl, bgpd) inside FIB 10's host
//     namespace, peering over a fibd port, fed to fibd by `fibctl feed
//     fpm`. Converged when fibd's FIB 10 holds every route (polled through
//     the API). zebra programs its own kernel before FPM, so frr-kernel is
//     the floor.
//   - frr-kernel: the same FRR configuration without FPM in a namespace of
//     its own, converged when the kernel's table holds every route (netlink
//     dumps).
//   - gobgp: gobgpd inside FIB 20's host namespace, fed to fibd by `fibctl
//     feed gobgp`; converged when fibd's FIB 20 holds every route, and timed
//     against gobgpd's own global RIB holding every best path, polled in the
//     same loop (gobgpd has no FIB: its RIB is the floor).
//
// Each round starts when the speaker's session is established (its peer is
// enabled; polled through gobgpd's API) and ends at the first poll that
// sees every route; then the peer is disabled and the routes drain before
// the next path. Medians and per-round ratios are reported (bench/fibbench's
// convention).
package converge

import "time"

// Config configures a run.
type Config struct {
	// FibdPath and FibctlPath are the binaries.
	FibdPath, FibctlPath string
	// Rounds of every path; default 3.
	Rounds int
	// Routes is how many of the IPv4 table's routes to announce; 0 for
	// all 615,151.
	Routes int
	// Paths to measure: frr-fpm, frr-kernel, gobgp; default all.
	Paths []string
	// FeedProfile, when set, is where the gobgp feed writes a CPU profile.
	FeedProfile string
	// Timeout bounds one convergence; default 10 min.
	Timeout time.Duration
	// Log, when set, receives progress lines.
	Log func(format string, args ...any)
}

// Result is what a run measured.
type Result struct {
	Rounds int `json:"rounds"`
	Routes int `json:"routes"`
	// FRRFPMConvergeS is the median time from session up to fibd forwarding
	// every route through FRR's FPM; FRRKernelConvergeS the same FRR into
	// the kernel.
	FRRFPMConvergeS    float64 `json:"frr_fpm_converge_s,omitempty"`
	FRRKernelConvergeS float64 `json:"frr_kernel_converge_s,omitempty"`
	// FRRFPMRatio is the median of the per-round ratios fpm / kernel, with
	// their smallest and largest.
	FRRFPMRatio    float64 `json:"frr_fpm_vs_kernel"`
	FRRFPMRatioMin float64 `json:"frr_fpm_vs_kernel_min"`
	FRRFPMRatioMax float64 `json:"frr_fpm_vs_kernel_max"`
	// FPMRoutesPerS is Routes / FRRFPMConvergeS.
	FPMRoutesPerS float64 `json:"fpm_routes_per_s"`
	// FibdCPUS and FeedCPUS are the CPU seconds fibd and the FPM listener
	// used in a round (median).
	FibdCPUS float64 `json:"fibd_cpu_s"`
	FeedCPUS float64 `json:"fpm_feed_cpu_s"`
	// GoBGPConvergeS is the median time from session up to fibd
	// forwarding every route through gobgpd and `fibctl feed gobgp`;
	// GoBGPRIBS gobgpd's own time to hold every best path (its global RIB,
	// polled in the same loop). GoBGPRatio is the median per-round
	// converge / rib, with its smallest and largest.
	GoBGPConvergeS  float64 `json:"gobgp_converge_s,omitempty"`
	GoBGPRIBS       float64 `json:"gobgp_rib_s,omitempty"`
	GoBGPRatio      float64 `json:"gobgp_converge_vs_rib,omitempty"`
	GoBGPRatioMin   float64 `json:"gobgp_converge_vs_rib_min,omitempty"`
	GoBGPRatioMax   float64 `json:"gobgp_converge_vs_rib_max,omitempty"`
	GoBGPRoutesPerS float64 `json:"gobgp_routes_per_s,omitempty"`
	// GoBGPWatchS is when the feed had received every best path from
	// gobgpd's WatchEvent (from its log): GoBGPConvergeS minus it is what
	// the feed and fibd add after gobgpd has sent everything.
	GoBGPWatchS   float64 `json:"gobgp_watch_s,omitempty"`
	GoBGPFibdCPUS float64 `json:"gobgp_fibd_cpu_s,omitempty"`
	GoBGPFeedCPUS float64 `json:"gobgp_feed_cpu_s,omitempty"`
	// InjectS is how long `gobgp mrt inject` took to load the speaker.
	InjectS float64 `json:"speaker_inject_s"`
	// PollS is the polling interval, the resolution of every time above.
	PollS float64 `json:"poll_s"`
}
