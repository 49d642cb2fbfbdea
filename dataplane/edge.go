package dataplane

import (
	"fmt"
	"runtime"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// RPFMode is a port's unicast reverse-path forwarding check (RFC 3704).
type RPFMode uint8

const (
	// RPFOff checks nothing.
	RPFOff RPFMode = iota
	// RPFLoose accepts a packet whose source has a route in the port's FIB
	// that forwards (not a blackhole, unreachable or prohibit route, nor an
	// unresolved one), through any port (RFC 3704 §2.4).
	RPFLoose
	// RPFStrict accepts a packet only when the route back to its source
	// leaves through the port it arrived on; with ECMP, through any member
	// (RFC 3704 §2.2, the "feasible path" relaxation of §2.3 for ECMP).
	RPFStrict
	numRPFModes
)

var rpfNames = [numRPFModes]string{"off", "loose", "strict"}

func (m RPFMode) String() string {
	if m < numRPFModes {
		return rpfNames[m]
	}
	return fmt.Sprintf("RPFMode(%d)", uint8(m))
}

// ParseRPFMode reads "off", "loose" or "strict".
func ParseRPFMode(s string) (RPFMode, error) {
	for m, n := range rpfNames {
		if n == s {
			return RPFMode(m), nil
		}
	}
	return 0, fmt.Errorf("rpf mode %q: want off, loose or strict", s)
}

// PortSettings are a port's edge filters. The zero value is a router's
// default: no reverse-path check, source-routed packets dropped.
type PortSettings struct {
	RPF RPFMode
	// AllowSourceRoute forwards IPv4 packets with a loose or strict
	// source route option (by their destination: fibd does not follow
	// the route) instead of dropping them (RFC 7126 §4.3–4.4).
	AllowSourceRoute bool
}

// pack is the settings as one word, for an atomic load per packet.
func (s PortSettings) pack() uint32 {
	v := uint32(s.RPF)
	if s.AllowSourceRoute {
		v |= 1 << 8
	}
	return v
}

func unpackSettings(v uint32) PortSettings {
	return PortSettings{RPF: RPFMode(v & 0xff), AllowSourceRoute: v&(1<<8) != 0}
}

// SetPortSettings changes a port's edge filters; the next packet sees them.
func (e *Engine) SetPortSettings(id adj.PortID, s PortSettings) error {
	defer e.fastKick() // the fast path's port tables follow
	if s.RPF >= numRPFModes {
		return fmt.Errorf("rpf mode %d: want off, loose or strict", s.RPF)
	}
	p, ok := e.Port(id)
	if !ok {
		return fmt.Errorf("%w: %d", ErrNoSuchPort, id)
	}
	p.settings.Store(s.pack())
	return nil
}

// Settings returns the port's edge filters.
func (p *Port) Settings() PortSettings { return unpackSettings(p.settings.Load()) }

// edgeFilter applies a port's ingress filters to a unicast packet with a
// valid source, before its destination is looked up: source-routed IPv4
// (unless the port allows it), a source that is one of the router's own
// addresses in the FIB (a martian, RFC 1812 §5.3.7), and the port's
// reverse-path check. It returns why the packet is dropped, or dropNone.
func (w *worker) edgeFilter(in *Port, f *fib.FIB, frame []byte) Drop {
	p := w.p
	s := unpackSettings(in.settings.Load())
	if !s.AllowSourceRoute && packet.SourceRouted(frame, p) {
		return DropSourceRoute
	}
	if f.IsOwn(p.Src) {
		return DropOwnSource
	}
	if s.RPF != RPFOff && !w.reversePath(in, f, s.RPF) {
		return DropRPF
	}
	return dropNone
}

// reversePath reports whether the packet's source passes the check: a
// route to it that forwards (loose), leaving through the ingress port
// (strict; any ECMP member, or the backup group's, counts).
func (w *worker) reversePath(in *Port, f *fib.FIB, mode RPFMode) bool {
	n, g, ok := w.lookup(f, w.p.Src)
	if !ok {
		return false
	}
	defer runtime.KeepAlive(n) // its adjacency IDs, below
	switch n.Kind {
	case fib.NextGateway, fib.NextAttached:
	default:
		return false
	}
	if mode == RPFLoose {
		return true
	}
	if g != f {
		// The way back is a leak into another FIB: it leaves through a
		// port of that FIB, never this one.
		return false
	}
	if n.Kind == fib.NextAttached {
		return n.Port == in.id
	}
	for e := n; e != nil; e = e.Backup {
		if e.Group == nil {
			if e.Kind == fib.NextGateway && w.e.adjs.Get(e.Adj).Port() == in.id {
				return true
			}
			continue
		}
		for _, id := range e.Group {
			if w.e.adjs.Get(id).Port() == in.id {
				return true
			}
		}
	}
	return false
}
