package dataplane

import "testing"

// ForwardAllocs runs the whole per-batch forwarding function on one frame
// received on ifname, runs times, on a worker of its own (the interface's
// real worker stays blocked in ReadBatch), and reports allocations per run.
func ForwardAllocs(e *Engine, ifname string, frame []byte, meta RxMeta, runs int) float64 {
	e.mu.Lock()
	ifc := e.mu.ifaces[ifname]
	e.mu.Unlock()
	w := newWorker(e, ifc)
	return testing.AllocsPerRun(runs, func() {
		m := meta
		m.Len = copy(w.bufs[0][Headroom:], frame)
		w.meta[0] = m
		w.batch(1)
	})
}
