package fwdbench

import (
	"net/netip"

	"context"
	"encoding/json"
	"github.com/fibd/fibd/dataplane/backend"
	"testing"
	"time"

	"github.com/fibd/fibd/internal/netnstest"
)

// TestRunHarness runs every phase briefly and checks that the numbers are
// sane: traffic flowed through the kernel and the bare loop, the bare loop
// was charged some CPU, and the sink stayed silent (Run fails otherwise).
func TestRunHarness(t *testing.T) {
	netnstest.Require(t)
	d := 2 * time.Second
	if testing.Short() {
		d = 700 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Duration: d, Log: t.Logf})
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
	if _, err := Run(context.Background(), Options{Duration: 100 * time.Millisecond, Dataplane: bad}); err == nil {
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

// TestFIBDForwards runs fibd's own dataplane through the harness, with a
// few routes and with the full table in two FIBs, on both backends.
func TestFIBDForwards(t *testing.T) {
	netnstest.Require(t)
	for _, kind := range []string{backend.AFPacket, backend.XDP} {
		t.Run(kind, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			res, err := Run(ctx, Options{Duration: time.Second, Dataplane: FIBD(kind, false, nil), DataplaneName: "fibd-" + kind,
				FullTable: FIBD(kind, true, nil), Log: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			out, _ := json.MarshalIndent(res, "", "  ")
			t.Logf("%s", out)
			if res.ForwardedPPS <= 0 || res.FullTableForwardedPPS == nil || *res.FullTableForwardedPPS <= 0 {
				t.Fatalf("fibd forwarded nothing")
			}
			if res.LossPct > 50 {
				t.Fatalf("fibd lost %.1f%% of the offered packets", res.LossPct)
			}
		})
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
