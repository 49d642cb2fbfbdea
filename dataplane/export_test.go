package dataplane

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fibd/fibd/fib/adj"
)

// ForwardAllocs runs the whole per-batch forwarding function on one frame
// received on ifname, runs times, on a worker of its own (the interface's
// real worker stays blocked in ReadBatch), and reports allocations per run.
func ForwardAllocs(e *Engine, ifname string, frame []byte, meta RxMeta, runs int) float64 {
	e.mu.Lock()
	ifc := e.mu.ifaces[ifname]
	e.mu.Unlock()
	w := newWorker(e, ifc, ifc.live.Load())
	return testing.AllocsPerRun(runs, func() {
		m := meta
		m.Len = copy(w.bufs[0][Headroom:], frame)
		w.meta[0] = m
		w.batch(1)
	})
}

// ForwardBench times the per-batch forwarding function on batches of n
// copies of one frame received on ifname, with its own worker.
func ForwardBench(b *testing.B, e *Engine, ifname string, frame []byte, n int) {
	e.mu.Lock()
	ifc := e.mu.ifaces[ifname]
	e.mu.Unlock()
	w := newWorker(e, ifc, ifc.live.Load())
	for i := 0; i < n; i++ {
		w.meta[i] = RxMeta{Len: copy(w.bufs[i][Headroom:], frame)}
	}
	for b.Loop() {
		for i := 0; i < n; i++ {
			// Forwarding rewrote the frame in place; restore it.
			copy(w.bufs[i][Headroom:], frame)
		}
		w.batch(n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/packet")
}

// HoldLock takes the engine's mutex, as a control call in progress does,
// and returns its release: the packet path must go on without it.
func HoldLock(e *Engine) (release func()) {
	e.mu.Lock()
	return e.mu.Unlock
}

// FrameRunner runs the per-frame path synchronously on a worker of its own
// for one interface (the interface's real worker stays blocked in
// ReadBatch): what a fuzz target needs to check each frame's accounting
// as soon as it returns.
type FrameRunner struct{ w *worker }

// NewFrameRunner returns a runner for ifname, which must be open.
func NewFrameRunner(e *Engine, ifname string) *FrameRunner {
	e.mu.Lock()
	ifc := e.mu.ifaces[ifname]
	e.mu.Unlock()
	return &FrameRunner{w: newWorker(e, ifc, ifc.live.Load())}
}

// Run handles one received frame (copied into a receive buffer, so the
// caller's slice is untouched) and transmits what it made. Frames longer
// than the worker's buffers are cut, as the backends' would be, and marked
// truncated.
func (r *FrameRunner) Run(frame []byte, meta RxMeta) {
	meta.Len = copy(r.w.bufs[0][Headroom:], frame)
	if len(frame) > meta.Len {
		meta.Truncated = true
	}
	r.w.meta[0] = meta
	r.w.batch(1)
}

// HostInjector runs the host-injection path synchronously on a worker of
// its own: what a fuzz target needs to check each packet's accounting.
type HostInjector struct {
	w  *worker
	h  *host
	id adj.FIBID
}

// NewHostInjector returns an injector for FIB id, whose host stack must
// be attached.
func NewHostInjector(e *Engine, id adj.FIBID) *HostInjector {
	return &HostInjector{w: newWorker(e, nil, nil), h: e.hostOf(id), id: id}
}

// Inject handles one packet as if the host had sent it (cut to the
// buffer, as a TUN read would be).
func (hi *HostInjector) Inject(pkt []byte) {
	f, _ := hi.w.e.reg.Get(hi.id)
	n := copy(hi.w.bufs[0][Headroom:], pkt)
	hi.w.inject(hi.h, f, hi.w.bufs[0], n)
	hi.w.flush()
}

// HostOutcomes sums what became of the packets a host sent: injected,
// queued for a neighbour, or dropped with a reason on the way out.
func HostOutcomes(h HostInfo) uint64 {
	n := h.Injected + h.Queued
	for name, v := range h.Drops {
		if name != DropHostQueueFull.String() && name != "host-write-failed" {
			n += v
		}
	}
	return n
}

// ParallelForward runs the per-batch forwarding function on full batches
// of one frame received on ifname, with one worker per goroutine of
// b.RunParallel (GOMAXPROCS of them: go test -cpu), each reading as RX
// queue i and so sending on egress queue i. Goroutine i forwards through
// engines[i mod len(engines)]: one engine for all measures what the
// workers share, one each is the control with nothing shared but the
// machine. It reports each worker's own cost per packet (wall time ×
// workers / packets) and rate: with no cache line written by two workers,
// both stay as they are with one worker.
func ParallelForward(b *testing.B, engines []*Engine, ifname string, frame []byte) {
	type target struct {
		e    *Engine
		ifc  *iface
		live *ifaceLive
	}
	ts := make([]target, len(engines))
	for i, e := range engines {
		e.mu.Lock()
		ifc := e.mu.ifaces[ifname]
		e.mu.Unlock()
		ts[i] = target{e, ifc, ifc.live.Load()}
	}
	var next atomic.Int32
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) - 1)
		t := ts[i%len(ts)]
		w := newWorker(t.e, t.ifc, t.live)
		defer t.e.slots.put(w.slot)
		w.queue = i
		for i := range BatchSize {
			w.meta[i] = RxMeta{Len: copy(w.bufs[i][Headroom:], frame)}
		}
		for pb.Next() {
			for i := range BatchSize {
				copy(w.bufs[i][Headroom:], frame) // forwarding rewrote it in place
			}
			w.batch(BatchSize)
		}
	})
	workers := int(next.Load())
	perWorker := float64(b.Elapsed().Nanoseconds()) * float64(workers) / float64(b.N*BatchSize)
	b.ReportMetric(perWorker, "worker-ns/packet")
	b.ReportMetric(1e9/perWorker, "pps/worker")
	b.ReportMetric(float64(workers), "workers")
}

// ForwardConcurrently forwards batches full batches of frame, received on
// ifname, on each of workers workers at once (RX queues 0…workers-1).
func ForwardConcurrently(e *Engine, ifname string, frame []byte, workers, batches int) {
	e.mu.Lock()
	ifc := e.mu.ifaces[ifname]
	e.mu.Unlock()
	live := ifc.live.Load()
	var wg sync.WaitGroup
	for q := range workers {
		w := newWorker(e, ifc, live)
		w.queue = q
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.slots.put(w.slot)
			for range batches {
				for i := range BatchSize {
					w.meta[i] = RxMeta{Len: copy(w.bufs[i][Headroom:], frame)}
				}
				w.batch(BatchSize)
			}
		}()
	}
	wg.Wait()
}
