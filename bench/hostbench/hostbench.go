// Package hostbench is `fibbench hoststack`: what a program inside a FIB
// gets from fibd's host stack (dataplane/hoststack), beside the same
// program behind a kernel-routed veth.
//
// Three paths, the same client and the same server code, timed in
// interleaved rounds:
//
//   - fibd: a customer namespace, a veth to fibd's port in FIB 10, fibd's
//     punt and inject through the TUN of FIB 10's host namespace, where
//     this process listens (hoststack.Namespace.Listen).
//   - kernel, matching offloads: the customer, a veth to a namespace that
//     routes with the kernel, a veth to the server's namespace; the router's
//     veths with the offloads fibd turns off on its ports (ethtool's
//     ForwardingOff), the server's too (a TUN has none).
//   - kernel, default offloads: the same topology as the kernel comes.
//
// Each round runs one TCP stream from the customer to the server for
// Config.TCPFor and counts what the server read, then a keep-alive HTTP
// client with Config.HTTPConns connections against a small handler for
// Config.HTTPFor. Ratios are per round; the median and spread are
// reported (bench/fibbench's convention).
package hostbench

import "time"

// Config configures a run.
type Config struct {
	// FibdPath is the fibd binary.
	FibdPath string
	// IO is fibd's --io; default afpacket.
	IO string
	// Rounds of every measurement; default 3.
	Rounds int
	// TCPFor is the length of each TCP stream; default 10 s.
	TCPFor time.Duration
	// HTTPFor is the length of each HTTP run; default 5 s.
	HTTPFor time.Duration
	// HTTPConns is the HTTP client's connections; default 4.
	HTTPConns int
	// Log, when set, receives progress lines.
	Log func(format string, args ...any)
}

// Result is what a run measured; rates are medians over the rounds.
type Result struct {
	Rounds int    `json:"rounds"`
	IO     string `json:"io"`
	// TCPMbps: one stream customer → server inside FIB 10, through fibd.
	TCPMbps float64 `json:"tcp_mbps"`
	// KernelTCPMbps: the same behind a kernel-routed veth with fibd's
	// offloads off; KernelDefaultTCPMbps with the kernel's defaults.
	KernelTCPMbps        float64 `json:"kernel_tcp_mbps"`
	KernelDefaultTCPMbps float64 `json:"kernel_default_tcp_mbps"`
	// RatioVsKernel is the median over the rounds of each round's
	// TCPMbps / KernelTCPMbps, with the smallest and largest (the report's
	// _min/_max convention); RatioVsKernelDefault against the defaults.
	RatioVsKernel           float64 `json:"ratio_vs_kernel"`
	RatioVsKernelMin        float64 `json:"ratio_vs_kernel_min"`
	RatioVsKernelMax        float64 `json:"ratio_vs_kernel_max"`
	RatioVsKernelDefault    float64 `json:"ratio_vs_kernel_default"`
	RatioVsKernelDefaultMin float64 `json:"ratio_vs_kernel_default_min"`
	RatioVsKernelDefaultMax float64 `json:"ratio_vs_kernel_default_max"`
	// HTTPReqPerSec and its kernel counterparts: small GETs per second.
	HTTPReqPerSec              float64 `json:"http_req_per_s"`
	KernelHTTPReqPerSec        float64 `json:"kernel_http_req_per_s"`
	KernelDefaultHTTPReqPerSec float64 `json:"kernel_default_http_req_per_s"`
	HTTPRatioVsKernel          float64 `json:"http_ratio_vs_kernel"`
	HTTPRatioVsKernelMin       float64 `json:"http_ratio_vs_kernel_min"`
	HTTPRatioVsKernelMax       float64 `json:"http_ratio_vs_kernel_max"`
	// FibdCPUPerGB is fibd's CPU seconds per GB the TCP streams moved:
	// how much of the 2 cores the host stack's path costs.
	FibdCPUPerGB float64 `json:"fibd_cpu_s_per_gb"`
	// Punted and Injected are FIB 10's host-stack counters at the end.
	Punted   uint64 `json:"punted"`
	Injected uint64 `json:"injected"`
	// HostDrops are FIB 10's host-stack drops by reason at the end.
	HostDrops map[string]uint64 `json:"host_drops,omitempty"`
}
