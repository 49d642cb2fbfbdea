package dataplane

import (
	"errors"
	"net/netip"
	"runtime"
	"time"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/dataplane/pktio"
	"github.com/fibd/fibd/fib"
)

// Headroom is the space kept in front of every received frame, so that
// pushing a VLAN tag (or writing a longer link-layer header in front of a
// locally made packet) grows the frame to the left instead of moving it.
const Headroom = 64

// bufSize is the smallest packet buffer: headroom plus MaxFrame. An
// interface with a larger MTU has workers with buffers of Headroom plus
// its frame capacity (ifaceLive.frameCap).
const bufSize = Headroom + MaxFrame

// genBuffers is how many packets a worker can make per batch besides the
// ones it forwards: ICMP errors, echo replies and IPv4 fragments. A full
// pool makes the worker flush its transmit queues early and start over.
const genBuffers = 2 * BatchSize

// worker is one RX loop of one open interface (or, with ifc nil, the
// slow-path context neigh's callbacks use). Everything in it belongs to its
// goroutine: buffers, parse scratch, transmit staging, counters being
// accumulated.
type worker struct {
	e    *Engine
	ifc  *iface
	live *ifaceLive // the packet I/O the worker reads; nil for slow path
	// slot names the counter shards the worker writes (slowSlot for the
	// slow path's contexts).
	slot int
	// queue is the index of the RX queue the worker reads; it transmits
	// on the same-numbered queue of the egress interface (lockQueue).
	queue int

	// csum is the current frame's partial checksum, completed only once
	// the frame is known to be forwarded.
	csum struct {
		partial       bool
		start, offset int
	}

	bufs [BatchSize][]byte // full buffers, headroom included
	rx   [BatchSize][]byte // bufs[i][Headroom:], handed to ReadBatch
	meta [BatchSize]RxMeta
	// p is the packet being handled: one of ps while a batch runs, and
	// the slow path's own scratch otherwise.
	p  *packet.Parsed
	ps [BatchSize]packet.Parsed
	q  packet.Parsed // parse scratch for made packets

	// The batch's stages (batch): the frames that need a route lookup,
	// their ingress port, FIB and destination, and the entries found.
	look struct {
		n    int
		idx  [BatchSize]uint8
		in   [BatchSize]*Port
		fib  [BatchSize]*fib.FIB
		dst  [BatchSize]netip.Addr
		r    [BatchSize]packet.Reason
		next [BatchSize]*fib.Next
	}

	gen  [genBuffers][]byte
	ngen int
	frag [maxFragments][]byte

	// tx stages frames per egress interface until the end of the batch.
	tx []txQueue

	// now is the time, read at most once per batch (clock), for the rate
	// limiters; 0 until read.
	now int64

	// acc accumulates the hot counters of the port the batch's frames
	// arrived on (a batch comes from one interface, usually one port) so
	// the packet path adds to the shared atomics once per batch, not four
	// times per packet.
	acc struct {
		port        *Port
		fib         *fib.FIB
		fibCtr      *counters
		rx, rxBytes uint64
		fwd, fibFwd uint64
	}
}

// pc returns the counters of port p this worker writes.
func (w *worker) pc(p *Port) *counters { return p.ctr.shard(w.slot) }

// countRx counts a received frame on port p.
func (w *worker) countRx(p *Port, n int) {
	if w.acc.port != p {
		w.flushCounters()
		w.acc.port = p
	}
	w.acc.rx++
	w.acc.rxBytes += uint64(n)
}

// countForwarded counts a forwarded packet on its ingress port and FIB.
func (w *worker) countForwarded(in *Port, f *fib.FIB) {
	if w.acc.port != in {
		w.flushCounters()
		w.acc.port = in
	}
	w.fibShard(f)
	w.acc.fwd++
	w.acc.fibFwd++
}

// fibShard returns this worker's counters of FIB f. The FIB a batch's
// frames go to is looked up in the engine's map once per batch, not once
// per packet — a flood of drops included.
func (w *worker) fibShard(f *fib.FIB) *counters {
	if w.acc.fib != f {
		if w.acc.fibCtr != nil {
			w.acc.fibCtr.forwarded.Add(w.acc.fibFwd)
		}
		w.acc.fib, w.acc.fibCtr, w.acc.fibFwd = f, w.e.fibCounters(f.ID()).shard(w.slot), 0
	}
	return w.acc.fibCtr
}

// flushCounters adds what acc holds to this worker's counter shards.
func (w *worker) flushCounters() {
	if p := w.acc.port; p != nil {
		c := w.pc(p)
		c.rxPackets.Add(w.acc.rx)
		c.rxBytes.Add(w.acc.rxBytes)
		c.forwarded.Add(w.acc.fwd)
	}
	if w.acc.fibCtr != nil {
		w.acc.fibCtr.forwarded.Add(w.acc.fibFwd)
	}
	w.acc.port, w.acc.rx, w.acc.rxBytes, w.acc.fwd = nil, 0, 0, 0
	w.acc.fib, w.acc.fibCtr, w.acc.fibFwd = nil, nil, 0
}

// maxFragments bounds the fragments of one packet: a 1500-byte packet at
// the 576-byte path MTU of many tunnels needs 3, at the 68-byte minimum 24.
const maxFragments = 32

type txQueue struct {
	ifc    *iface
	port   []*Port // egress port of each frame, for counters
	frames [][]byte
}

// newWorker makes a worker whose buffers hold the interface's largest
// frame; the slow-path worker (live nil) holds any interface's, since it
// sends what waited for a neighbour on whichever port.
func newWorker(e *Engine, ifc *iface, live *ifaceLive) *worker {
	w := &worker{e: e, ifc: ifc, live: live}
	w.p = &w.ps[0]
	if live != nil {
		w.slot = e.slots.get()
	}
	size := Headroom + MaxJumboFrame
	if live != nil {
		size = Headroom + max(live.frameCap, MaxFrame)
	}
	for i := range w.bufs {
		w.bufs[i] = make([]byte, size)
		w.rx[i] = w.bufs[i][Headroom:]
	}
	for i := range w.gen {
		w.gen[i] = make([]byte, size)
	}
	return w
}

// run is the RX loop of one interface: read a batch, handle every frame,
// send what is staged. It ends when the interface's I/O is closed. A
// receive error that persists (a driver reset, a socket the kernel
// broke) is retried with a growing pause, logged at most every
// rxLogEvery, and shown in the state of the interface's ports until a
// read succeeds again.
//
// With cpu ≥ 0 the worker runs on its own OS thread pinned to that CPU
// (Config.CPUs); the thread ends with it, so no other goroutine inherits
// the affinity.
func (w *worker) run(io PacketIO, cpu int) {
	defer w.live.workers.Done()
	defer w.e.slots.put(w.slot)
	if cpu >= 0 {
		runtime.LockOSThread() // never unlocked: the pinned thread exits with the worker
		if err := pinThread(cpu); err != nil {
			w.e.log.Warn("cannot pin worker", "iface", w.ifc.name, "queue", w.queue, "cpu", cpu, "err", err)
		}
	}
	var (
		pause   time.Duration
		failing bool
		lastLog time.Time
		unlog   int
	)
	for {
		n, err := io.ReadBatch(w.rx[:], w.meta[:])
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return
			}
			w.ifc.rxErrors.Add(1)
			failing = true
			w.ifc.setRxFailure(err)
			if now := time.Now(); now.Sub(lastLog) >= rxLogEvery {
				w.e.log.Warn("receive failing", "iface", w.ifc.name, "err", err, "errors_since_last_log", unlog+1)
				lastLog, unlog = now, 0
			} else {
				unlog++
			}
			pause = min(max(2*pause, rxPauseMin), rxPauseMax)
			select {
			case <-w.live.stop:
				return
			case <-time.After(pause):
			}
			continue
		}
		if failing {
			failing, pause = false, 0
			w.ifc.setRxFailure(nil)
			w.e.log.Info("receiving again", "iface", w.ifc.name)
		}
		w.batch(n)
	}
}

// Receive-error pacing: the first retry after rxPauseMin, doubling to
// rxPauseMax, and one log line per rxLogEvery.
const (
	rxPauseMin = time.Millisecond
	rxPauseMax = time.Second
	rxLogEvery = 10 * time.Second
)

// batch handles n received frames and transmits the result, in stages
// over the whole vector as VPP does: parse and classify every frame
// (what needs no route — ARP, link-scoped, drops — is finished there),
// look up every destination that does in one FIB.LookupBatch per run of
// frames in the same FIB, so the lookups' cache misses overlap, then
// resolve, rewrite and stage each. A flow's frames all take the same
// stages, so their order is kept.
func (w *worker) batch(n int) {
	w.now = 0
	lk := &w.look
	lk.n = 0
	for i := 0; i < n; i++ {
		w.p = &w.ps[i]
		w.frame(w.bufs[i], &w.meta[i], uint8(i))
	}
	for s := 0; s < lk.n; {
		e := s + 1
		for e < lk.n && lk.fib[e] == lk.fib[s] {
			e++
		}
		lk.fib[s].LookupBatch(lk.dst[s:e], lk.next[s:e])
		s = e
	}
	for j := 0; j < lk.n; j++ {
		i := lk.idx[j]
		w.p = &w.ps[i]
		m := &w.meta[i]
		w.csum.partial = m.CsumPartial
		w.csum.start, w.csum.offset = int(m.CsumStart), int(m.CsumOffset)
		w.route(lk.in[j], lk.fib[j], w.bufs[i], Headroom, lk.r[j], lk.next[j])
	}
	// The entries hold their adjacency IDs from reuse (fib/adj) only
	// while this batch uses them.
	clear(lk.next[:lk.n])
	clear(lk.in[:lk.n])
	clear(lk.fib[:lk.n])
	w.p = &w.ps[0]
	w.flush()
	w.flushCounters()
}

// deferLookup queues the packet in w.p (frame idx of the batch), which
// arrived on port in with Parse's verdict r, for the batch's lookup stage
// in FIB f.
func (w *worker) deferLookup(idx uint8, in *Port, f *fib.FIB, r packet.Reason) {
	lk := &w.look
	j := lk.n
	lk.idx[j], lk.in[j], lk.fib[j], lk.dst[j], lk.r[j] = idx, in, f, w.p.Dst, r
	lk.n++
}

// clock returns the batch's time in ns, reading the clock on first use: a
// flood of ICMP candidates costs one clock read per batch, not one each.
// The slow-path contexts (neigh's callbacks) read it afresh every call.
func (w *worker) clock() int64 {
	if w.now == 0 || w.ifc == nil {
		w.now = time.Now().UnixNano()
	}
	return w.now
}

// genBuf returns a free buffer for a made packet, flushing the transmit
// queues when all are staged.
func (w *worker) genBuf() []byte {
	if w.ngen == len(w.gen) {
		w.flush()
	}
	b := w.gen[w.ngen]
	w.ngen++
	return b
}

// stage queues a frame for egress port p.
func (w *worker) stage(p *Port, frame []byte) {
	ifc := p.ifc
	for i := range w.tx {
		if q := &w.tx[i]; q.ifc == ifc {
			q.frames = append(q.frames, frame)
			q.port = append(q.port, p)
			return
		}
	}
	w.tx = append(w.tx, txQueue{ifc: ifc, frames: append(make([][]byte, 0, BatchSize), frame), port: append(make([]*Port, 0, BatchSize), p)})
}

// flush transmits everything staged, one WriteBatch per BatchSize frames
// per interface, and counts what went out. WriteBatch sends a prefix of
// its frames: a frame the I/O refuses (too long) counts as tx-refused and
// the ones after it are offered again, so one bad frame never costs the
// rest of the batch nor is another frame counted in its place.
func (w *worker) flush() {
	for i := range w.tx {
		q := &w.tx[i]
		if len(q.frames) == 0 {
			continue
		}
		var eq *egressQueue
		if l := q.ifc.live.Load(); l != nil {
			eq = l.lockQueue(w.queue)
		}
		for off := 0; off < len(q.frames); {
			end := min(off+BatchSize, len(q.frames))
			sent, err := 0, errEgressClosed
			if eq != nil {
				sent, err = eq.io.WriteBatch(q.frames[off:end])
			}
			// A run of frames for one port (the common case: a whole
			// chunk) is counted with one add per counter.
			for j := off; j < off+sent; {
				p, k, bytes := q.port[j], j, uint64(0)
				for ; k < off+sent && q.port[k] == p; k++ {
					bytes += uint64(len(q.frames[k]))
				}
				c := w.pc(p)
				c.txPackets.Add(uint64(k - j))
				c.txBytes.Add(bytes)
				j = k
			}
			off += sent
			switch {
			case off == end:
			case errors.Is(err, pktio.ErrFrameSize):
				// That one frame: the ones after it still go.
				w.pc(q.port[off]).drops[DropTxRefused].Add(1)
				off++
			default:
				// The ring is full, or the I/O failed or is gone: the rest
				// of this chunk would meet the same.
				drop := DropTxFull
				if eq == nil {
					drop = DropTxEgressGone
				}
				for j := off; j < end; j++ {
					w.pc(q.port[j]).drops[drop].Add(1)
				}
				off = end
			}
		}
		if eq != nil {
			eq.mu.Unlock()
		}
		clear(q.frames)
		q.frames = q.frames[:0]
		clear(q.port)
		q.port = q.port[:0]
	}
	w.ngen = 0
}

// errEgressClosed: the egress interface's I/O closed after a frame was
// staged for it.
var errEgressClosed = errors.New("egress interface closed")
