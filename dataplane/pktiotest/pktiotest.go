// Package pktiotest provides IO, an in-memory pktio.PacketIO for unit
// tests of the forwarding engine: frames a test injects come out of
// ReadBatch with the RxMeta it gave, frames the engine writes are captured
// (or, for two IOs joined by Pair or Link, delivered to the peer the way a
// veth would). It needs no root and no kernel.
//
// Everything is bounded: the receive queue and the capture buffer hold
// Config.Capacity frames each, and overflow is dropped and counted, as a
// ring would. Frame storage is allocated once in New, so ReadBatch,
// WriteBatch and Inject do not allocate and the engine's
// testing.AllocsPerRun checks can run over the fake.
package pktiotest

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/fibd/fibd/dataplane/pktio"
)

// Config sizes an IO. The zero value gives Capacity 1024 and
// pktio.BatchSize.
type Config struct {
	// Capacity is the number of frames the receive queue and the capture
	// buffer each hold.
	Capacity int
	// BatchSize is what BatchSize reports and the most ReadBatch returns.
	BatchSize int
	// MaxTxFrame is the longest frame WriteBatch sends (0: MaxFrame); a
	// longer one ends the batch with pktio.ErrFrameSize, as a UMEM frame
	// or the link's MTU would.
	MaxTxFrame int
}

// Stats counts what passed through an IO.
type Stats struct {
	Injected   uint64 // frames queued for ReadBatch (by Inject or a linked peer)
	RxDropped  uint64 // frames refused because the receive queue was full or closed
	Read       uint64 // frames returned by ReadBatch
	Written    uint64 // frames WriteBatch took
	TxDropped  uint64 // frames WriteBatch refused: capture buffer full
	TxRefused  uint64 // frames WriteBatch refused: longer than MaxTxFrame
	ReadErrors uint64 // ReadBatch calls that returned the SetReadError error
}

// slot is one stored frame.
type slot struct {
	buf  []byte // MaxFrame capacity, sliced to the frame
	meta pktio.RxMeta
}

// queue is a bounded FIFO of frames with preallocated storage.
type queue struct {
	slots      []slot
	head, size int
}

func newQueue(n int) queue {
	q := queue{slots: make([]slot, n)}
	for i := range q.slots {
		q.slots[i].buf = make([]byte, 0, pktio.MaxFrame)
	}
	return q
}

// push copies f (cut to MaxFrame) into the queue; false when full.
func (q *queue) push(f []byte, m pktio.RxMeta) bool {
	if q.size == len(q.slots) {
		return false
	}
	s := &q.slots[(q.head+q.size)%len(q.slots)]
	s.buf = append(s.buf[:0], f[:min(len(f), pktio.MaxFrame)]...)
	if len(f) > pktio.MaxFrame {
		m.Truncated = true
	}
	m.Len = len(s.buf)
	s.meta = m
	q.size++
	return true
}

func (q *queue) pop() *slot {
	s := &q.slots[q.head]
	q.head = (q.head + 1) % len(q.slots)
	q.size--
	return s
}

// IO is an in-memory PacketIO. The zero value is not usable; call New or
// Pair. All methods are safe for concurrent use; ReadBatch blocks until a
// frame is queued or Close is called.
type IO struct {
	batch  int
	maxTx  int
	closed atomic.Bool
	peer   atomic.Pointer[IO] // set by Link: writes go to the peer's queue

	mu struct {
		sync.Mutex
		rx       queue
		tx       queue
		writeErr error
		readErr  error
		stats    Stats
	}
	ready *sync.Cond // signalled when rx gains frames or on Close
}

var _ pktio.PacketIO = (*IO)(nil)

// New returns an IO with nothing queued and nothing linked.
func New(cfg Config) *IO {
	if cfg.Capacity <= 0 {
		cfg.Capacity = 1024
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = pktio.BatchSize
	}
	if cfg.MaxTxFrame <= 0 {
		cfg.MaxTxFrame = pktio.MaxFrame
	}
	f := &IO{batch: cfg.BatchSize, maxTx: cfg.MaxTxFrame}
	f.mu.rx = newQueue(cfg.Capacity)
	f.mu.tx = newQueue(cfg.Capacity)
	f.ready = sync.NewCond(&f.mu)
	return f
}

// Pair returns two IOs joined like the ends of a veth: what one writes,
// the other reads (with a zero RxMeta apart from Len).
func Pair(cfg Config) (a, b *IO) {
	a, b = New(cfg), New(cfg)
	Link(a, b)
	return a, b
}

// Link joins a and b like a veth. Frames either writes from then on go to
// the other's receive queue instead of its own capture buffer.
func Link(a, b *IO) {
	a.peer.Store(b)
	b.peer.Store(a)
}

// Inject queues a frame for ReadBatch with the given metadata (Len is set
// from the frame). It reports false, counting a drop, when the queue is
// full or the IO is closed.
func (f *IO) Inject(frame []byte, meta pktio.RxMeta) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injectLocked(frame, meta)
}

func (f *IO) injectLocked(frame []byte, meta pktio.RxMeta) bool {
	if f.closed.Load() || !f.mu.rx.push(frame, meta) {
		f.mu.stats.RxDropped++
		return false
	}
	f.mu.stats.Injected++
	f.ready.Signal()
	return true
}

// BatchSize implements pktio.PacketIO.
func (f *IO) BatchSize() int { return f.batch }

// ReadBatch implements pktio.PacketIO.
func (f *IO) ReadBatch(bufs [][]byte, meta []pktio.RxMeta) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.mu.rx.size == 0 && !f.closed.Load() && f.mu.readErr == nil {
		f.ready.Wait()
	}
	if f.closed.Load() {
		return 0, pktio.ErrClosed
	}
	if err := f.mu.readErr; err != nil {
		f.mu.stats.ReadErrors++
		return 0, err
	}
	n := min(len(bufs), len(meta), f.batch)
	i := 0
	for ; i < n && f.mu.rx.size > 0; i++ {
		s := f.mu.rx.pop()
		m := s.meta
		m.Len = copy(bufs[i], s.buf)
		if m.Len < len(s.buf) {
			m.Truncated = true
		}
		meta[i] = m
	}
	f.mu.stats.Read += uint64(i)
	return i, nil
}

// WriteBatch implements pktio.PacketIO. Unlinked, frames are captured
// for Written until the capture buffer is full; then the rest are refused
// (a short count with a nil error, as a full TX ring). Linked, every frame
// is taken and offered to the peer, which drops what its queue cannot hold.
// Either way a frame longer than Config.MaxTxFrame (or empty) ends the
// batch with pktio.ErrFrameSize.
func (f *IO) WriteBatch(bufs [][]byte) (int, error) {
	if f.closed.Load() {
		return 0, pktio.ErrClosed
	}
	f.mu.Lock()
	if err := f.mu.writeErr; err != nil {
		f.mu.Unlock()
		return 0, err
	}
	peer := f.peer.Load()
	n := 0
	var verdict error
	for _, b := range bufs {
		if len(b) == 0 || len(b) > f.maxTx {
			verdict = pktio.ErrFrameSize
			f.mu.stats.TxRefused++
			break
		}
		if peer == nil && !f.mu.tx.push(b, pktio.RxMeta{}) {
			f.mu.stats.TxDropped += uint64(len(bufs) - n)
			break
		}
		n++
	}
	f.mu.stats.Written += uint64(n)
	f.mu.Unlock()
	if peer != nil {
		// Not under f.mu: two linked IOs writing to each other would
		// otherwise take the two locks in opposite orders.
		peer.mu.Lock()
		for _, b := range bufs[:n] {
			peer.injectLocked(b, pktio.RxMeta{})
		}
		peer.mu.Unlock()
	}
	return n, verdict
}

// Written returns copies of the frames captured since the last call, in
// order, and empties the capture buffer.
func (f *IO) Written() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][]byte, 0, f.mu.tx.size)
	for f.mu.tx.size > 0 {
		s := f.mu.tx.pop()
		out = append(out, append([]byte(nil), s.buf...))
	}
	return out
}

// SetWriteError makes WriteBatch fail with err (nil restores it), for
// testing how the engine handles a port whose link went away.
func (f *IO) SetWriteError(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.writeErr = err
}

// SetReadError makes ReadBatch fail with err at once, every call, until
// SetReadError(nil): a receive error that persists.
func (f *IO) SetReadError(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.readErr = err
	f.ready.Broadcast()
}

// Pending returns the number of frames queued for ReadBatch.
func (f *IO) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.rx.size
}

// Stats returns the IO's counters.
func (f *IO) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.stats
}

// Close implements pktio.PacketIO: a blocked ReadBatch returns
// ErrClosed, as do later calls. Closing twice is a no-op.
func (f *IO) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed.Store(true)
	f.ready.Broadcast()
	return nil
}

// ErrLinkDown is a convenient error for SetWriteError.
var ErrLinkDown = errors.New("pktiotest: link down")
