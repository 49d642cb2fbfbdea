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
// pacedBatch is the batch a paced generator sends at a time: small, so
// the offered load is smooth at the forwarder's timescale (16 frames are
// ~50 µs at 300k pps, under the forwarder's ring and batch sizes).
const pacedBatch = 16

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

// run sends until d has passed, on a locked OS thread so its CPU time can
// be read per thread: as fast as the socket takes frames when rate is 0,
// else paced to rate frames per second (in batches of pacedBatch, each
// released when its time has come). It stops early when abort is set (the
// run's context was cancelled).
func (g *generator) run(d time.Duration, rate float64, start <-chan struct{}, abort *atomic.Bool, out chan<- genResult) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	<-start
	var r genResult
	cpu0, sys0 := threadCPU(), threadSys()
	t0 := time.Now()
	deadline := t0.Add(d)
	i, n := 0, len(g.frames)
	batch := dataplane.BatchSize
	if rate > 0 {
		batch = pacedBatch
	}
	for {
		// A vDSO clock read per batch is noise next to a sendmmsg, and
		// keeps the phase length exact under load.
		now := time.Now()
		if now.After(deadline) || abort.Load() {
			break
		}
		if rate > 0 {
			// The next batch is due when the frames sent so far have had
			// their time; wait for it, sleeping off long waits and
			// spinning the last stretch (sleeps overshoot by ~50 µs).
			due := t0.Add(time.Duration(float64(r.sent) / rate * float64(time.Second)))
			if wait := due.Sub(now); wait > 0 {
				if wait > 200*time.Microsecond {
					time.Sleep(wait - 100*time.Microsecond)
				}
				for time.Now().Before(due) {
				}
			}
		}
		end := min(i+batch, n)
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
