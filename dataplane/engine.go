package dataplane

import (
	"errors"
	"fmt"
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
	ErrNoSuchInterface = errors.New("no such interface")
	ErrNoSuchPort      = errors.New("no such port")
	ErrInvalidVLAN     = errors.New("invalid VLAN ID")
	ErrClosedEngine    = errors.New("dataplane closed")
)

// Opener opens packet I/O on an interface — one PacketIO per RX queue, each
// of which gets its own RX worker; the first also carries the interface's
// transmissions — and names the backend it used ("afpacket", "xdp").
// cmd/fibd picks the backend; the engine does not import them (they import
// this package for PacketIO).
type Opener func(ifname string, ifindex int) (ios []PacketIO, backend string, err error)

// LinkInfo is what the engine needs to know about an interface.
type LinkInfo struct {
	Name  string
	Index int
	MAC   adj.MAC
	MTU   int
	Up    bool
}

// Links finds interfaces, prepares them for fibd's exclusive use (no kernel
// addresses, IPv6 off, offloads off) and reports their changes. Declared
// here, implemented over netlink by SystemLinks and by fakes in tests.
type Links interface {
	ByName(name string) (LinkInfo, error)
	// Prepare readies an interface and returns how to undo it.
	Prepare(name string) (release func() error, err error)
	// Watch calls fn for every change until done is closed.
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
}

// Engine is the forwarding loop: ports, their RX workers, and the slow
// path (ARP/ND through neigh, ICMP, packets to the router).
//
// Concurrency: the packet path reads the port table, FIBs and adjacencies
// lock-free. BindPort, UnbindPort and Close serialise on the engine's
// mutex; Ports and Stats may run at any time.
type Engine struct {
	reg  *fib.Registry
	adjs *adj.Table
	nb   *neigh.Table
	open Opener
	lnk  Links
	log  *slog.Logger

	// ports[id] is the port with that ID, or nil.
	ports atomic.Pointer[[]*Port]
	// fibCtr holds per-FIB counters, created when a port binds the FIB.
	fibCtr atomic.Pointer[map[adj.FIBID]*counters]
	icmp   rateLimiters

	// slow holds worker contexts for neigh's callbacks (Deliver,
	// Unreachable), which run on neigh's goroutines: each call takes one
	// of its own, so one FIB's flood of unanswered neighbours never waits
	// for, or holds up, another FIB's queued packets.
	slow sync.Pool

	watchStop chan struct{}

	mu struct {
		sync.Mutex
		ifaces map[string]*iface
		free   []adj.PortID
		closed bool
	}
}

// New makes an engine with no ports and starts following link changes.
func New(cfg Config) (*Engine, error) {
	if cfg.Registry == nil || cfg.Open == nil || cfg.Links == nil {
		return nil, errors.New("dataplane: Config needs Registry, Open and Links")
	}
	e := &Engine{reg: cfg.Registry, adjs: cfg.Registry.Adjacencies(), open: cfg.Open, lnk: cfg.Links, log: cfg.Logger}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.icmp.init(cfg.ICMPRate, cfg.ICMPBurst)
	ports := make([]*Port, 1) // ID 0 is no port
	e.ports.Store(&ports)
	fc := map[adj.FIBID]*counters{}
	e.fibCtr.Store(&fc)
	e.mu.ifaces = map[string]*iface{}
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
	e.slow.New = func() any { return newWorker(e, nil) }
	e.watchStop = make(chan struct{})
	go func() {
		if err := e.lnk.Watch(e.watchStop, e.linkChanged); err != nil {
			e.log.Warn("not following link changes", "err", err)
		}
	}()
	return e, nil
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

// PortByName finds a port by its name ("eth1", "eth1.100").
func (e *Engine) PortByName(name string) (*Port, bool) {
	for _, p := range *e.ports.Load() {
		if p != nil && p.name == name {
			return p, true
		}
	}
	return nil, false
}

// BindPort binds the interface ifname (vlan 0) or its VLAN vlan to FIB
// fibID, opening the interface on first use. Binding an existing port to
// another FIB moves it: its addresses, routes and neighbours are removed
// from the old FIB.
func (e *Engine) BindPort(ifname string, vlan uint16, fibID adj.FIBID) (adj.PortID, error) {
	if vlan > MaxVLAN {
		return 0, fmt.Errorf("%w: %d (1–%d, or 0 for untagged)", ErrInvalidVLAN, vlan, MaxVLAN)
	}
	f, ok := e.reg.Get(fibID)
	if !ok {
		return 0, fmt.Errorf("fib %d: %w", fibID, fib.ErrNoSuchFIB)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.closed {
		return 0, ErrClosedEngine
	}
	ifc, err := e.ifaceLocked(ifname)
	if err != nil {
		return 0, err
	}
	if p := ifc.port(vlan); p != nil {
		old := p.fib.Load()
		if old.ID() == fibID {
			return p.id, nil
		}
		// The move is one step, and this store is it: from here every
		// frame arriving on p is looked up in the new FIB, and no packet
		// of the old FIB leaves through p (nextHop and Env compare the
		// port's FIB with the route's), while the old FIB's routes and
		// neighbours through p are removed below.
		e.fibCountersLocked(fibID)
		p.fib.Store(f)
		err := e.reg.BindPort(p.id, fibID)
		if bound, _ := e.reg.PortFIB(p.id); bound != fibID {
			p.fib.Store(old) // the binding did not change: neither does the port
			return 0, err
		}
		e.nb.Flush(old.ID(), p.id)
		e.log.Info("port moved", "port", p.name, "from_fib", old.ID(), "to_fib", fibID)
		if err != nil {
			e.log.Error("port moved, but its old FIB kept routes through it", "port", p.name, "from_fib", old.ID(), "err", err)
			return p.id, err
		}
		return p.id, nil
	}
	id := e.allocPortLocked()
	if err := e.reg.BindPort(id, fibID); err != nil {
		e.mu.free = append(e.mu.free, id)
		e.closeIfaceIfUnusedLocked(ifc)
		return 0, err
	}
	p := &Port{id: id, name: PortName(ifname, vlan), ifc: ifc, vlan: vlan}
	p.fib.Store(f)
	e.fibCountersLocked(fibID)
	ports := slices.Clone(*e.ports.Load())
	for int(id) >= len(ports) {
		ports = append(ports, nil)
	}
	ports[id] = p
	e.ports.Store(&ports)
	ifc.setPort(vlan, p)
	ifc.nports++
	e.log.Info("port bound", "port", p.name, "id", id, "fib", fibID, "backend", ifc.backend)
	return id, nil
}

// UnbindPort removes a port: its addresses, routes and neighbours go, and
// the interface is released when it has no port left.
func (e *Engine) UnbindPort(id adj.PortID) error {
	e.mu.Lock()
	defer e.mu.Unlock()
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
	p.ifc.setPort(p.vlan, nil)
	ports := slices.Clone(*e.ports.Load())
	ports[id] = nil
	e.ports.Store(&ports)
	e.mu.free = append(e.mu.free, id)
	p.ifc.nports--
	e.closeIfaceIfUnusedLocked(p.ifc)
	e.log.Info("port unbound", "port", p.name, "id", id, "fib", fid)
	return nil
}

func (e *Engine) allocPortLocked() adj.PortID {
	if n := len(e.mu.free); n > 0 {
		id := e.mu.free[n-1]
		e.mu.free = e.mu.free[:n-1]
		return id
	}
	return adj.PortID(len(*e.ports.Load()))
}

func (e *Engine) fibCountersLocked(id adj.FIBID) *counters {
	m := *e.fibCtr.Load()
	if c, ok := m[id]; ok {
		return c
	}
	next := maps.Clone(m)
	c := new(counters)
	next[id] = c
	e.fibCtr.Store(&next)
	return c
}

func (e *Engine) fibCounters(id adj.FIBID) *counters {
	if c, ok := (*e.fibCtr.Load())[id]; ok {
		return c
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fibCountersLocked(id)
}

// ifaceLocked returns the open interface, opening it if needed.
func (e *Engine) ifaceLocked(name string) (*iface, error) {
	if ifc, ok := e.mu.ifaces[name]; ok {
		return ifc, nil
	}
	li, err := e.lnk.ByName(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoSuchInterface, name, err)
	}
	release, err := e.lnk.Prepare(name)
	if err != nil {
		return nil, fmt.Errorf("preparing %s: %w", name, err)
	}
	ios, backend, err := e.open(name, li.Index)
	if err == nil && len(ios) == 0 {
		err = errors.New("no packet I/O")
	}
	if err != nil {
		if release != nil {
			_ = release()
		}
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	ifc := &iface{name: name, index: li.Index, mac: li.MAC, io: ios[0], ios: ios, backend: backend, release: release,
		stop: make(chan struct{})}
	if cr, ok := ios[0].(ChecksumReporter); !ok || !cr.ReportsPartialChecksums() {
		ifc.guessCsum = true
	}
	ifc.mtu.Store(int32(li.MTU))
	ifc.up.Store(li.Up)
	ifc.vlans.Store(new([MaxVLAN + 1]*Port))
	e.mu.ifaces[name] = ifc
	for _, io := range ios {
		w := newWorker(e, ifc)
		ifc.workers.Add(1)
		go w.run(io)
	}
	e.log.Info("interface opened", "iface", name, "ifindex", li.Index, "mac", li.MAC, "mtu", li.MTU, "up", li.Up,
		"backend", backend, "rx_queues", len(ios))
	return ifc, nil
}

func (e *Engine) closeIfaceIfUnusedLocked(ifc *iface) {
	if ifc.nports > 0 {
		return
	}
	delete(e.mu.ifaces, ifc.name)
	close(ifc.stop)
	for _, io := range ifc.ios {
		_ = io.Close()
	}
	ifc.workers.Wait()
	if ifc.release != nil {
		if err := ifc.release(); err != nil {
			e.log.Warn("restoring interface", "iface", ifc.name, "err", err)
		}
	}
	e.log.Info("interface released", "iface", ifc.name)
}

// linkChanged follows an interface's state: a port that goes down stops
// forwarding (its routes' packets are dropped as egress-down) and loses its
// dynamic neighbours; static ones stay.
func (e *Engine) linkChanged(li LinkInfo, deleted bool) {
	e.mu.Lock()
	ifc, ok := e.mu.ifaces[li.Name]
	e.mu.Unlock()
	if !ok {
		return
	}
	up := li.Up && !deleted
	if li.MTU > 0 {
		ifc.mtu.Store(int32(li.MTU))
	}
	if was := ifc.up.Swap(up); was == up {
		return
	}
	e.log.Info("link state", "iface", li.Name, "up", up, "deleted", deleted)
	for _, p := range ifc.vlans.Load() {
		if p == nil {
			continue
		}
		f := p.fib.Load()
		if !up {
			e.nb.Flush(f.ID(), p.id)
			continue
		}
		// Back up: tell the link every address of the port is here, as
		// Linux does on carrier up (arp_notify, unsolicited NA).
		for _, a := range f.Addresses(p.id) {
			e.nb.Announce(f.ID(), p.id, a.Addr())
		}
	}
}

// Ports describes every port, by ID.
func (e *Engine) Ports() []PortInfo {
	var out []PortInfo
	for _, p := range *e.ports.Load() {
		if p != nil {
			out = append(out, p.info())
		}
	}
	return out
}

// FIBCounters returns the counters of every FIB that had a port.
func (e *Engine) FIBCounters() map[adj.FIBID]Counters {
	out := map[adj.FIBID]Counters{}
	for id, c := range *e.fibCtr.Load() {
		out[id] = c.snapshot()
	}
	return out
}

// UnknownVLANs returns, per interface, the frames dropped for carrying a
// VLAN no port is bound to.
func (e *Engine) UnknownVLANs() map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]uint64{}
	for name, ifc := range e.mu.ifaces {
		out[name] = ifc.unknown.Load()
	}
	return out
}

// Close stops every worker and releases every interface. Routes and
// bindings stay in the registry.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.closed {
		return nil
	}
	e.mu.closed = true
	close(e.watchStop)
	for _, ifc := range e.mu.ifaces {
		ifc.nports = 0
		e.closeIfaceIfUnusedLocked(ifc)
	}
	return nil
}
