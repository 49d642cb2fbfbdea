package dataplane

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/dataplane/pktio"
	"github.com/fibd/fibd/fib/adj"
)

// iface is one kernel interface, by name, that ports are bound to. While
// the kernel has it and fibd has opened it, its packet I/O is live; when
// it is deleted, or not there yet, the iface and its ports stay — down,
// with the reason — and come back when an interface of that name appears
// (even with a new ifindex: it is opened and prepared afresh, since the
// kernel owns a new interface).
type iface struct {
	name   string
	mtu    atomic.Int32
	linkUp atomic.Bool // what the kernel last said
	// live is the open packet I/O; nil while the interface is missing or
	// being (re)opened or closed.
	live atomic.Pointer[ifaceLive]
	// reason says why the interface is down ("" when up or unknown).
	reason atomic.Pointer[string]
	// rxFail is the receive error a worker keeps meeting, nil when reads
	// succeed.
	rxFail atomic.Pointer[string]
	ports  atomic.Pointer[portTable]

	// Frames no port is bound to, per kind, and the tags of the last one
	// (outer TPID<<32 | outer VID<<16 | inner VID).
	unknownVLAN, unknownQinQ atomic.Uint64
	lastUnknown              atomic.Uint64
	rxErrors                 atomic.Uint64

	// open serialises opening and closing the interface's packet I/O. It
	// is held across netlink and backend I/O, so nothing on the packet
	// path ever takes it.
	open sync.Mutex
	// Guarded by Engine.mu.
	nports int
}

// ifaceLive is an interface's open packet I/O and what goes with it.
type ifaceLive struct {
	index int
	mac   adj.MAC
	ios   []PacketIO // one per RX queue, each with a worker
	// txq are the same queues as transmitters (lockQueue).
	txq []egressQueue
	// closing is set, under every txq lock, before ios are closed: no
	// write starts on I/O being closed.
	closing bool
	backend string
	// guessCsum is set when the packet I/O does not report partial
	// checksums, so the forwarder checks TCP/UDP checksum fields itself.
	guessCsum bool
	// frameCap is the largest frame its workers' buffers hold
	// (pktio.FrameCap of the MTU it was opened with); an MTU raised past
	// it reopens the interface.
	frameCap int
	release  func() error
	stop     chan struct{}
	workers  sync.WaitGroup
}

// egressQueue is one transmit queue of an interface: one of its packet
// I/Os, and the lock that orders the workers sending through it. A worker
// sends on the queue numbered like the RX queue it reads, so with as many
// queues as workers per interface each queue has one sender per ingress
// interface and its lock is not contended; the pad keeps two queues'
// locks off one cache line.
type egressQueue struct {
	mu sync.Mutex
	io PacketIO
	_  cpu.CacheLinePad
}

// lockQueue returns transmit queue i (modulo their number) locked; when
// another worker holds it, a free queue if there is one, so senders spread
// instead of waiting; nil when the interface is closing. The caller
// unlocks it.
func (l *ifaceLive) lockQueue(i int) *egressQueue {
	n := len(l.txq)
	for k := range n {
		q := &l.txq[(i+k)%n]
		if q.mu.TryLock() {
			if l.closing {
				q.mu.Unlock()
				return nil
			}
			return q
		}
	}
	q := &l.txq[i%n]
	q.mu.Lock()
	if l.closing {
		q.mu.Unlock()
		return nil
	}
	return q
}

// Why an interface is down.
const (
	reasonMissing  = "interface missing"
	reasonLinkDown = "link down"
)

func newIface(name string) *iface {
	ifc := &iface{name: name}
	ifc.ports.Store(&emptyPorts)
	ifc.setReason(reasonMissing)
	return ifc
}

// up reports whether the interface forwards: open and with its link up.
func (i *iface) up() bool { return i.live.Load() != nil && i.linkUp.Load() }

func (i *iface) setReason(r string) { i.reason.Store(&r) }

// setRxFailure records the receive error a worker keeps meeting (nil: it
// reads again).
func (i *iface) setRxFailure(err error) {
	if err == nil {
		if i.rxFail.Load() != nil {
			i.rxFail.Store(nil)
		}
		return
	}
	r := "receive failing: " + err.Error()
	if old := i.rxFail.Load(); old == nil || *old != r {
		i.rxFail.Store(&r)
	}
}

// healthy reports whether the interface forwards and receives: what a
// port's state shows.
func (i *iface) healthy() bool { return i.up() && i.rxFail.Load() == nil }

func (i *iface) downReason() string {
	if i.up() {
		if r := i.rxFail.Load(); r != nil {
			return *r
		}
		return ""
	}
	if r := i.reason.Load(); r != nil && *r != "" {
		return *r
	}
	if i.live.Load() != nil {
		return reasonLinkDown
	}
	return reasonMissing
}

// noteUnknown counts a frame no port is bound to.
func (i *iface) noteUnknown(p *packet.Parsed) {
	if p.Tags >= 2 {
		i.unknownQinQ.Add(1)
	} else {
		i.unknownVLAN.Add(1)
	}
	var tags uint64
	if p.Tags > 0 {
		tags = uint64(p.OuterTPID)<<32 | uint64(p.VID())<<16
		if p.Tags > 1 {
			tags |= uint64(p.InnerTCI & 0x0fff)
		}
	}
	i.lastUnknown.Store(tags)
}

// errNoInterface says an interface a port names is not there (yet).
var errNoInterface = errors.New("interface missing")

// openIface opens an interface's packet I/O if it is not open: it finds
// the interface, prepares it for fibd (Links.Prepare), opens the backend
// and starts one RX worker per queue. A missing interface is not an error
// of the caller's: its ports wait for it (errNoInterface). It never runs
// with the engine's mutex held.
func (e *Engine) openIface(ifc *iface) error {
	defer e.fastKick() // the fast path's port tables follow
	ifc.open.Lock()
	defer ifc.open.Unlock()
	if ifc.live.Load() != nil {
		return nil
	}
	e.mu.Lock()
	unused := ifc.nports == 0 || e.mu.closed
	e.mu.Unlock()
	if unused {
		return nil
	}
	li, err := e.lnk.ByName(ifc.name)
	if err != nil {
		ifc.setReason(reasonMissing)
		return fmt.Errorf("%w: %s: %v", errNoInterface, ifc.name, err)
	}
	prep, err := e.lnk.Prepare(ifc.name)
	if err != nil {
		ifc.setReason("cannot prepare: " + err.Error())
		return fmt.Errorf("preparing %s: %w", ifc.name, err)
	}
	frameCap := pktio.FrameCap(li.MTU)
	ios, backend, err := e.open(ifc.name, li.Index, OpenOptions{VLANStripped: prep.VLANStripped, FrameCap: frameCap, Workers: e.workers})
	if err == nil && len(ios) == 0 {
		err = errors.New("no packet I/O")
	}
	if err != nil {
		if prep.Release != nil {
			_ = prep.Release()
		}
		ifc.setReason("cannot open: " + err.Error())
		return fmt.Errorf("opening %s: %w", ifc.name, err)
	}
	l := &ifaceLive{index: li.Index, mac: li.MAC, ios: ios, backend: backend, release: prep.Release,
		stop: make(chan struct{}), frameCap: frameCap, txq: make([]egressQueue, len(ios))}
	for i, io := range ios {
		l.txq[i].io = io
	}
	if cr, ok := ios[0].(ChecksumReporter); !ok || !cr.ReportsPartialChecksums() {
		l.guessCsum = true
	}
	ifc.mtu.Store(int32(li.MTU))
	ifc.linkUp.Store(li.Up)
	ifc.setReason("")
	ifc.rxFail.Store(nil)
	ifc.live.Store(l)
	for i, io := range ios {
		w := newWorker(e, ifc, l)
		w.queue = i
		l.workers.Add(1)
		go w.run(io, e.cpuFor(i))
	}
	e.log.Info("interface opened", "iface", ifc.name, "ifindex", li.Index, "mac", li.MAC, "mtu", li.MTU, "up", li.Up,
		"backend", backend, "rx_queues", len(ios), "vlan_stripping", prep.VLANStripped)
	if li.Up {
		e.announce(ifc)
	}
	return nil
}

// closeIface stops an interface's packet I/O and puts it back as it was
// (Links.Prepare's release): its workers end, its ports stay, down with
// reason, and lose their dynamic neighbours. The caller holds ifc.open.
func (e *Engine) closeIfaceLocked(ifc *iface, reason string) {
	defer e.fastKick() // the fast path's port tables follow
	l := ifc.live.Swap(nil)
	ifc.setReason(reason)
	if l == nil {
		return
	}
	// Wait out the writes under way and refuse new ones.
	for i := range l.txq {
		l.txq[i].mu.Lock()
	}
	l.closing = true
	for i := range l.txq {
		l.txq[i].mu.Unlock()
	}
	close(l.stop)
	for _, io := range l.ios {
		_ = io.Close()
	}
	l.workers.Wait()
	if l.release != nil {
		if err := l.release(); err != nil && reason != reasonMissing {
			e.log.Warn("restoring interface", "iface", ifc.name, "err", err)
		}
	}
	ifc.ports.Load().all(func(p *Port) { e.nb.Flush(p.fib.Load().ID(), p.id) })
	e.log.Info("interface closed", "iface", ifc.name, "why", reason)
}

// announce tells each port's link that its addresses are here (gratuitous
// ARP, unsolicited NA), as Linux does on carrier up.
func (e *Engine) announce(ifc *iface) {
	ifc.ports.Load().all(func(p *Port) {
		f := p.fib.Load()
		for _, a := range f.Addresses(p.id) {
			e.nb.Announce(f.ID(), p.id, a.Addr())
		}
	})
}

// linkChanged follows an interface: deleted, it is closed and its ports
// wait; back (or replaced: a new ifindex under the same name), it is
// opened afresh; its link going down stops forwarding and flushes dynamic
// neighbours, coming up announces its addresses. It runs on the link
// watch's goroutine, never on the packet path.
func (e *Engine) linkChanged(li LinkInfo, deleted bool) {
	defer e.fastKick() // the fast path's port tables follow
	e.mu.Lock()
	ifc, ok := e.mu.ifaces[li.Name]
	e.mu.Unlock()
	if !ok {
		return
	}
	l := ifc.live.Load()
	switch {
	case deleted:
		if l != nil && l.index == li.Index {
			ifc.open.Lock()
			e.closeIfaceLocked(ifc, reasonMissing)
			ifc.open.Unlock()
			e.log.Info("interface deleted; its ports wait for it", "iface", li.Name)
		}
		return
	case l != nil && l.index != li.Index:
		// Deleted and recreated between two events we saw: a new
		// interface under the old name.
		ifc.open.Lock()
		e.closeIfaceLocked(ifc, reasonMissing)
		ifc.open.Unlock()
		fallthrough
	case l != nil && li.MTU > 0 && pktio.FrameCap(li.MTU) > l.frameCap:
		if l.index == li.Index {
			// An MTU raised past what the workers' buffers hold (jumbo
			// frames switched on): open it again with larger ones, or its
			// long frames would be cut.
			e.log.Info("MTU beyond the receive buffers; reopening", "iface", li.Name, "mtu", li.MTU, "frame_cap", l.frameCap)
			ifc.open.Lock()
			e.closeIfaceLocked(ifc, "reopening for MTU "+strconv.Itoa(li.MTU))
			ifc.open.Unlock()
		}
		fallthrough
	case l == nil:
		if err := e.openIface(ifc); err != nil && !errors.Is(err, errNoInterface) {
			e.log.Warn("interface is back but cannot be opened", "iface", li.Name, "err", err)
		}
		return
	}
	if li.MTU > 0 {
		ifc.mtu.Store(int32(li.MTU))
	}
	if was := ifc.linkUp.Swap(li.Up); was == li.Up {
		return
	}
	e.log.Info("link state", "iface", li.Name, "up", li.Up)
	if !li.Up {
		ifc.setReason(reasonLinkDown)
		ifc.ports.Load().all(func(p *Port) { e.nb.Flush(p.fib.Load().ID(), p.id) })
		return
	}
	ifc.setReason("")
	e.announce(ifc)
}

// watchLinks follows link changes until the engine closes. A subscription
// the kernel ends (a netlink overrun drops events) is made again, with a
// backoff, and every interface is checked against the kernel, since
// events were lost.
func (e *Engine) watchLinks() {
	backoff := 100 * time.Millisecond
	for {
		start := time.Now()
		err := e.lnk.Watch(e.watchStop, e.linkChanged)
		select {
		case <-e.watchStop:
			return
		default:
		}
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond // it ran a good while: no storm
		}
		e.log.Warn("link watch ended; following links again", "err", err, "retry_in", backoff)
		select {
		case <-e.watchStop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
		e.resyncLinks()
	}
}

// resyncLinks checks every interface against the kernel after events may
// have been lost: gone ones are closed, back or replaced ones opened.
func (e *Engine) resyncLinks() {
	e.mu.Lock()
	ifcs := make([]*iface, 0, len(e.mu.ifaces))
	for _, ifc := range e.mu.ifaces {
		ifcs = append(ifcs, ifc)
	}
	e.mu.Unlock()
	for _, ifc := range ifcs {
		li, err := e.lnk.ByName(ifc.name)
		if err != nil {
			e.linkChanged(LinkInfo{Name: ifc.name, Index: indexOf(ifc)}, true)
			continue
		}
		e.linkChanged(li, false)
	}
}

func indexOf(ifc *iface) int {
	if l := ifc.live.Load(); l != nil {
		return l.index
	}
	return 0
}
