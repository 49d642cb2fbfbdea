package hostbench

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/fibd/fibd/bench/fibdproc"
	"github.com/fibd/fibd/internal/netnstest"
)

// TestQuick is `fibbench hoststack` at a small size against a real fibd
// binary: one round of 1 s streams and 1 s of HTTP on each path. It checks
// that every path moved data and answered requests, that the stream into
// FIB 10 went through the host stack (punted, merged into few injected
// acknowledgements), and that nothing but the punt queue's own bound
// dropped on the way. The figures themselves are `fibbench hoststack`'s.
func TestQuick(t *testing.T) {
	netnstest.Require(t)
	bin, cleanup, err := fibdproc.Build(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{FibdPath: bin, Rounds: 1, TCPFor: time.Second, HTTPFor: time.Second, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("%s", out)
	if res.TCPMbps <= 0 || res.KernelTCPMbps <= 0 || res.KernelDefaultTCPMbps <= 0 {
		t.Fatalf("a path moved nothing: %+v", res)
	}
	if res.HTTPReqPerSec <= 0 || res.KernelHTTPReqPerSec <= 0 {
		t.Fatalf("a path answered no request: %+v", res)
	}
	if res.Punted == 0 || res.Injected == 0 {
		t.Fatalf("the stream did not go through FIB 10's host stack: %+v", res)
	}
	for reason, n := range res.HostDrops {
		if reason != "host-queue-full" {
			t.Errorf("host stack dropped %d for %s", n, reason)
		}
	}
}
