package dataplane_test

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// TestPortMoveIsOneStep: while eth1 moves from FIB 10 to FIB 20 — which
// purges FIB 10's 50,000 routes through it — FIB 10's traffic keeps coming
// in on eth0. From the moment the move begins, none of it may leave
// through eth1: it is FIB 20's port now.
func TestPortMoveIsOneStep(t *testing.T) {
	r := newRig(t, 2)
	in := r.port("eth0", 0, 10, "192.0.2.1/24")
	out := r.port("eth1", 0, 10, "198.51.100.1/24")
	_ = in
	r.neighbor(10, out, "198.51.100.2", adj.MAC{2, 0xbb, 0, 0, 0, 2})
	r.fib(20)
	var batch []fib.Change
	for i := 0; i < 50000; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 32)
		batch = append(batch, fib.Change{Op: fib.OpAdd, Route: fib.Route{Prefix: p, Source: "bgp",
			Paths: []fib.Path{{Kind: fib.PathGateway, Gateway: netip.MustParseAddr("198.51.100.2"), Port: out}}}})
	}
	if _, err := r.fib(10).Apply(batch); err != nil {
		t.Fatal(err)
	}

	// The injector numbers its frames in the UDP payload; frames are read
	// in injection order, so the Nth frame read carries number N.
	template := build(t, frameSpec{src: "192.0.2.2", dst: "198.18.0.1", dstMAC: ifMAC(0), payload: 8})
	const payloadOff = 14 + 20 + 8 // Ethernet, IPv4, UDP
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // inject, bounded in count and time
		defer wg.Done()
		frame := append([]byte(nil), template...)
		deadline := time.Now().Add(10 * time.Second)
		for seq := uint64(0); seq < 2_000_000 && !stop.Load() && time.Now().Before(deadline); {
			binary.BigEndian.PutUint64(frame[payloadOff:], seq)
			if r.io("eth0").Inject(frame, dataplane.RxMeta{}) {
				seq++
			} else {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}()
	var leakMu sync.Mutex
	var sent []uint64 // numbers of the frames eth1 sent
	go func() {       // drain eth1's transmissions
		defer wg.Done()
		for !stop.Load() {
			for _, f := range r.io("eth1").Written() {
				if len(f) >= payloadOff+8 {
					leakMu.Lock()
					sent = append(sent, binary.BigEndian.Uint64(f[payloadOff:]))
					leakMu.Unlock()
				}
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	// Let traffic flow through eth1 first, so the test sees it working.
	deadline := time.Now().Add(5 * time.Second)
	for {
		leakMu.Lock()
		n := len(sent)
		leakMu.Unlock()
		if n > 1000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// Frames read before the move began may still be on their way out; a
	// few batches' worth of slack covers those the worker read between
	// this count and the move's first step.
	began := r.io("eth0").Stats().Read + 4*dataplane.BatchSize
	if _, err := r.e.BindPort(dataplane.PortSpec{Interface: "eth1"}, 20); err != nil {
		t.Fatal(err)
	}
	ended := r.io("eth0").Stats().Read
	time.Sleep(50 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	var before, leaked int
	for _, seq := range sent {
		if seq >= began {
			leaked++
		} else {
			before++
		}
	}
	t.Logf("eth1 sent %d frames before the move; %d frames arrived during it", before, ended-min(ended, began))
	if before == 0 {
		t.Fatalf("no traffic went out of eth1 before the move: the test proves nothing (ports %+v)", r.e.Ports())
	}
	if ended <= began {
		t.Fatal("no frame arrived while the move ran: the test proves nothing")
	}
	if leaked > 0 {
		t.Fatalf("%d of FIB 10's frames left through eth1 after it had begun to move to FIB 20", leaked)
	}
}
