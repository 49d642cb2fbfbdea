package fwdbench

import "time"

// FastPathRow is one forwarder's figures, medians over the rounds.
type FastPathRow struct {
	Name         string  `json:"name"`
	OfferedPPS   float64 `json:"offered_pps"`
	ForwardedPPS float64 `json:"forwarded_pps"`
	LossPct      float64 `json:"loss_pct"`
	// CPUUsPerPacket: busy time of all cores over the trial, less the
	// generator-only trial's busy time per offered packet times the
	// packets offered, over the packets forwarded.
	CPUUsPerPacket float64 `json:"cpu_us_per_packet"`
}

// FastPathResult is the comparison `fibbench forward --io=xdp` adds.
type FastPathResult struct {
	Method string `json:"method"`
	Rounds int    `json:"rounds"`
	// Generator is the generator-only trial: frames dropped by an XDP
	// program on r0, no forwarder. GeneratorCPUUsPerPacket is its busy
	// time per frame, what every row has subtracted.
	GeneratorPPS            float64 `json:"generator_pps"`
	GeneratorCPUUsPerPacket float64 `json:"generator_cpu_us_per_packet"`
	Threads                 int     `json:"generator_threads"`

	FastPathPPS            float64 `json:"fast_path_pps"`
	FastPathLossPct        float64 `json:"fast_path_loss_pct"`
	FastPathCPUUsPerPacket float64 `json:"fast_path_cpu_us_per_packet"`
	KernelForwardedPPS     float64 `json:"kernel_forwarded_pps"`
	KernelCPUUsPerPacket   float64 `json:"kernel_cpu_us_per_packet"`
	DataplanePPS           float64 `json:"dataplane_forwarded_pps"`
	DataplaneCPUUsPerPkt   float64 `json:"dataplane_cpu_us_per_packet"`
	// RunTimeNsPerRun is the fast path program's run_time_ns / run_cnt
	// over its trials (kernel.bpf_stats_enabled on for them).
	RunTimeNsPerRun float64 `json:"run_time_ns_per_run"`

	// Ratios: medians of the per-round ratios, with their range.
	PPSVsKernel       float64       `json:"ratio_fast_path_vs_kernel_pps"`
	PPSVsKernelMin    float64       `json:"ratio_fast_path_vs_kernel_pps_min"`
	PPSVsKernelMax    float64       `json:"ratio_fast_path_vs_kernel_pps_max"`
	CPUVsKernel       float64       `json:"ratio_fast_path_vs_kernel_cpu"`
	CPUVsKernelMin    float64       `json:"ratio_fast_path_vs_kernel_cpu_min"`
	CPUVsKernelMax    float64       `json:"ratio_fast_path_vs_kernel_cpu_max"`
	CPUVsDataplane    float64       `json:"ratio_fast_path_vs_dataplane_cpu"`
	CPUVsDataplaneMin float64       `json:"ratio_fast_path_vs_dataplane_cpu_min"`
	CPUVsDataplaneMax float64       `json:"ratio_fast_path_vs_dataplane_cpu_max"`
	Rows              []FastPathRow `json:"rows"`
	FullTable         bool          `json:"full_table"`
	Note              string        `json:"note"`
}

// FastPathOptions configure RunFastPath.
type FastPathOptions struct {
	Duration  time.Duration // of each trial; default 2 s
	Rounds    int           // default 3
	FullTable bool          // fibd's rows with the full table in two FIBs
	Log       func(format string, args ...any)
	// FastPath and Dataplane are the forwarders; nil means fibd's
	// (FIBDFastPath on and off).
	FastPath, Dataplane Forwarder
}

const fastPathMethod = "per round, in turn: the generator alone (an XDP drop on r0), the kernel (ip_forward, an XDP_PASS " +
	"on r0 for veth NAPI), fibd with --fast-path=off and fibd with --fast-path=on; the generator is BPF_PROG_RUN live " +
	"frames (XDP_TX), one thread pinned per CPU, flat out for the trial; pps = frames the sink's XDP program counted " +
	"over the trial; CPU per packet = (busy jiffies of all cores from /proc/stat − the generator-only trial's busy " +
	"time per offered frame × frames offered) / frames forwarded, so the sink's receive counts against every row alike; " +
	"figures are medians over rounds, ratios medians of per-round ratios"
