// Package fwdbench measures packet forwarding on a three-namespace veth
// topology, src → router → dst, the harness behind `fibbench forward`.
//
// The src namespace runs a Go AF_PACKET generator that sends pre-built
// 60-byte UDP frames (sendmmsg, one or two OS-locked threads, as fast as
// it can for a fixed time) to ≥ 64k destinations spread over the
// benchmarking range 198.18.0.0/15. The dst namespace owns that whole
// range (a local route) and discards the traffic at a UDP socket that is
// never read, so it sends no ICMP; packets are counted at its veth
// (rx_packets over rtnetlink). The router namespace forwards, in turn:
//
//   - the kernel (ip_forward=1, static route and neighbour): the baseline;
//   - the bare loop: AF_PACKET RX → rewrite MACs and TTL → sendmmsg, through
//     dataplane/afpacket, with no parsing beyond that and no lookup — the
//     floor any userspace dataplane on this I/O pays (or another bare
//     loop, e.g. BareXDP, for a dataplane on other I/O);
//   - a forwarder under test: any Forwarder hook (fibd's dataplane), also
//     with a full table loaded if the caller provides that variant;
//   - optionally a second forwarder to compare against (fibd on
//     AF_PACKET when the one under test runs on AF_XDP).
//
// ForIO assembles the Options `fibbench forward --io=…` uses.
//
// Addresses: 192.0.2.0/24 on src↔router, 198.51.100.0/24 on router↔dst,
// 198.18.0.0/15 as destinations; neighbours and routes are static, so
// nothing depends on ARP timing. Namespaces are named fibd-… and removed
// when Run returns, also on error.
//
// CPU per packet of a userspace forwarder is getrusage(RUSAGE_SELF)
// user+system time over the measurement window minus the generator
// threads' own getrusage(RUSAGE_THREAD) deltas, divided by the packets
// counted at the sink. That charges the forwarder with everything the
// process spends that is not generating — its goroutines, the Go runtime
// (sysmon, GC) — and with the kernel work its system calls do inline: on
// veth a send runs the receiving namespace's input path in the sender's
// softirq, so the sink's (cheap) delivery is in the figure too, exactly as
// it is in the kernel baseline's generator thread. This kernel has no
// IRQ time accounting (CONFIG_IRQ_TIME_ACCOUNTING unset), so softirq
// work lands in the thread's system time rather than vanishing.
package fwdbench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/fibd/fibd/fib/adj"
)

// Sentinel errors.
var (
	// ErrNotSupported is returned by Run off Linux.
	ErrNotSupported = errors.New("fwdbench: needs Linux network namespaces")
	// ErrUnknownIO is returned by ForIO for an I/O that is neither
	// "afpacket" nor "xdp".
	ErrUnknownIO = errors.New("fwdbench: unknown packet I/O (want afpacket or xdp)")
)

// Fixed addressing of the topology.
var (
	SrcAddr     = netip.MustParseAddr("192.0.2.1")
	RouterIn    = netip.MustParseAddr("192.0.2.2")
	RouterOut   = netip.MustParseAddr("198.51.100.1")
	SinkAddr    = netip.MustParseAddr("198.51.100.2")
	DestPrefix  = netip.MustParsePrefix("198.18.0.0/15")
	SrcPrefix   = netip.MustParsePrefix("192.0.2.0/24")
	SinkPrefix  = netip.MustParsePrefix("198.51.100.0/24")
	DiscardPort = uint16(9) // RFC 863
)

// Env tells a forwarder under test where it runs. Traffic arrives on In
// from the generator and must leave by Out towards NextHop, the sink,
// which owns Dests.
type Env struct {
	In, Out       string
	InMAC, OutMAC adj.MAC
	NextHop       netip.Addr
	NextHopMAC    adj.MAC
	Dests         netip.Prefix
	ready         func()
}

// Ready must be called once the forwarder can take traffic (its sockets
// are open). The generator starts only then.
func (e *Env) Ready() { e.ready() }

// Forwarder is a forwarder under test. It is called on an OS thread inside
// the router namespace: sockets it opens on that goroutine belong there
// (a goroutine it starts runs in whatever namespace its thread has, so
// open the sockets first, then start goroutines). It forwards until ctx is
// done and then returns; a non-nil error fails the run.
type Forwarder func(ctx context.Context, env *Env) error

// Options configure Run. The zero value runs the kernel and the bare loop
// for 3 s each with one and two generators.
type Options struct {
	// IO labels the packet I/O of the dataplane under test in the result
	// ("afpacket", "xdp"); it changes nothing else.
	IO string
	// Duration of each measured phase; default 3 s.
	Duration time.Duration
	// Trial is the length of each trial of the throughput search; default
	// 1 s.
	Trial time.Duration
	// Rounds is how many interleaved rounds measure the one-generator
	// throughput of the kernel and the dataplane (and AF_PACKET); the
	// median counts, and each ratio is the median of the per-round ratios
	// with its range. Default MinRounds; tests of the tooling use fewer.
	Rounds int
	// CPURounds is how many interleaved rounds measure CPU per packet at
	// the common rate (the median counts); default MinRounds.
	CPURounds int
	// Destinations is how many distinct addresses of Dests the generator
	// cycles through; default and minimum 65536.
	Destinations int
	// Dataplane is the forwarder under test; nil measures the bare loop
	// in its place.
	Dataplane Forwarder
	// DataplaneName labels it in the result; default "bare" or "dataplane".
	DataplaneName string
	// FullTable, if set, is the same dataplane with the full IPv4 table
	// loaded in two FIBs; it is measured with one generator.
	FullTable Forwarder
	// Bare is the reference loop the dataplane's CPU is compared with;
	// nil is the AF_PACKET Bare loop.
	Bare Forwarder
	// AFPacket, if set, is a second forwarder measured with one generator
	// for comparison — fibd's dataplane on AF_PACKET when the one under
	// test runs on AF_XDP: afpacket_forwarded_pps and ratio_vs_afpacket.
	AFPacket Forwarder
	// AFPacketName labels it in the phases; default "afpacket".
	AFPacketName string
	// Sink chooses how the dst namespace disposes of the traffic.
	Sink Sink
	// Workers, if set, measures the scaling curve instead of the
	// comparison: DataplaneWorkers(n) for n = 1 … Workers on veths with
	// Workers queues, two generators, one throughput search per n and
	// round (Scaling in the result).
	Workers int
	// DataplaneWorkers is the dataplane under test with n RX workers per
	// interface, for Workers.
	DataplaneWorkers func(n int) Forwarder
	// Log, if set, receives progress lines.
	Log func(format string, args ...any)
}

// ScalePoint is the scaling curve at one number of workers: the medians
// over the rounds.
type ScalePoint struct {
	Workers        int     `json:"workers"`
	ForwardedPPS   float64 `json:"forwarded_pps"`
	LossPct        float64 `json:"loss_pct"`
	CPUUsPerPacket float64 `json:"cpu_us_per_packet"`
	// SpeedUp is forwarded_pps over the one-worker figure: the median of
	// the per-round ratios, with their range.
	SpeedUp    float64 `json:"speedup_vs_1_worker"`
	SpeedUpMin float64 `json:"speedup_vs_1_worker_min"`
	SpeedUpMax float64 `json:"speedup_vs_1_worker_max"`
}

// Sink is how the dst namespace disposes of the traffic. Its cost lands
// on whoever sends into it (on veth the receiver's input path runs in the
// sender's softirq): the generator for the kernel baseline, the forwarder
// for userspace dataplanes.
type Sink uint8

const (
	// SinkDiscard (the default): the sink owns all of DestPrefix (a local
	// route) and a bound, never-read UDP socket on the discard port drops
	// the datagrams once its minimal receive buffer is full — full local
	// delivery, no ICMP.
	SinkDiscard Sink = iota
	// SinkBlackhole: a blackhole route for DestPrefix; the sink drops each
	// packet at its input route lookup.
	SinkBlackhole
	// SinkXDP: the sink owns DestPrefix, and an XDP program on its
	// interface counts and drops every frame before the IP stack — the
	// cheapest sink, so the forwarder's CPU per packet is its own work and
	// not the sink's input path (which on veth runs on the sender's core).
	SinkXDP
)

// ParseSink parses a Sink's String form.
func ParseSink(s string) (Sink, error) {
	switch s {
	case "discard", "":
		return SinkDiscard, nil
	case "blackhole":
		return SinkBlackhole, nil
	case "xdp":
		return SinkXDP, nil
	}
	return 0, fmt.Errorf("fwdbench: unknown sink %q (want discard, blackhole or xdp)", s)
}

func (s Sink) String() string {
	switch s {
	case SinkBlackhole:
		return "blackhole"
	case SinkXDP:
		return "xdp"
	}
	return "discard"
}

// Phase is one measured run.
type Phase struct {
	Name         string  `json:"name"`
	Generators   int     `json:"generators"`
	Seconds      float64 `json:"seconds"`
	Offered      uint64  `json:"offered"`
	Forwarded    uint64  `json:"forwarded"`
	OfferedPPS   float64 `json:"offered_pps"`
	ForwardedPPS float64 `json:"forwarded_pps"`
	LossPct      float64 `json:"loss_pct"`
	// CPUUsPerPacket is the forwarder's CPU per forwarded packet (absent
	// for the kernel, which forwards inside the generator's threads).
	CPUUsPerPacket float64 `json:"cpu_us_per_packet,omitempty"`
	// CPUSysPct is the kernel's (system time's) share of that CPU: the
	// send/receive system calls and, on veth, the receiving side's input
	// path run inline.
	CPUSysPct float64 `json:"cpu_sys_pct,omitempty"`
	// GeneratorCPUUsPerPacket is the generator threads' CPU per offered
	// packet (for the kernel phases it includes the forwarding).
	GeneratorCPUUsPerPacket float64 `json:"generator_cpu_us_per_packet"`
	// RatePPS is the paced rate the throughput search settled on; 0 when
	// the forwarder kept up with the generators running flat out.
	RatePPS float64 `json:"offered_rate_pps"`
	// Unthrottled* are the one-second trial with the generators flat out.
	UnthrottledOfferedPPS   float64 `json:"unthrottled_offered_pps"`
	UnthrottledForwardedPPS float64 `json:"unthrottled_forwarded_pps"`
	UnthrottledLossPct      float64 `json:"unthrottled_loss_pct"`
}

// MinRounds is the default number of interleaved rounds behind a ratio.
const MinRounds = 5

// method says how the headline figures were measured.
const method = "throughput (RFC 2544 §26.1): the highest offered rate forwarded with loss ≤ 0.1 %, " +
	"found by a binary search over paced one-second trials and then measured for the full duration; " +
	"one-generator throughputs are searched in interleaved rounds (kernel and dataplane alternately first), " +
	"the headline is the median round and each ratio the median of the per-round ratios with _min/_max their range; " +
	"CPU per packet is compared at one offered rate in interleaved rounds the same way; " +
	"unthrottled_* are the generators flat out"

// Result is what `fibbench forward` prints. The headline fields are for
// the dataplane under test with one generator unless named _2gen.
type Result struct {
	Dataplane string `json:"dataplane"`
	Method    string `json:"method"`
	// CPURatePPS is the one offered rate at which the bare loop's, the
	// dataplane's and the full-table dataplane's CPU per packet are
	// measured (95 % of the lower of the two dataplanes' throughputs).
	CPURatePPS              float64  `json:"cpu_rate_pps"`
	UnthrottledOfferedPPS   float64  `json:"unthrottled_offered_pps"`
	UnthrottledForwardedPPS float64  `json:"unthrottled_forwarded_pps"`
	UnthrottledLossPct      float64  `json:"unthrottled_loss_pct"`
	IO                      string   `json:"io,omitempty"`
	Sink                    string   `json:"sink"`
	FrameBytes              int      `json:"frame_bytes"`
	Destinations            int      `json:"destinations"`
	OfferedPPS              float64  `json:"offered_pps"`
	ForwardedPPS            float64  `json:"forwarded_pps"`
	LossPct                 float64  `json:"loss_pct"`
	KernelForwardedPPS      float64  `json:"kernel_forwarded_pps"`
	RatioVsKernel           float64  `json:"ratio_vs_kernel"`
	RatioVsKernelMin        float64  `json:"ratio_vs_kernel_min"`
	RatioVsKernelMax        float64  `json:"ratio_vs_kernel_max"`
	Rounds                  int      `json:"rounds"`
	DataplaneCPUUsPerPacket float64  `json:"dataplane_cpu_us_per_packet"`
	BareForwardedPPS        float64  `json:"bare_forwarded_pps"`
	BareCPUUsPerPacket      float64  `json:"bare_cpu_us_per_packet"`
	FullTableCPUUsPerPacket *float64 `json:"full_table_cpu_us_per_packet,omitempty"`
	FullTableForwardedPPS   *float64 `json:"full_table_forwarded_pps,omitempty"`
	// CPU per packet of the dataplane over the bare loop's, and of the
	// full-table dataplane over the dataplane's: medians of the per-round
	// ratios at the common rate, with their range.
	CPURatioVsBare         float64  `json:"ratio_dataplane_vs_bare_cpu"`
	CPURatioVsBareMin      float64  `json:"ratio_dataplane_vs_bare_cpu_min"`
	CPURatioVsBareMax      float64  `json:"ratio_dataplane_vs_bare_cpu_max"`
	FullTableCPURatio      *float64 `json:"ratio_full_table_vs_dataplane_cpu,omitempty"`
	FullTableCPURatioMin   *float64 `json:"ratio_full_table_vs_dataplane_cpu_min,omitempty"`
	FullTableCPURatioMax   *float64 `json:"ratio_full_table_vs_dataplane_cpu_max,omitempty"`
	ForwardedPPS2Gen       float64  `json:"forwarded_pps_2gen"`
	KernelForwardedPPS2Gen float64  `json:"kernel_forwarded_pps_2gen"`
	AFPacketForwardedPPS   *float64 `json:"afpacket_forwarded_pps,omitempty"`
	RatioVsAFPacket        *float64 `json:"ratio_vs_afpacket,omitempty"`
	RatioVsAFPacketMin     *float64 `json:"ratio_vs_afpacket_min,omitempty"`
	RatioVsAFPacketMax     *float64 `json:"ratio_vs_afpacket_max,omitempty"`
	Phases                 []Phase  `json:"phases"`
	// Scaling is the curve of Options.Workers; what bounds it is said in
	// ScalingNote.
	Scaling     []ScalePoint `json:"scaling,omitempty"`
	ScalingNote string       `json:"scaling_note,omitempty"`
	CPUs        int          `json:"cpus,omitempty"`

	// The in-kernel fast path beside the kernel and fibd's user-space
	// engine (--io=xdp): the headline figures here, the whole comparison
	// (every row, its method) in FastPath.
	FastPathPPS            *float64        `json:"fast_path_pps,omitempty"`
	FastPathLossPct        *float64        `json:"fast_path_loss_pct,omitempty"`
	FastPathCPUUsPerPacket *float64        `json:"fast_path_cpu_us_per_packet,omitempty"`
	KernelCPUUsPerPacket   *float64        `json:"kernel_cpu_us_per_packet,omitempty"`
	FastPathRunTimeNs      *float64        `json:"fast_path_run_time_ns_per_run,omitempty"`
	FastPathVsKernelPPS    *float64        `json:"ratio_fast_path_vs_kernel_pps,omitempty"`
	FastPathVsKernelPPSMin *float64        `json:"ratio_fast_path_vs_kernel_pps_min,omitempty"`
	FastPathVsKernelPPSMax *float64        `json:"ratio_fast_path_vs_kernel_pps_max,omitempty"`
	FastPathVsKernelCPU    *float64        `json:"ratio_fast_path_vs_kernel_cpu,omitempty"`
	FastPathVsKernelCPUMin *float64        `json:"ratio_fast_path_vs_kernel_cpu_min,omitempty"`
	FastPathVsKernelCPUMax *float64        `json:"ratio_fast_path_vs_kernel_cpu_max,omitempty"`
	FastPathVsUserCPU      *float64        `json:"ratio_fast_path_vs_dataplane_cpu,omitempty"`
	FastPathVsUserCPUMin   *float64        `json:"ratio_fast_path_vs_dataplane_cpu_min,omitempty"`
	FastPathVsUserCPUMax   *float64        `json:"ratio_fast_path_vs_dataplane_cpu_max,omitempty"`
	FastPath               *FastPathResult `json:"fast_path,omitempty"`
}

// SetFastPath records the fast-path comparison in r.
func (r *Result) SetFastPath(fp *FastPathResult) {
	r.FastPath = fp
	r.FastPathPPS, r.FastPathLossPct, r.FastPathCPUUsPerPacket = &fp.FastPathPPS, &fp.FastPathLossPct, &fp.FastPathCPUUsPerPacket
	r.KernelCPUUsPerPacket, r.FastPathRunTimeNs = &fp.KernelCPUUsPerPacket, &fp.RunTimeNsPerRun
	r.FastPathVsKernelPPS, r.FastPathVsKernelPPSMin, r.FastPathVsKernelPPSMax = &fp.PPSVsKernel, &fp.PPSVsKernelMin, &fp.PPSVsKernelMax
	r.FastPathVsKernelCPU, r.FastPathVsKernelCPUMin, r.FastPathVsKernelCPUMax = &fp.CPUVsKernel, &fp.CPUVsKernelMin, &fp.CPUVsKernelMax
	r.FastPathVsUserCPU, r.FastPathVsUserCPUMin, r.FastPathVsUserCPUMax = &fp.CPUVsDataplane, &fp.CPUVsDataplaneMin, &fp.CPUVsDataplaneMax
}
