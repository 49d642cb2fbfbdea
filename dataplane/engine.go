package dataplane

import (
	"errors"
	"fmt"
	"github.com/fibd/fibd/dataplane/fastpath"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/neigh"
)

// Errors of the port API.
var (
	ErrNoSuchPort   = errors.New("no such port")
	ErrInvalidVLAN  = errors.New("invalid VLAN ID")
	ErrClosedEngine = errors.New("dataplane closed")
	// ErrPortNameTaken: another port already has the name this one would
	// get (an interface named "eth1.100" and VLAN 100 of eth1, say).
	ErrPortNameTaken = errors.New("port name taken")
)

// OpenOptions tell an Opener what preparing the interface found.
type OpenOptions struct {
	// VLANStripped is set when the interface removes VLAN tags before
	// packet I/O sees them and that could not be switched off: AF_XDP
	// would see every tagged frame as untagged (another tenant's port),
	// AF_PACKET reports the tags the kernel removed.
	VLANStripped bool
	// FrameCap is the largest frame the engine's buffers hold for this
	// interface (pktio.FrameCap of its MTU): a backend that cannot
	// receive frames that long refuses to open.
	FrameCap int
	// Workers is Config.Workers: how many packet I/Os a backend that can
	// spread one interface's receive over several should open (0: one
	// per RX queue, at most one per CPU). Backends bound to hardware
	// queues (AF_XDP) open one per queue whatever it says.
	Workers int
}

// Opener opens packet I/O on an interface — one PacketIO per RX queue, each
// of which gets its own RX worker and is also one of the interface's
// transmit queues — and names the backend it used ("afpacket", "xdp").
// cmd/fibd picks the backend; the engine does not import them.
type Opener func(ifname string, ifindex int, o OpenOptions) (ios []PacketIO, backend string, err error)

// LinkInfo is what the engine needs to know about an interface.
type LinkInfo struct {
	Name  string
	Index int
	MAC   adj.MAC
	MTU   int
	Up    bool
}

// Prepared is an interface readied for fibd: how to put it back, and
// what could not be changed.
type Prepared struct {
	Release      func() error
	VLANStripped bool
}

// Links finds interfaces, prepares them for fibd's exclusive use (no kernel
// addresses, IPv6 off, offloads off — VLAN tag stripping included) and
// reports their changes. Declared here, implemented over netlink by
// dataplane/backend and by fakes in tests.
type Links interface {
	ByName(name string) (LinkInfo, error)
	// Prepare readies an interface and says how to undo it.
	Prepare(name string) (Prepared, error)
	// Watch calls fn for every change until done is closed; it returns an
	// error if the kernel ends the subscription (the engine watches
	// again).
	Watch(done <-chan struct{}, fn func(LinkInfo, bool)) error
}

// Config configures an Engine.
type Config struct {
	Registry *fib.Registry
	Open     Opener
	Links    Links
	Logger   *slog.Logger
	// Neigh configures the neighbour tables; Adj and Env are filled in by
	// the engine.
	Neigh neigh.Config
	// ICMPRate and ICMPBurst bound the ICMP errors each FIB sends (token
	// bucket); RFC 1812 §4.3.2.8 asks routers to limit them. Defaults 1000/s
	// and 200.
	ICMPRate  float64
	ICMPBurst int
	// Workers is how many RX workers each interface gets, for backends
	// that can spread one interface over several (AF_PACKET's fanout);
	// 0 means one per RX queue of the interface, at most one per CPU.
	Workers int
	// FastPath, when set, is an in-kernel fast path's tables (the xdp
	// backend's): the engine keeps them equal to its FIBs, adjacencies
	// and ports, and merges the fast path's counters into its own. nil:
	// every frame is forwarded here.
	FastPath fastpath.Tables
	// CPUs pins the workers: RX queue i of every interface is read on
	// CPUs[i mod len(CPUs)], by a worker locked to its OS thread. Empty:
	// the Go scheduler places them.
	CPUs []int
}

// Engine is the forwarding loop: ports, their RX workers, and the slow
// path (ARP/ND through neigh, ICMP, packets to the router).
//
// Concurrency: the packet path reads the port table, FIBs and adjacencies
// lock-free and never takes a lock the control path holds across I/O.
// BindPort, UnbindPort and Close serialise on the engine's mutex, which
// guards only in-memory tables; opening and closing an interface's packet
// I/O (netlink, XDP attach, waiting for workers) happens outside it, under
// that interface's own open mutex. Ports and Stats may run at any time.
type Engine struct {
	reg  *fib.Registry
	adjs *adj.Table
	nb   *neigh.Table
	open Opener
	lnk  Links
	log  *slog.Logger
	// workers and cpus are Config.Workers and Config.CPUs.
	workers int
	cpus    []int

	// ports[id] is the port with that ID, or nil.
	ports atomic.Pointer[[]*Port]
	// fibCtr holds per-FIB counters, copy-on-write; ctrMu serialises
	// additions (in-memory only: a worker may take it on a FIB's first
	// packet).
	fibCtr atomic.Pointer[map[adj.FIBID]*counterSet]
	// slots numbers the RX workers for their counter shards.
	slots slots
	ctrMu sync.Mutex
	icmp  rateLimiters

	// slow holds worker contexts for neigh's callbacks (Deliver,
	// Unreachable), which run on neigh's goroutines: each call takes one
	// of its own, so one FIB's flood of unanswered neighbours never waits
	// for, or holds up, another FIB's queued packets.
	slow sync.Pool

	// hosts holds the FIBs' host stacks, copy-on-write under hostMu.
	hosts  atomic.Pointer[map[adj.FIBID]*host]
	hostMu sync.Mutex

	watchStop chan struct{}
	watchDone chan struct{}

	// fast mirrors the engine's tables into the fast path; nil without one.
	fast *mirror

	mu struct {
		sync.Mutex
		ifaces map[string]*iface
		byName map[string]*Port
		free   []adj.PortID
		closed bool
	}
}

// New makes an engine with no ports and starts following link changes.
func New(cfg Config) (*Engine, error) {
	if cfg.Registry == nil || cfg.Open == nil || cfg.Links == nil {
		return nil, errors.New("dataplane: Config needs Registry, Open and Links")
	}
	for _, c := range cfg.CPUs {
		if c < 0 {
			return nil, fmt.Errorf("dataplane: CPU %d: want a CPU number ≥ 0", c)
		}
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("dataplane: %d workers per interface: want ≥ 0", cfg.Workers)
	}
	e := &Engine{reg: cfg.Registry, adjs: cfg.Registry.Adjacencies(), open: cfg.Open, lnk: cfg.Links, log: cfg.Logger,
		workers: cfg.Workers, cpus: slices.Clone(cfg.CPUs)}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.icmp.init(cfg.ICMPRate, cfg.ICMPBurst)
	ports := make([]*Port, 1) // ID 0 is no port
	e.ports.Store(&ports)
	fc := map[adj.FIBID]*counterSet{}
	e.fibCtr.Store(&fc)
	hs := map[adj.FIBID]*host{}
	e.hosts.Store(&hs)
	e.mu.ifaces = map[string]*iface{}
	e.mu.byName = map[string]*Port{}
	nc := cfg.Neigh
	nc.Adj, nc.Env = e.adjs, envOf{e}
	if nc.Logger == nil {
		nc.Logger = e.log
	}
	nb, err := neigh.New(nc)
	if err != nil {
		return nil, err
	}
	e.nb = nb
	e.slow.New = func() any { return newWorker(e, nil, nil) }
	// The mirror exists before anything that kicks it (the link watcher).
	if cfg.FastPath != nil {
		if e.fast, err = newMirror(e, cfg.FastPath); err != nil {
			return nil, fmt.Errorf("dataplane: fast path: %w", err)
		}
	}
	e.watchStop, e.watchDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(e.watchDone)
		e.watchLinks()
	}()
	return e, nil
}

// fastKick tells the fast path's mirror that ports or their state changed.
func (e *Engine) fastKick() {
	if e.fast != nil {
		e.fast.poke()
	}
}

// cpuFor returns the CPU RX queue i's worker is pinned to, or -1.
func (e *Engine) cpuFor(i int) int {
	if len(e.cpus) == 0 {
		return -1
	}
	return e.cpus[i%len(e.cpus)]
}

// Neighbors returns the engine's neighbour tables.
func (e *Engine) Neighbors() *neigh.Table { return e.nb }

// Registry returns the FIB registry the engine forwards with.
func (e *Engine) Registry() *fib.Registry { return e.reg }

// Port returns the port with the given ID.
func (e *Engine) Port(id adj.PortID) (*Port, bool) {
	ps := *e.ports.Load()
	if int(id) >= len(ps) || ps[id] == nil {
		return nil, false
	}
	return ps[id], true
}

// PortByName finds a port by its name ("eth1", "eth1.100", "eth1.100.200").
func (e *Engine) PortByName(name string) (*Port, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.mu.byName[name]
	return p, ok
}

// BindPort binds the port spec names to FIB fibID, opening its interface
// on first use. Binding an existing port to another FIB moves it: its
// addresses, routes and neighbours are removed from the old FIB. A port
// whose interface does not exist (yet) is bound, and down until the
// interface appears. A port whose interface exists but cannot be prepared
// or opened is not bound: the error says why.
func (e *Engine) BindPort(spec PortSpec, fibID adj.FIBID) (adj.PortID, error) {
	defer e.fastKick() // the fast path's port tables follow
	if err := spec.Validate(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidVLAN, err)
	}
	f, ok := e.reg.Get(fibID)
	if !ok {
		return 0, fmt.Errorf("fib %d: %w", fibID, fib.ErrNoSuchFIB)
	}
	name := spec.Name()
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return 0, ErrClosedEngine
	}
	if p, ok := e.mu.byName[name]; ok {
		e.mu.Unlock()
		if p.spec.Interface != spec.Interface || p.spec.VLAN != spec.VLAN || p.spec.Inner != spec.Inner {
			return 0, fmt.Errorf("%w: %q is (%s, VLAN %d, inner %d) already", ErrPortNameTaken, name,
				p.spec.Interface, p.spec.VLAN, p.spec.Inner)
		}
		if p.spec.TPID() != spec.TPID() {
			return 0, fmt.Errorf("%w: %q has outer TPID %#04x; unbind it to change it", ErrInvalidVLAN, name, p.spec.TPID())
		}
		return p.id, e.movePort(p, f)
	}
	ifc := e.mu.ifaces[spec.Interface]
	if ifc == nil {
		ifc = newIface(spec.Interface)
		e.mu.ifaces[spec.Interface] = ifc
	}
	id := e.allocPortLocked()
	p := &Port{id: id, spec: spec, name: name, ifc: ifc, tags: tagsOf(spec)}
	p.fib.Store(f)
	e.fibCounters(fibID)
	ports := slices.Clone(*e.ports.Load())
	for int(id) >= len(ports) {
		ports = append(ports, nil)
	}
	ports[id] = p
	e.ports.Store(&ports)
	e.mu.byName[name] = p
	ifc.ports.Store(ifc.ports.Load().with(spec, p))
	ifc.nports++
	e.mu.Unlock()

	if err := e.reg.BindPort(id, fibID); err != nil {
		e.removePort(p)
		return 0, err
	}
	if err := e.openIface(ifc); err != nil && !errors.Is(err, errNoInterface) {
		e.removePort(p)
		_ = e.reg.UnbindPort(id)
		return 0, err
	}
	e.log.Info("port bound", "port", name, "id", id, "fib", fibID, "up", ifc.up(), "reason", ifc.downReason())
	return id, nil
}

// movePort moves a port to FIB f in one step.
func (e *Engine) movePort(p *Port, f *fib.FIB) error {
	defer e.fastKick() // the fast path's port tables follow
	old := p.fib.Load()
	if old.ID() == f.ID() {
		return nil
	}
	// The move is one step, and this store is it: from here every frame
	// arriving on p is looked up in the new FIB, and no packet of the old
	// FIB leaves through p (nextHop and Env compare the port's FIB with
	// the route's), while the old FIB's routes and neighbours through p
	// are removed below.
	e.fibCounters(f.ID())
	p.fib.Store(f)
	err := e.reg.BindPort(p.id, f.ID())
	if bound, _ := e.reg.PortFIB(p.id); bound != f.ID() {
		p.fib.Store(old) // the binding did not change: neither does the port
		return err
	}
	e.nb.Flush(old.ID(), p.id)
	e.log.Info("port moved", "port", p.name, "from_fib", old.ID(), "to_fib", f.ID())
	if err != nil {
		e.log.Error("port moved, but its old FIB kept routes through it", "port", p.name, "from_fib", old.ID(), "err", err)
	}
	return err
}

// UnbindPort removes a port: its addresses, routes and neighbours go, and
// the interface is released when it has no port left.
func (e *Engine) UnbindPort(id adj.PortID) error {
	p, ok := e.Port(id)
	if !ok {
		return fmt.Errorf("%w: %d", ErrNoSuchPort, id)
	}
	fid := p.fib.Load().ID()
	// The control plane may have unbound the port from its FIB already.
	if err := e.reg.UnbindPort(id); err != nil && !errors.Is(err, fib.ErrPortNotBound) {
		return err
	}
	e.nb.Flush(fid, id)
	e.removePort(p)
	e.log.Info("port unbound", "port", p.name, "id", id, "fib", fid)
	return nil
}

// removePort takes a port out of the tables and releases its interface
// when it was the last one there; the release (waiting for workers,
// restoring the interface) happens outside the engine's mutex.
func (e *Engine) removePort(p *Port) {
	defer e.fastKick() // the fast path's port tables follow
	e.mu.Lock()
	if e.mu.byName[p.name] != p {
		e.mu.Unlock()
		return
	}
	ifc := p.ifc
	delete(e.mu.byName, p.name)
	ifc.ports.Store(ifc.ports.Load().with(p.spec, nil))
	ports := slices.Clone(*e.ports.Load())
	ports[p.id] = nil
	e.ports.Store(&ports)
	e.mu.free = append(e.mu.free, p.id)
	ifc.nports--
	last := ifc.nports == 0
	e.mu.Unlock()
	if !last {
		return
	}
	ifc.open.Lock()
	e.mu.Lock()
	still := ifc.nports == 0 // no bind came in meanwhile
	e.mu.Unlock()
	if still {
		e.closeIfaceLocked(ifc, "no port bound")
		e.mu.Lock()
		if ifc.nports == 0 && e.mu.ifaces[ifc.name] == ifc {
			delete(e.mu.ifaces, ifc.name)
		}
		e.mu.Unlock()
	}
	ifc.open.Unlock()
}

func (e *Engine) allocPortLocked() adj.PortID {
	if n := len(e.mu.free); n > 0 {
		id := e.mu.free[n-1]
		e.mu.free = e.mu.free[:n-1]
		return id
	}
	return adj.PortID(len(*e.ports.Load()))
}

// fibCounters returns a FIB's counters, creating them on first use —
// which may be the first packet into a FIB without ports (a leak target):
// only an in-memory copy, under a mutex nothing holds across I/O.
func (e *Engine) fibCounters(id adj.FIBID) *counterSet {
	if c, ok := (*e.fibCtr.Load())[id]; ok {
		return c
	}
	e.ctrMu.Lock()
	defer e.ctrMu.Unlock()
	m := *e.fibCtr.Load()
	if c, ok := m[id]; ok {
		return c
	}
	next := maps.Clone(m)
	c := new(counterSet)
	next[id] = c
	e.fibCtr.Store(&next)
	return c
}

// Ports describes every port, by ID.
func (e *Engine) Ports() []PortInfo {
	var out []PortInfo
	for _, p := range *e.ports.Load() {
		if p != nil {
			pi := p.info()
			e.addFast(&pi)
			out = append(out, pi)
		}
	}
	return out
}

// addFast adds what the fast path did for the port to its counters: the
// frames it forwarded were received, forwarded and sent like any other.
func (e *Engine) addFast(pi *PortInfo) {
	if e.fast == nil {
		return
	}
	c, err := e.fast.t.PortCounters(uint32(pi.ID))
	if err != nil {
		return
	}
	pi.Counters.RxPackets += c.RxPackets
	pi.Counters.RxBytes += c.RxBytes
	pi.Counters.Forwarded += c.Forwarded
	pi.Counters.FastPathForwarded = c.Forwarded
	pi.Counters.TxPackets += c.TxPackets
	pi.Counters.TxBytes += c.TxBytes
}

// FIBCounters returns the counters of every FIB that had a port.
func (e *Engine) FIBCounters() map[adj.FIBID]Counters {
	out := map[adj.FIBID]Counters{}
	for id, c := range *e.fibCtr.Load() {
		s := c.snapshot()
		if e.fast != nil {
			if slot, ok := e.fast.slotOf(id); ok {
				if n, err := e.fast.t.FIBForwarded(slot); err == nil {
					s.Forwarded += n
					s.FastPathForwarded = n
				}
			}
		}
		out[id] = s
	}
	return out
}

// UnknownTags counts, for one interface, the frames no port is bound to:
// untagged or single-tagged (VLAN) and double-tagged (QinQ), with the tags
// of the last one seen (0 when none).
type UnknownTags struct {
	VLAN, QinQ                     uint64
	LastTPID, LastOuter, LastInner uint16
	RxErrors                       uint64
}

// Unknown returns, per interface, the frames dropped for carrying tags no
// port is bound to, and the receive errors.
func (e *Engine) Unknown() map[string]UnknownTags {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]UnknownTags{}
	for name, ifc := range e.mu.ifaces {
		last := ifc.lastUnknown.Load()
		out[name] = UnknownTags{VLAN: ifc.unknownVLAN.Load(), QinQ: ifc.unknownQinQ.Load(), RxErrors: ifc.rxErrors.Load(),
			LastTPID: uint16(last >> 32), LastOuter: uint16(last >> 16), LastInner: uint16(last)}
	}
	return out
}

// Close stops every worker and releases every interface. Routes and
// bindings stay in the registry.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return nil
	}
	e.mu.closed = true
	ifcs := slices.Collect(maps.Values(e.mu.ifaces))
	e.mu.Unlock()
	if e.fast != nil {
		e.fast.close()
	}
	close(e.watchStop)
	<-e.watchDone
	e.detachHosts()
	for _, ifc := range ifcs {
		ifc.open.Lock()
		e.closeIfaceLocked(ifc, "dataplane closed")
		ifc.open.Unlock()
	}
	return nil
}
