package fwdbench

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/afpacket"
)

// generator is one sending thread with its own AF_PACKET socket on src0.
type generator struct {
	port   *afpacket.Port
	frames [][]byte
}

// genResult is what one generator thread did.
type genResult struct {
	sent    uint64
	elapsed time.Duration
	cpu     time.Duration // its thread's user+system time
	sys     time.Duration // of which system time
	err     error
}

// newGenerators opens n sockets in the src namespace and deals the frames
// out between them, each thread cycling through its own share.
func (t *topology) newGenerators(n int, frames [][]byte) []*generator {
	gens := make([]*generator, n)
	for i := range gens {
		var p *afpacket.Port
		// A minimal RX ring: the generator's socket receives nothing
		// (PACKET_IGNORE_OUTGOING hides its own frames).
		cfg := afpacket.Config{BlockSize: 64 << 10, NumBlocks: 2}
		if err := t.src.Do(func() (err error) { p, err = afpacket.Open(ifSrc, cfg); return err }); err != nil {
			t.tb.Fatalf("generator socket: %v", err)
		}
		t.tb.Cleanup(func() { _ = p.Close() })
		share := make([][]byte, 0, len(frames)/n+1)
		for j := i; j < len(frames); j += n {
			share = append(share, frames[j])
		}
		gens[i] = &generator{port: p, frames: share}
	}
	return gens
}

// run sends as fast as the socket takes frames until d has passed, on a
// locked OS thread so its CPU time can be read per thread.
// It stops early when abort is set (the run's context was cancelled).
func (g *generator) run(d time.Duration, start <-chan struct{}, abort *atomic.Bool, out chan<- genResult) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	<-start
	var r genResult
	cpu0, sys0 := threadCPU(), threadSys()
	t0 := time.Now()
	deadline := t0.Add(d)
	i, n := 0, len(g.frames)
	for {
		// A vDSO clock read per batch is noise next to a 64-frame
		// sendmmsg, and keeps the phase length exact under load.
		if time.Now().After(deadline) || abort.Load() {
			break
		}
		end := min(i+dataplane.BatchSize, n)
		k, err := g.port.WriteBatch(g.frames[i:end])
		r.sent += uint64(k)
		if err != nil {
			r.err = err
			break
		}
		if i = end; i == n {
			i = 0
		}
	}
	r.elapsed = time.Since(t0)
	r.cpu = threadCPU() - cpu0
	r.sys = threadSys() - sys0
	out <- r
}
