package fwdbench

import (
	"context"
	"encoding/json"
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
