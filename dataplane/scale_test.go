package dataplane_test

import (
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/pktio"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/neigh"
	"github.com/fibd/fibd/neigh/neightest"
)

// sinkIO is one queue of a fake multi-queue interface: it receives
// nothing and takes every frame it is given, counting them in a counter
// of its own cache line, so the I/O adds no shared write of its own to
// what the scaling benchmark measures.
type sinkIO struct {
	_      cpu.CacheLinePad
	sent   atomic.Uint64
	closed chan struct{}
	once   sync.Once
	_      cpu.CacheLinePad
}

func newSinkIO() *sinkIO         { return &sinkIO{closed: make(chan struct{})} }
func (s *sinkIO) BatchSize() int { return pktio.BatchSize }
func (s *sinkIO) ReadBatch([][]byte, []pktio.RxMeta) (int, error) {
	<-s.closed
	return 0, pktio.ErrClosed
}
func (s *sinkIO) WriteBatch(bufs [][]byte) (int, error) {
	s.sent.Add(uint64(len(bufs)))
	return len(bufs), nil
}
func (s *sinkIO) Close() error { s.once.Do(func() { close(s.closed) }); return nil }

// newQueuesRig is a rig whose interfaces each have queues sink queues.
func newQueuesRig(t testing.TB, nIfaces, queues int) *rig {
	r := &rig{t: t, reg: fib.NewRegistry(fib.Options{}),
		links: &fakeLinks{links: map[string]dataplane.LinkInfo{}, prepared: map[string]int{}, stripped: map[string]bool{}},
		clock: neightest.NewClock(time.Unix(1e9, 0))}
	for i := 0; i < nIfaces; i++ {
		name := "eth" + string(rune('0'+i))
		r.links.links[name] = dataplane.LinkInfo{Name: name, Index: 10 + i, MAC: ifMAC(i), MTU: 1500, Up: true}
	}
	open := func(string, int, dataplane.OpenOptions) ([]dataplane.PacketIO, string, error) {
		ios := make([]dataplane.PacketIO, queues)
		for i := range ios {
			ios[i] = newSinkIO()
		}
		return ios, "fake", nil
	}
	e, err := dataplane.New(dataplane.Config{Registry: r.reg, Open: open, Links: r.links,
		Logger: slog.New(slog.DiscardHandler), Neigh: neigh.Config{Clock: r.clock, Rand: neightest.Rand(0.5)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	r.e = e
	return r
}

// BenchmarkWorkersScale forwards one port's traffic with as many workers
// as GOMAXPROCS, all through the same ingress port, FIB and egress port
// (the worst case for sharing: every counter they bump is the same
// port's), each on its own RX and TX queue. Run it with -cpu 1,2,…: a
// worker's rate (pps/worker) that stays where the one-worker rate is says
// no cache line is written by two workers. The private-* runs are the
// control: each worker has an engine of its own, so what they lose
// against one worker is the machine's (shared caches, memory, the
// hypervisor), not fibd's.
func BenchmarkWorkersScale(b *testing.B) {
	for _, c := range []struct {
		name string
		spec frameSpec
	}{
		{"ipv4", frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), payload: 18}},
		{"ipv6", frameSpec{src: "2001:db8:1::10", dst: "2001:db8:2::10", dstMAC: ifMAC(0), payload: 18}},
	} {
		for _, private := range []bool{false, true} {
			name := "shared-" + c.name
			if private {
				name = "private-" + c.name
			}
			b.Run(name, func(b *testing.B) {
				workers := max(runtime.GOMAXPROCS(0), 1)
				n := 1
				if private {
					n = workers
				}
				var rigs []*rig
				var engines []*dataplane.Engine
				for range n {
					r := newQueuesRig(b, 2, workers)
					r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
					rigs, engines = append(rigs, r), append(engines, r.e)
				}
				dataplane.ParallelForward(b, engines, "eth0", build(b, c.spec))
				var fwd uint64
				for _, r := range rigs {
					fwd += r.e.Ports()[0].Counters.Forwarded
				}
				if fwd < uint64(b.N) {
					b.Fatalf("forwarded %d, want at least %d: the measured path did not forward", fwd, b.N)
				}
			})
		}
	}
}

// Workers forwarding through one port at once each count in their own
// shard: the sums read afterwards are exact, on the ingress port, the
// egress port, the FIB and the egress queues together.
func TestWorkerCountersSum(t *testing.T) {
	const workers, batches = 3, 200
	r := newQueuesRig(t, 2, workers)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	frame := build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), payload: 18})
	dataplane.ForwardConcurrently(r.e, "eth0", frame, workers, batches)
	want := uint64(workers * batches * dataplane.BatchSize)
	ps := r.e.Ports()
	in, out := ps[0].Counters, ps[1].Counters
	if in.RxPackets != want || in.Forwarded != want || in.Accounted() != want {
		t.Errorf("ingress: rx %d, forwarded %d, accounted %d; want %d each", in.RxPackets, in.Forwarded, in.Accounted(), want)
	}
	if out.TxPackets != want || out.TxDropped() != 0 {
		t.Errorf("egress: tx %d, tx drops %d; want %d and 0", out.TxPackets, out.TxDropped(), want)
	}
	if f := r.e.FIBCounters()[10]; f.Forwarded != want {
		t.Errorf("FIB 10 forwarded %d, want %d", f.Forwarded, want)
	}
}
