package dataplane

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fibd/fibd/dataplane/pktio"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// HostIO is pktio.HostIO: a FIB's host stack.
type HostIO = pktio.HostIO

// Errors of the host-stack API.
var (
	ErrHostAttached = errors.New("host stack already attached")
	ErrNoHost       = errors.New("no host stack")
)

// HostQueueLen bounds each FIB's punt queue: what its host stack has not
// taken yet. A full queue drops (host-queue-full) and never makes a worker
// wait, so a flood to one FIB's host costs the other FIBs nothing but the
// copy into a free buffer. 1024 frames is 9.4 MB at the jumbo size, and
// 3 ms of a 5 Gbit/s TCP stream at 1500 bytes: with 512, a single stream
// into the host lost 9 % of its segments here (fibbench hoststack).
const HostQueueLen = 1024

// hostResync is how often a host stack's addresses and MTU are compared
// with the FIB's even when nothing announced a change: an address an
// admin removed inside the namespace by hand comes back, and a port's MTU
// change (which no address change announces) reaches the host.
const hostResync = 5 * time.Second

// host is one FIB's attached host stack: the punt queue the workers fill,
// the goroutines that drain it into the host, inject what the host sends
// and mirror the FIB's addresses.
type host struct {
	fib  adj.FIBID
	io   HostIO
	free chan []byte // punt buffers nobody holds
	q    chan []byte // punted packets, for the writer
	stop chan struct{}
	wg   sync.WaitGroup
	ctr  hostCounters

	// syncErr is the last Sync failure, nil when the host matches the FIB.
	syncErr atomic.Pointer[string]
}

type hostCounters struct {
	punted    atomic.Uint64 // queued for the host
	delivered atomic.Uint64 // written into the host
	writeErr  atomic.Uint64 // the host refused a write
	injected  atomic.Uint64 // sent by the host, out of a port now
	queued    atomic.Uint64 // sent by the host, waiting for a neighbour
	errorsOut atomic.Uint64 // ICMP errors written back into the host
	drops     [NumDrops]atomic.Uint64
}

// HostInfo describes a FIB's host stack and its counters.
type HostInfo struct {
	FIB       adj.FIBID
	Namespace string
	// SyncError is why the host's addresses do not match the FIB's; empty
	// when they do.
	SyncError string
	// Punted counts packets queued for the host, Delivered those written
	// into it; Injected and Queued what the host sent that went out of a
	// port or waits for a neighbour; ICMPErrors the errors (too big,
	// unreachable) fibd wrote back into the host; Drops, by reason, what
	// was dropped on the way in (host-queue-full) or out (host-spoofed,
	// no-route, ...).
	Punted, Delivered, Injected, Queued, ICMPErrors uint64
	Drops                                           map[string]uint64
	// IO holds the host I/O's own counters (pktio.CounterReporter: the
	// TUN's TSO and GRO work), nil when it keeps none.
	IO map[string]uint64
}

// AttachHost gives FIB id a host stack: from now on packets to the FIB's
// own addresses that a host should answer (TCP, UDP, echo replies, errors
// about what the host sent, other protocols) go to io, and what io's host
// sends is forwarded in the FIB as locally originated traffic. The engine
// mirrors the FIB's addresses onto io until DetachHost.
func (e *Engine) AttachHost(id adj.FIBID, io HostIO) error {
	if _, ok := e.reg.Get(id); !ok {
		return fmt.Errorf("%w: fib %d", fib.ErrNoSuchFIB, id)
	}
	e.hostMu.Lock()
	defer e.hostMu.Unlock()
	old := *e.hosts.Load()
	if _, ok := old[id]; ok {
		return fmt.Errorf("%w: fib %d", ErrHostAttached, id)
	}
	h := &host{fib: id, io: io, free: make(chan []byte, HostQueueLen), q: make(chan []byte, HostQueueLen), stop: make(chan struct{})}
	for range HostQueueLen {
		h.free <- make([]byte, MaxJumboFrame)
	}
	next := maps.Clone(old)
	next[id] = h
	e.hosts.Store(&next)
	h.wg.Add(3)
	go h.writer()
	go e.hostReader(h)
	go e.hostSyncer(h)
	e.log.Info("host stack attached", "fib", id, "netns", io.Namespace())
	return nil
}

// DetachHost stops FIB id's host stack and closes its HostIO; packets to
// the FIB's addresses are handled by the engine alone again.
func (e *Engine) DetachHost(id adj.FIBID) error {
	e.hostMu.Lock()
	old := *e.hosts.Load()
	h, ok := old[id]
	if ok {
		next := maps.Clone(old)
		delete(next, id)
		e.hosts.Store(&next)
	}
	e.hostMu.Unlock()
	if !ok {
		return fmt.Errorf("%w: fib %d", ErrNoHost, id)
	}
	close(h.stop)
	err := h.io.Close()
	h.wg.Wait()
	e.log.Info("host stack detached", "fib", id)
	return err
}

// Hosts returns every attached host stack, by FIB.
func (e *Engine) Hosts() []HostInfo {
	hs := *e.hosts.Load()
	out := make([]HostInfo, 0, len(hs))
	for _, id := range slices.Sorted(maps.Keys(hs)) {
		h := hs[id]
		hi := HostInfo{FIB: id, Namespace: h.io.Namespace(), Punted: h.ctr.punted.Load(), Delivered: h.ctr.delivered.Load(),
			Injected: h.ctr.injected.Load(), Queued: h.ctr.queued.Load(), ICMPErrors: h.ctr.errorsOut.Load(), Drops: map[string]uint64{}}
		if s := h.syncErr.Load(); s != nil {
			hi.SyncError = *s
		}
		if cr, ok := h.io.(CounterReporter); ok {
			hi.IO = cr.IOCounters()
		}
		if n := h.ctr.writeErr.Load(); n > 0 {
			hi.Drops["host-write-failed"] = n
		}
		for d := range h.ctr.drops {
			if n := h.ctr.drops[d].Load(); n > 0 {
				hi.Drops[Drop(d).String()] = n
			}
		}
		out = append(out, hi)
	}
	return out
}

// hostOf returns FIB id's host stack, or nil. Lock-free: the packet path
// asks it for every packet to the router.
func (e *Engine) hostOf(id adj.FIBID) *host { return (*e.hosts.Load())[id] }

// detachHosts stops every host stack (Engine.Close).
func (e *Engine) detachHosts() {
	for id := range *e.hosts.Load() {
		_ = e.DetachHost(id)
	}
}

// hostWriteBatch is the most punted packets handed to the host in one
// WriteBatch: enough for its TCP segments to merge into 64 KiB
// super-packets (44 of 1500 bytes), few enough that the buffers go back
// to the workers soon.
const hostWriteBatch = 64

// writer drains the punt queue into the host, a batch at a time: what is
// queued when it wakes, up to hostWriteBatch.
func (h *host) writer() {
	defer h.wg.Done()
	batch := make([][]byte, 0, hostWriteBatch)
	for {
		select {
		case <-h.stop:
			return
		case b := <-h.q:
			batch = append(batch[:0], b)
		}
	more:
		for len(batch) < hostWriteBatch {
			select {
			case b := <-h.q:
				batch = append(batch, b)
			default:
				break more
			}
		}
		n, _ := h.io.WriteBatch(batch)
		h.ctr.delivered.Add(uint64(n))
		h.ctr.writeErr.Add(uint64(len(batch) - n))
		for i, b := range batch {
			h.free <- b[:cap(b)]
			batch[i] = nil
		}
	}
}

// punt queues the IP packet of the frame in w.p for h, copying it into a
// free buffer; with none free it drops. The frame's transport checksum
// is completed first: the host verifies it, and a veth peer may have left
// it partial.
func (w *worker) punt(in *Port, f *fib.FIB, h *host, frame []byte) {
	p := w.p
	select {
	case b := <-h.free:
		if !w.completeChecksum(frame) {
			h.free <- b
			w.drop(in, f, DropChecksumPartial)
			return
		}
		b = b[:p.L3Len]
		copy(b, frame[p.L3Off:p.L3Off+p.L3Len])
		// Never blocks: q holds as many buffers as exist.
		h.q <- b
		w.pc(in).local.Add(1)
		h.ctr.punted.Add(1)
	default:
		h.ctr.drops[DropHostQueueFull].Add(1)
		w.drop(in, f, DropHostQueueFull)
	}
}

// hostReader reads what the host sends and injects it into the FIB, a
// batch at a time, flushing the transmit queues after each batch.
func (e *Engine) hostReader(h *host) {
	defer h.wg.Done()
	w := newWorker(e, nil, nil)
	var sizes [BatchSize]int
	for {
		n, err := h.io.ReadBatch(w.rx[:], sizes[:])
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return
			}
			select {
			case <-h.stop:
				return
			case <-time.After(rxPauseMin):
			}
			continue
		}
		f, ok := e.reg.Get(h.fib)
		if !ok {
			continue
		}
		w.now = 0
		for i := range n {
			w.inject(h, f, w.bufs[i], sizes[i])
		}
		w.flush()
	}
}

// hostSyncer mirrors the FIB's global addresses and its ports' largest
// MTU onto the host whenever they change, and every hostResync.
func (e *Engine) hostSyncer(h *host) {
	defer h.wg.Done()
	t := time.NewTicker(hostResync)
	defer t.Stop()
	var last []netip.Prefix
	lastMTU := -1
	for {
		f, ok := e.reg.Get(h.fib)
		if !ok {
			return
		}
		changed := f.AddressesChanged()
		addrs, mtu := hostAddrs(f), e.hostMTU(h.fib)
		if !slices.Equal(addrs, last) || mtu != lastMTU || h.syncErr.Load() != nil {
			if err := h.io.Sync(addrs, mtu); err != nil {
				s := err.Error()
				if old := h.syncErr.Swap(&s); old == nil || *old != s {
					e.log.Warn("host stack sync failed", "fib", h.fib, "err", err)
				}
			} else {
				h.syncErr.Store(nil)
				last, lastMTU = addrs, mtu
			}
		}
		select {
		case <-h.stop:
			return
		case <-changed:
		case <-t.C:
			last = nil // compare with the host itself again
		}
	}
}

// hostAddrs returns the FIB's addresses a host stack carries, sorted:
// every port's but the link-local ones, which belong to one port and so
// cannot live on the one host interface of the FIB.
func hostAddrs(f *fib.FIB) []netip.Prefix {
	var out []netip.Prefix
	for _, list := range f.AllAddresses() {
		for _, a := range list {
			if !a.Addr().IsLinkLocalUnicast() && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return out
}

// hostMTU is the largest MTU among FIB id's ports (1500 without any): a
// host packet larger than its egress port's MTU is answered with Packet
// Too Big, so the host learns each path's MTU.
func (e *Engine) hostMTU(id adj.FIBID) int {
	mtu := 0
	for _, p := range *e.ports.Load() {
		if p != nil && p.fib.Load().ID() == id {
			mtu = max(mtu, int(p.ifc.mtu.Load()))
		}
	}
	if mtu == 0 {
		mtu = 1500
	}
	return mtu
}
