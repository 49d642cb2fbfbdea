package dataplane

import (
	"sync/atomic"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/dataplane/portspec"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// MaxVLAN is the highest usable 802.1Q VLAN ID; 0 and 4095 are reserved
// (IEEE 802.1Q table 9-2), and a port with VLAN 0 means "untagged".
const MaxVLAN = portspec.MaxVLAN

// PortSpec names a port: an interface, an (interface, VLAN) pair, or an
// (interface, outer VLAN, inner VLAN) QinQ triple with its outer TPID.
type PortSpec = portspec.Spec

// Port is an interface, an (interface, VLAN) pair or an (interface, outer
// VLAN, inner VLAN) triple bound to one FIB. Its identity never changes;
// its FIB may (a move), and its state follows the interface's.
type Port struct {
	id   adj.PortID
	spec PortSpec
	name string // spec.Name()
	ifc  *iface
	// tags are what the port's egress frames carry, and what its ingress
	// frames carry to be classified to it.
	tags packet.Tags
	fib  atomic.Pointer[fib.FIB]
	ctr  counterSet
	// settings are the port's edge filters (PortSettings.pack), one load
	// per packet.
	settings atomic.Uint32
}

// ID returns the port's ID, as fib and neigh know it.
func (p *Port) ID() adj.PortID { return p.id }

// Name returns the port's name ("eth1", "eth1.100", "eth1.100.200").
func (p *Port) Name() string { return p.name }

// PortName formats the name of the port on interface ifname with vlan.
func PortName(ifname string, vlan uint16) string {
	return PortSpec{Interface: ifname, VLAN: vlan}.Name()
}

func tagsOf(s PortSpec) packet.Tags {
	if s.VLAN == 0 {
		return packet.Tags{}
	}
	return packet.Tags{OuterTPID: s.TPID(), Outer: s.VLAN, Inner: s.Inner}
}

// PortInfo describes a port for the control plane.
type PortInfo struct {
	ID        adj.PortID
	Name      string
	Ifname    string
	Ifindex   int
	VLAN      uint16
	InnerVLAN uint16
	OuterTPID uint16
	FIB       adj.FIBID
	MAC       adj.MAC
	MTU       int
	Up        bool
	// Reason says why a port is down: its interface is missing, down,
	// or failing to receive. Empty when up.
	Reason  string
	Backend string
	// RxQueues is how many packet I/Os (and RX workers) read the port's
	// interface.
	RxQueues int
	Settings PortSettings
	Counters Counters
	// IO holds the packet I/O's own counters for the port's interface
	// (summed over its RX queues), e.g. xdp_rx_packets or
	// afpacket_rx_kernel_drop. Ports sharing an interface show the same.
	IO map[string]uint64
}

func (p *Port) info() PortInfo {
	ifc := p.ifc
	pi := PortInfo{
		ID: p.id, Name: p.name, Ifname: ifc.name, VLAN: p.spec.VLAN, InnerVLAN: p.spec.Inner, OuterTPID: p.tags.OuterTPID,
		MTU: int(ifc.mtu.Load()), Up: ifc.healthy(), Reason: ifc.downReason(), Counters: p.ctr.snapshot(),
		Settings: p.Settings(),
	}
	if f := p.fib.Load(); f != nil {
		pi.FIB = f.ID()
	}
	if l := ifc.live.Load(); l != nil {
		pi.Ifindex, pi.MAC, pi.Backend, pi.RxQueues = l.index, l.mac, l.backend, len(l.ios)
		for _, io := range l.ios {
			if cr, ok := io.(CounterReporter); ok {
				if pi.IO == nil {
					pi.IO = map[string]uint64{}
				}
				for k, v := range cr.IOCounters() {
					pi.IO[k] += v
				}
			}
		}
	}
	return pi
}

// portTable finds an interface's ports by their tags, lock-free: it is
// replaced, never changed, under the engine's mutex.
type portTable struct {
	untagged *Port
	// single[v] is the single-tagged port for VID v. Every 12-bit VID
	// indexes it, the reserved 0 and 4095 included (always nil): a
	// frame's tag is whatever the wire or the driver says.
	single [1 << 12]*Port
	// qinq holds the QinQ ports by outer<<16 | inner; nil when none.
	qinq map[uint32]*Port
}

var emptyPorts portTable

// classify returns the port a frame with these tags belongs to, or nil.
// A single tag must carry the port's outer TPID; two tags name a QinQ port
// and only a QinQ port — a double-tagged frame is never taken for its
// outer tag's single-tagged port.
func (t *portTable) classify(p *packet.Parsed) *Port {
	switch p.Tags {
	case 0:
		return t.untagged
	case 1:
		if pt := t.single[p.VID()]; pt != nil && pt.tags.OuterTPID == p.OuterTPID {
			return pt
		}
		return nil
	}
	if t.qinq == nil {
		return nil
	}
	pt := t.qinq[uint32(p.VID())<<16|uint32(p.InnerTCI&0x0fff)]
	if pt != nil && pt.tags.OuterTPID == p.OuterTPID && p.InnerTPID == packet.TPID8021Q {
		return pt
	}
	return nil
}

// with returns a copy of t with p in its slot (nil clears the slot of s).
func (t *portTable) with(s PortSpec, p *Port) *portTable {
	next := *t
	switch {
	case s.VLAN == 0:
		next.untagged = p
	case s.Inner == 0:
		next.single[s.VLAN] = p
	default:
		next.qinq = make(map[uint32]*Port, len(t.qinq)+1)
		for k, v := range t.qinq {
			next.qinq[k] = v
		}
		k := uint32(s.VLAN)<<16 | uint32(s.Inner)
		if p == nil {
			delete(next.qinq, k)
		} else {
			next.qinq[k] = p
		}
	}
	return &next
}

// all calls fn for every port of the table.
func (t *portTable) all(fn func(*Port)) {
	if t.untagged != nil {
		fn(t.untagged)
	}
	for _, p := range t.single {
		if p != nil {
			fn(p)
		}
	}
	for _, p := range t.qinq {
		fn(p)
	}
}
