package main

import (
	"cmp"
	"errors"
	"fmt"
	"github.com/fibd/fibd/dataplane/fastpath"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/backend"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/neigh"
)

// ioKinds lists what --io accepts.
const ioKinds = "auto (XDP where it attaches, else AF_PACKET), afpacket, xdp (never falls back), " +
	"none (record ports, move no packets: a route server)"

// newDataplane builds the dataplane and the neighbour table --io asks for.
// It returns a function that releases them.
func newDataplane(kind, hostPrefix string, workers workerFlags, fastPath bool, reg *fib.Registry, log *slog.Logger) (control.Dataplane, control.Neighbors, func(), error) {
	switch kind {
	case "none":
		// No packets move, so nothing resolves: the neighbour table holds
		// the static entries the admin adds, and publishes their MACs into
		// the adjacencies routes use, which LookupRoute shows.
		t, err := neigh.New(neigh.Config{Adj: reg.Adjacencies(), Env: quietEnv{reg}, Logger: log})
		if err != nil {
			return nil, nil, nil, err
		}
		return newNoneDataplane(), &engineNeighbors{t: t}, func() {}, nil
	case backend.AFPacket, backend.XDP, backend.Auto:
	default:
		return nil, nil, nil, fmt.Errorf("--io %q: want %s", kind, ioKinds)
	}
	// The fast path runs where AF_XDP attaches natively; without it (or
	// where its tables cannot be made) every frame is forwarded in user
	// space, as before.
	var fp *backend.FastPath
	var tables fastpath.Tables
	if fastPath && kind != backend.AFPacket {
		var err error
		if fp, err = backend.NewFastPath(); err != nil {
			log.Warn("in-kernel fast path unavailable; forwarding in user space", "err", err)
			fp = nil
		} else {
			tables = fp
		}
	}
	open, err := backend.OpenerFast(kind, log, fp)
	if err != nil {
		return nil, nil, nil, err
	}
	links, err := backend.NewLinks(false)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("netlink: %w", err)
	}
	e, err := dataplane.New(dataplane.Config{Registry: reg, Open: open, Links: links, Logger: log,
		Workers: workers.perIface, CPUs: workers.cpus, FastPath: tables})
	if err != nil {
		links.Close()
		if fp != nil {
			fp.Close()
		}
		return nil, nil, nil, err
	}
	log.Info("dataplane ready", "io", kind, "workers_per_iface", workers.perIface, "cpus", workers.cpus, "fast_path", fp != nil)
	stop := func() {
		e.Close()
		links.Close()
		if fp != nil {
			fp.Close()
		}
	}
	return &engineDP{e: e, kind: kind, hostPrefix: hostPrefix, log: log}, &engineNeighbors{t: e.Neighbors()}, stop, nil
}

// engineDP adapts the forwarding engine to the control plane.
type engineDP struct {
	e    *dataplane.Engine
	kind string
	// hostPrefix names the FIBs' host namespaces (--host-netns-prefix).
	hostPrefix string
	log        *slog.Logger
}

func (d *engineDP) Backend() string { return d.kind }

func (d *engineDP) BindPort(spec control.PortSpec, fibID adj.FIBID) (control.PortInfo, error) {
	id, err := d.e.BindPort(spec, fibID)
	if errors.Is(err, dataplane.ErrPortNameTaken) {
		return control.PortInfo{}, fmt.Errorf("%w: %w", control.ErrPortExists, err)
	}
	if errors.Is(err, dataplane.ErrInvalidVLAN) {
		return control.PortInfo{}, fmt.Errorf("%w: %w", control.ErrInvalidArgument, err)
	}
	if err != nil {
		return control.PortInfo{}, err
	}
	for _, p := range d.e.Ports() {
		if p.ID == id {
			return portInfo(p), nil
		}
	}
	return control.PortInfo{}, fmt.Errorf("%w: %d", control.ErrPortNotFound, id)
}

func (d *engineDP) UnbindPort(id adj.PortID) error {
	err := d.e.UnbindPort(id)
	if errors.Is(err, dataplane.ErrNoSuchPort) {
		return fmt.Errorf("%w: %w", control.ErrPortNotFound, err)
	}
	return err
}

func (d *engineDP) SetPortSettings(id adj.PortID, s control.PortSettings) error {
	mode, err := dataplane.ParseRPFMode(cmp.Or(s.RPF, control.RPFOff))
	if err != nil {
		return fmt.Errorf("%w: %w", control.ErrInvalidArgument, err)
	}
	err = d.e.SetPortSettings(id, dataplane.PortSettings{RPF: mode, AllowSourceRoute: s.AllowSourceRoute})
	if errors.Is(err, dataplane.ErrNoSuchPort) {
		return fmt.Errorf("%w: %w", control.ErrPortNotFound, err)
	}
	return err
}

func (d *engineDP) Ports() []control.PortInfo {
	var out []control.PortInfo
	for _, p := range d.e.Ports() {
		out = append(out, portInfo(p))
	}
	return out
}

func (d *engineDP) Stats() control.Stats {
	var s control.Stats
	for _, p := range d.e.Ports() {
		s.Ports = append(s.Ports, control.PortStats{Port: p.ID, Name: p.Name, FIB: p.FIB, Counters: counters(p.Counters)})
	}
	for name, u := range d.e.Unknown() {
		s.Interfaces = append(s.Interfaces, control.InterfaceStats{Interface: name, UnknownVLAN: u.VLAN,
			UnknownQinQ: u.QinQ, LastTPID: u.LastTPID, LastVLAN: u.LastOuter, LastInnerVLAN: u.LastInner,
			RxErrors: u.RxErrors})
	}
	fc := d.e.FIBCounters()
	ids := make([]adj.FIBID, 0, len(fc))
	for id := range fc {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		s.FIBs = append(s.FIBs, control.FIBStats{FIB: id, Counters: counters(fc[id])})
	}
	if fp := d.e.FastPath(); fp.Enabled {
		s.FastPath = &control.FastPathStats{Interfaces: fp.Interfaces, Forwarded: fp.Forwarded, Punts: fp.Punts}
	}
	return s
}

func portInfo(p dataplane.PortInfo) control.PortInfo {
	state := "down"
	if p.Up {
		state = "up"
	}
	return control.PortInfo{ID: p.ID, Name: p.Name, Interface: p.Ifname, VLAN: p.VLAN, InnerVLAN: p.InnerVLAN,
		OuterTPID: p.OuterTPID, FIB: p.FIB, Ifindex: p.Ifindex, MAC: p.MAC, MTU: p.MTU, State: state,
		StateReason: p.Reason, Backend: p.Backend, RxWorkers: p.RxQueues, Counters: counters(p.Counters), IO: p.IO,
		Settings: control.PortSettings{RPF: p.Settings.RPF.String(), AllowSourceRoute: p.Settings.AllowSourceRoute}}
}

func counters(c dataplane.Counters) control.Counters {
	return control.Counters{RxPackets: c.RxPackets, RxBytes: c.RxBytes, TxPackets: c.TxPackets, TxBytes: c.TxBytes,
		Forwarded: c.Forwarded, Dropped: c.Dropped(), Drops: c.Drops, Local: c.Local, NeighborQueued: c.NeighborQueued,
		TxDropped: c.TxDropped(), FastPathForwarded: c.FastPathForwarded}
}

// engineNeighbors adapts package neigh to the control plane.
type engineNeighbors struct{ t *neigh.Table }

func (n *engineNeighbors) AddStatic(k adj.Key, mac adj.MAC) error { return n.t.AddStatic(k, mac) }

func (n *engineNeighbors) DeleteStatic(k adj.Key) error {
	err := n.t.DeleteStatic(k)
	if errors.Is(err, neigh.ErrNotFound) {
		return fmt.Errorf("%w: %w", control.ErrNeighborNotFound, err)
	}
	return err
}

func neighborInfo(e neigh.Entry) control.NeighborInfo {
	return control.NeighborInfo{Key: e.Key, MAC: e.MAC, State: e.State.String(), Static: e.Static(), Updated: e.Updated}
}

func (n *engineNeighbors) Get(k adj.Key) (control.NeighborInfo, bool) {
	var out control.NeighborInfo
	found := false
	n.t.List(k.FIB, func(e neigh.Entry) bool {
		if e.Key == k {
			out, found = neighborInfo(e), true
			return false
		}
		return true
	})
	return out, found
}

func (n *engineNeighbors) List(fibID adj.FIBID, fn func(control.NeighborInfo) bool) {
	n.t.List(fibID, func(e neigh.Entry) bool { return fn(neighborInfo(e)) })
}

// subscribeBuffer is how many events the table keeps for a subscriber
// that has not read them yet: a flood's worth of entries coming and going
// (tens of thousands a second) without dropping any.
const subscribeBuffer = 1 << 16

func (n *engineNeighbors) Subscribe(fn func(control.NeighborEvent), lost func()) (cancel func()) {
	sub := n.t.Subscribe(subscribeBuffer)
	done := make(chan struct{})
	go func() {
		defer close(done)
		told := false
		for ev := range sub.C {
			if !told && sub.Dropped() > 0 {
				told = true
				lost()
			}
			typ := control.NeighborChanged
			switch ev.Kind {
			case neigh.EventAdded:
				typ = control.NeighborAdded
			case neigh.EventRemoved:
				typ = control.NeighborRemoved
			}
			fn(control.NeighborEvent{Type: typ, Neighbor: neighborInfo(ev.Entry)})
		}
	}()
	return func() {
		sub.Close()
		<-done
	}
}

func (n *engineNeighbors) Announce(k adj.Key) { n.t.Announce(k.FIB, k.Port, k.Addr) }

func (n *engineNeighbors) Settings(fibID adj.FIBID) control.NeighborSettings {
	c := n.t.Config(fibID)
	i := func(v int) *int { return &v }
	d := func(v time.Duration) *time.Duration { return &v }
	return control.NeighborSettings{MaxEntries: i(c.MaxEntries), ARPAccept: &c.ARPAccept, GCStaleTime: d(c.GCStaleTime),
		BaseReachableTime: d(c.BaseReachableTime), DelayFirstProbeTime: d(c.DelayFirstProbeTime), RetransTimer: d(c.RetransTimer),
		SolicitRate: i(int(c.SolicitRate)), SolicitBurst: i(c.SolicitBurst),
		ReservedSolicitRate: i(int(c.ReservedSolicitRate)), ReservedSolicitBurst: i(c.ReservedSolicitBurst)}
}

// SetSettings replaces the FIB's neighbour configuration: the fields s
// sets, the defaults for the rest.
func (n *engineNeighbors) SetSettings(fibID adj.FIBID, s control.NeighborSettings) error {
	var c neigh.FIBConfig
	if s.MaxEntries != nil {
		c.MaxEntries = *s.MaxEntries
	}
	if s.ARPAccept != nil {
		c.ARPAccept = *s.ARPAccept
	}
	for _, d := range []struct {
		src *time.Duration
		dst *time.Duration
	}{{s.GCStaleTime, &c.GCStaleTime}, {s.BaseReachableTime, &c.BaseReachableTime},
		{s.DelayFirstProbeTime, &c.DelayFirstProbeTime}, {s.RetransTimer, &c.RetransTimer}} {
		if d.src != nil {
			*d.dst = *d.src
		}
	}
	if s.SolicitRate != nil {
		c.SolicitRate = float64(*s.SolicitRate)
	}
	if s.SolicitBurst != nil {
		c.SolicitBurst = *s.SolicitBurst
	}
	if s.ReservedSolicitRate != nil {
		c.ReservedSolicitRate = float64(*s.ReservedSolicitRate)
	}
	if s.ReservedSolicitBurst != nil {
		c.ReservedSolicitBurst = *s.ReservedSolicitBurst
	}
	return n.t.SetConfig(fibID, c)
}

// quietEnv is neigh's environment when no packets move: the FIBs answer
// address questions, and nothing is ever sent.
type quietEnv struct{ reg *fib.Registry }

func (quietEnv) PortMAC(adj.PortID) (adj.MAC, bool) { return adj.MAC{}, false }

func (e quietEnv) SourceFor(id adj.FIBID, p adj.PortID, target netip.Addr) (netip.Addr, bool) {
	if f, ok := e.reg.Get(id); ok {
		return f.SourceFor(p, target)
	}
	return netip.Addr{}, false
}

func (e quietEnv) IsLocal(id adj.FIBID, p adj.PortID, a netip.Addr) bool {
	f, ok := e.reg.Get(id)
	return ok && f.IsLocal(p, a)
}

func (e quietEnv) OnLink(id adj.FIBID, p adj.PortID, a netip.Addr) bool {
	f, ok := e.reg.Get(id)
	return ok && f.OnLink(p, a)
}

func (quietEnv) Transmit(adj.FIBID, adj.PortID, adj.MAC, uint16, []byte) {}
func (quietEnv) Deliver(adj.Key, adj.MAC, [][]byte)                      {}
func (quietEnv) Unreachable(adj.Key, [][]byte)                           {}
