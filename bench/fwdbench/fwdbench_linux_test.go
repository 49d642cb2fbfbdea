package fwdbench

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane/backend"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/internal/race"
	"github.com/fibd/fibd/internal/testenv"
)

// TestRunHarness runs every phase briefly and checks that the numbers are
// sane: traffic flowed through the kernel and the bare loop, the bare loop
// was charged some CPU, and the sink stayed silent (Run fails otherwise).
func TestRunHarness(t *testing.T) {
	netnstest.Require(t)
	// Short phases: this checks the harness, not the numbers.
	d := 700 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Two interleaved rounds exercise the rounds; the benchmark runs five.
	res, err := Run(ctx, Options{Duration: d, Trial: 500 * time.Millisecond, Rounds: 2, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("%s", out)
	if res.KernelForwardedPPS <= 0 || res.KernelForwardedPPS2Gen <= 0 {
		t.Errorf("kernel forwarded nothing: %v / %v pps", res.KernelForwardedPPS, res.KernelForwardedPPS2Gen)
	}
	if res.BareForwardedPPS <= 0 || res.ForwardedPPS2Gen <= 0 {
		t.Errorf("bare loop forwarded nothing: %v / %v pps", res.BareForwardedPPS, res.ForwardedPPS2Gen)
	}
	if res.BareCPUUsPerPacket <= 0 || res.BareCPUUsPerPacket > 1000 {
		t.Errorf("bare CPU per packet %v µs is not plausible", res.BareCPUUsPerPacket)
	}
	if res.Destinations < 65536 {
		t.Errorf("%d destinations", res.Destinations)
	}
	for _, p := range res.Phases {
		if p.Forwarded > p.Offered+p.Offered/100 {
			t.Errorf("%s: sink counted %d > %d offered: foreign traffic at the sink", p.Name, p.Forwarded, p.Offered)
		}
	}
}

// TestForwarderErrorFailsRun: a dataplane that cannot start is reported,
// and the namespaces are still removed.
func TestForwarderErrorFailsRun(t *testing.T) {
	netnstest.Require(t)
	bad := func(ctx context.Context, env *Env) error { return context.DeadlineExceeded }
	if _, err := Run(context.Background(), Options{Duration: 100 * time.Millisecond, Rounds: 1, Dataplane: bad}); err == nil {
		t.Fatal("Run succeeded with a failing dataplane")
	}
}

// TestCancelStopsRunAndCleansUp: cancelling mid-phase ends Run promptly
// with the context's error.
func TestCancelStopsRunAndCleansUp(t *testing.T) {
	netnstest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := Run(ctx, Options{Duration: time.Minute})
	if err == nil {
		t.Fatal("Run ignored the cancelled context")
	}
	if d := time.Since(t0); d > 20*time.Second {
		t.Fatalf("Run took %v after cancellation", d)
	}
}

// TestFIBDForwards runs `fibbench forward`'s workload (ForIO) briefly on
// both backends: fibd's dataplane with a few routes and with the full table
// in two FIBs, the bare loop of the same I/O and, on XDP, fibd on
// AF_PACKET for comparison. It checks behaviour — every forwarder phase
// delivered packets, every headline JSON field is there — and a sane
// throughput. It runs without the race detector only (make unit's second
// pass): under it the dataplane is ~10× slower and the full table takes
// minutes to load; TestRunHarness and the dataplane's own tests cover the
// concurrency under it.
func TestFIBDForwards(t *testing.T) {
	netnstest.Require(t)
	if race.Enabled {
		testenv.Skip(t, "throughput under the race detector means nothing; make unit runs it without")
	}
	for _, io := range []string{backend.AFPacket, backend.XDP} {
		t.Run(io, func(t *testing.T) {
			opt, err := ForIO(io, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Two rounds each: enough to exercise the interleaving; the
			// benchmark itself runs MinRounds.
			opt.Duration, opt.Trial, opt.Rounds, opt.CPURounds, opt.Log = 500*time.Millisecond, 300*time.Millisecond, 2, 2, t.Logf
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			res, err := Run(ctx, opt)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := json.MarshalIndent(res, "", "  ")
			t.Logf("%s", out)
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			if m["io"] != io {
				t.Errorf("io = %v, want %q", m["io"], io)
			}
			positive := []string{"offered_pps", "forwarded_pps", "kernel_forwarded_pps", "ratio_vs_kernel", "ratio_dataplane_vs_bare_cpu",
				"dataplane_cpu_us_per_packet", "bare_cpu_us_per_packet", "forwarded_pps_2gen", "kernel_forwarded_pps_2gen"}
			positive = append(positive, "full_table_cpu_us_per_packet", "full_table_forwarded_pps")
			if io == backend.XDP {
				positive = append(positive, "afpacket_forwarded_pps", "ratio_vs_afpacket")
			}
			for _, k := range positive {
				if v, ok := m[k].(float64); !ok || v <= 0 {
					t.Errorf("%s = %v, want a positive number", k, m[k])
				}
			}
			if _, ok := m["loss_pct"].(float64); !ok {
				t.Errorf("loss_pct missing")
			}
			wantPhases := 2*opt.Rounds + 3 // kernel and dataplane per round, kernel 2-gen, bare, dataplane 2-gen
			if opt.FullTable != nil {
				wantPhases++
			}
			wantPhases += opt.CPURounds * 2 // bare and dataplane at the common rate
			if opt.FullTable != nil {
				wantPhases += opt.CPURounds
			}
			if opt.AFPacket != nil {
				wantPhases += opt.Rounds
			}
			for _, r := range []string{"ratio_vs_kernel", "ratio_dataplane_vs_bare_cpu", "ratio_vs_afpacket"} {
				if _, ok := m[r]; !ok {
					continue
				}
				lo, hi, med := m[r+"_min"].(float64), m[r+"_max"].(float64), m[r].(float64)
				if !(lo <= med && med <= hi) || lo <= 0 {
					t.Errorf("%s = %v, its range %v–%v does not hold it", r, med, lo, hi)
				}
			}
			if len(res.Phases) != wantPhases {
				t.Errorf("%d phases, want %d", len(res.Phases), wantPhases)
			}
			for _, p := range res.Phases {
				if p.Forwarded == 0 {
					t.Errorf("phase %s with %d generators forwarded nothing", p.Name, p.Generators)
				}
			}
			if res.LossPct > 50 {
				t.Errorf("fibd lost %.1f%% of the offered packets", res.LossPct)
			}
		})
	}
}

func TestForIORejectsUnknown(t *testing.T) {
	for _, io := range []string{"", "auto", "dpdk"} {
		if _, err := ForIO(io, nil); !errors.Is(err, ErrUnknownIO) {
			t.Errorf("ForIO(%q) = %v, want ErrUnknownIO", io, err)
		}
	}
}

func TestBenchRoutesTileTheRange(t *testing.T) {
	rs := benchRoutes(DestPrefix, 1)
	next := DestPrefix.Addr()
	lens := map[int]int{}
	for _, p := range rs {
		if p.Addr() != next || p.Masked() != p {
			t.Fatalf("%v does not start at %v", p, next)
		}
		lens[p.Bits()]++
		next = lastAddrOf(p).Next()
	}
	if next != netip.MustParseAddr("198.20.0.0") {
		t.Fatalf("tiling ends at %v", next)
	}
	if len(lens) < 6 || lens[24] < len(rs)/3 {
		t.Fatalf("length mix %v", lens)
	}
}

// TestFastPathHarness runs the fast-path comparison briefly: the
// harness, not the numbers. Every row must forward, the fast path must
// keep up with what it is offered at this rate, and its program's run
// statistics must have counted.
func TestFastPathHarness(t *testing.T) {
	netnstest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := RunFastPath(ctx, FastPathOptions{Duration: 500 * time.Millisecond, Rounds: 1, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("%s", out)
	if len(res.Rows) != 3 {
		t.Fatalf("%d rows, want kernel, user space, fast path", len(res.Rows))
	}
	// CPU per packet is a difference of two busy times: over half-second
	// trials under the race detector it can come out negative, so only
	// the traffic is checked here.
	for _, r := range res.Rows {
		if r.ForwardedPPS <= 0 || math.IsNaN(r.CPUUsPerPacket) {
			t.Errorf("%s forwarded %.0f pps at %.3f µs per packet", r.Name, r.ForwardedPPS, r.CPUUsPerPacket)
		}
	}
	if res.FastPathLossPct > 1 {
		t.Errorf("the fast path lost %.2f %% of what it was offered", res.FastPathLossPct)
	}
	if res.RunTimeNsPerRun <= 0 {
		t.Error("no run time counted for the fast path program (kernel.bpf_stats_enabled)")
	}
}
