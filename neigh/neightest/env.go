package neightest

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/fibd/fibd/fib/adj"
)

// Env is a recording neigh.Env. Ports are configured with AddPort; every
// Transmit, Deliver and Unreachable is recorded with copies of the bytes
// (neigh only lends them for the call) and taken with the Take… methods.
// Safe for concurrent use.
type Env struct {
	mu struct {
		sync.Mutex
		ports       map[adj.PortID]*Port
		frames      []Frame
		delivered   []Handoff
		unreachable []Handoff
	}
	// OnDeliver, if set, is called from Deliver after recording, without
	// Env's lock (tests use it to call back into neigh).
	OnDeliver func(k adj.Key, mac adj.MAC, pkts [][]byte)
}

// Port is one fake port: bound to a FIB, with a MAC, the router's
// addresses as prefixes (the address is ours, the prefix is connected) and
// an optional IPv6 link-local address.
type Port struct {
	FIB       adj.FIBID
	MAC       adj.MAC
	Addrs     []netip.Prefix
	LinkLocal netip.Addr
}

// Frame is one Transmit call.
type Frame struct {
	Port      adj.PortID
	Dst       adj.MAC
	EtherType uint16
	Payload   []byte
}

// Handoff is one Deliver or Unreachable call.
type Handoff struct {
	Key  adj.Key
	MAC  adj.MAC
	Pkts [][]byte
}

// NewEnv returns an Env without ports.
func NewEnv() *Env {
	e := &Env{}
	e.mu.ports = make(map[adj.PortID]*Port)
	return e
}

// AddPort adds or replaces port p.
func (e *Env) AddPort(p adj.PortID, port Port) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cp := port
	cp.Addrs = slices.Clone(port.Addrs)
	e.mu.ports[p] = &cp
}

func (e *Env) port(fib adj.FIBID, p adj.PortID) (*Port, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	port, ok := e.mu.ports[p]
	if !ok || port.FIB != fib {
		return nil, false
	}
	return port, true
}

// PortMAC implements neigh.Env.
func (e *Env) PortMAC(p adj.PortID) (adj.MAC, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	port, ok := e.mu.ports[p]
	if !ok {
		return adj.MAC{}, false
	}
	return port.MAC, true
}

// SourceFor implements neigh.Env: IPv6 prefers the link-local address;
// otherwise the address of the first prefix containing target, else the
// first of the family.
func (e *Env) SourceFor(fib adj.FIBID, p adj.PortID, target netip.Addr) (netip.Addr, bool) {
	port, ok := e.port(fib, p)
	if !ok {
		return netip.Addr{}, false
	}
	if target.Is6() && port.LinkLocal.IsValid() {
		return port.LinkLocal, true
	}
	var first netip.Addr
	for _, pf := range port.Addrs {
		if pf.Addr().Is4() != target.Is4() {
			continue
		}
		if pf.Contains(target) {
			return pf.Addr(), true
		}
		if !first.IsValid() {
			first = pf.Addr()
		}
	}
	return first, first.IsValid()
}

// IsLocal implements neigh.Env.
func (e *Env) IsLocal(fib adj.FIBID, p adj.PortID, a netip.Addr) bool {
	port, ok := e.port(fib, p)
	if !ok {
		return false
	}
	if a == port.LinkLocal {
		return true
	}
	for _, pf := range port.Addrs {
		if pf.Addr() == a {
			return true
		}
	}
	return false
}

// OnLink implements neigh.Env.
func (e *Env) OnLink(fib adj.FIBID, p adj.PortID, a netip.Addr) bool {
	port, ok := e.port(fib, p)
	if !ok {
		return false
	}
	for _, pf := range port.Addrs {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// Transmit implements neigh.Env.
func (e *Env) Transmit(_ adj.FIBID, p adj.PortID, dst adj.MAC, etherType uint16, payload []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mu.frames = append(e.mu.frames, Frame{Port: p, Dst: dst, EtherType: etherType, Payload: slices.Clone(payload)})
}

// Deliver implements neigh.Env.
func (e *Env) Deliver(k adj.Key, mac adj.MAC, pkts [][]byte) {
	e.mu.Lock()
	e.mu.delivered = append(e.mu.delivered, Handoff{Key: k, MAC: mac, Pkts: clonePkts(pkts)})
	cb := e.OnDeliver
	e.mu.Unlock()
	if cb != nil {
		cb(k, mac, pkts)
	}
}

// Unreachable implements neigh.Env.
func (e *Env) Unreachable(k adj.Key, pkts [][]byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mu.unreachable = append(e.mu.unreachable, Handoff{Key: k, Pkts: clonePkts(pkts)})
}

func clonePkts(pkts [][]byte) [][]byte {
	out := make([][]byte, len(pkts))
	for i, p := range pkts {
		out[i] = slices.Clone(p)
	}
	return out
}

// TakeFrames returns and forgets the frames transmitted so far.
func (e *Env) TakeFrames() []Frame {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.mu.frames
	e.mu.frames = nil
	return f
}

// TakeDelivered returns and forgets the Deliver calls so far.
func (e *Env) TakeDelivered() []Handoff {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.mu.delivered
	e.mu.delivered = nil
	return d
}

// TakeUnreachable returns and forgets the Unreachable calls so far.
func (e *Env) TakeUnreachable() []Handoff {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.mu.unreachable
	e.mu.unreachable = nil
	return d
}
