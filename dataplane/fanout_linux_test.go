//go:build linux

package dataplane_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/fibd/fibd/dataplane/backend"
	"github.com/fibd/fibd/internal/netnstest"
)

// Two AF_PACKET workers read each interface through a fanout group and
// send on the egress interface's socket of their own number: TCP in many
// flows at once crosses intact, and every frame received is accounted for
// exactly once in the summed per-worker counters.
func TestFanoutWorkersForward(t *testing.T) {
	needTools(t, "curl")
	tp := newTopoWorkers(t, backend.AFPacket, 2)
	rc, rs := netnstest.Name("r"), netnstest.Name("r")
	client := tp.host("fc", rc, tp.rtr, 0, []string{"192.0.2.10/24", "2001:db8:1::10/64"}, "192.0.2.1", "2001:db8:1::1")
	server := tp.host("fs", rs, tp.rtr, 0, []string{"198.51.100.10/24", "2001:db8:2::10/64"}, "198.51.100.1", "2001:db8:2::1")
	tp.bind(rc, 0, 10, "192.0.2.1/24", "2001:db8:1::1/64")
	tp.bind(rs, 0, 10, "198.51.100.1/24", "2001:db8:2::1/64")
	serveHTTP(t, server.NS, "fanout")
	for _, p := range tp.e.Ports() {
		if p.RxQueues != 2 {
			t.Fatalf("port %s: %d RX workers, want 2", p.Name, p.RxQueues)
		}
	}
	const flows = 16
	var wg sync.WaitGroup
	outs := make([]string, flows)
	errs := make([]error, flows)
	for i := range flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = client.Try("sh", "-c", "head -c 100000 /dev/zero | curl -sS --max-time 20 --data-binary @- http://198.51.100.10/")
		}()
	}
	wg.Wait()
	for i, out := range outs {
		if errs[i] != nil {
			t.Fatalf("flow %d: %v\n%s", i, errs[i], out)
		}
		wantIn(t, out, fmt.Sprintf("fanout got %d bytes", 100000))
	}
	var fwd uint64
	for _, p := range tp.e.Ports() {
		c := p.Counters
		if got := c.Accounted(); got != c.RxPackets {
			t.Errorf("port %s: %d received, %d accounted for (%+v)", p.Name, c.RxPackets, got, c)
		}
		fwd += c.Forwarded
	}
	if fwd < flows*70 { // each flow's 100 kB is at least 70 full segments
		t.Errorf("forwarded %d packets for %d flows of 100 kB", fwd, flows)
	}
}
