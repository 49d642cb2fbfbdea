package control

import (
	"github.com/fibd/fibd/dataplane/portspec"
	"github.com/fibd/fibd/fib/adj"
)

// PortSpec names a port: an interface, an (interface, VLAN) pair, or an
// (interface, outer VLAN, inner VLAN) QinQ triple with its outer TPID.
type PortSpec = portspec.Spec

// Dataplane is what the control plane needs from the packet path: creating
// and removing ports, their state, and packet counters. The daemon adapts
// package dataplane to it; "none" mode (a route server) records ports
// without moving packets; controltest.Dataplane fakes it in tests.
//
// The binding of a port to a FIB that forwarding uses lives in the fib
// registry (fib.Registry.BindPort); the Server keeps both in step. Methods
// may be called from any goroutine; the Server serialises BindPort and
// UnbindPort.
type Dataplane interface {
	// Backend names the packet-I/O backend: "none", "afpacket", "xdp".
	Backend() string
	// BindPort creates the port spec names bound to fib, or, when it
	// exists, moves it to fib. It returns the port. A port whose interface
	// does not exist yet is bound and down until it appears.
	BindPort(spec PortSpec, fib adj.FIBID) (PortInfo, error)
	// UnbindPort stops a port's packet I/O and forgets it (ErrPortNotFound
	// when unknown).
	UnbindPort(id adj.PortID) error
	// Ports returns every port with its current state and counters.
	Ports() []PortInfo
	// Stats returns the packet counters per port and per FIB.
	Stats() Stats
	// SetPortSettings changes a port's edge filters (ErrPortNotFound
	// when unknown); the settings are valid (CheckRPF).
	SetPortSettings(id adj.PortID, s PortSettings) error
	// SetHost turns FIB id's host stack on — a network namespace with a
	// TUN that carries the FIB's addresses, where programs open sockets
	// in the FIB — or off, removing the namespace. Turning on what is on
	// (or off what is off) does nothing.
	SetHost(id adj.FIBID, on bool) error
	// Hosts returns the host stacks that are on, by FIB.
	Hosts() []HostInfo
}

// HostInfo describes a FIB's host stack (dataplane.HostInfo).
type HostInfo struct {
	FIB adj.FIBID
	// Namespace is the network namespace programs enter (fibctl exec);
	// Device the TUN in it.
	Namespace, Device string
	// Error says why the host stack is not working ("no packet I/O",
	// an address that could not be mirrored); empty when it is.
	Error string
	// Punted and Delivered count packets for the host (queued, written
	// into it); Injected and Queued what the host sent that went out of
	// a port or waits for a neighbour; ICMPErrors the errors fibd wrote
	// back into the host; Drops what was dropped on the way, by reason
	// (host-queue-full, host-spoofed, no-route, ...).
	Punted, Delivered, Injected, Queued, ICMPErrors uint64
	Drops                                           map[string]uint64
	// IO holds the host I/O's own counters (the TUN's TSO and GRO work).
	IO map[string]uint64
}

// PortInfo describes one port.
type PortInfo struct {
	ID        adj.PortID
	Name      string // Spec().Name()
	Interface string
	VLAN      uint16 // 0: untagged; the outer tag of a QinQ port
	InnerVLAN uint16 // a QinQ port's inner (C-) tag; 0 otherwise
	OuterTPID uint16 // the outer tag's TPID; 0 when untagged
	FIB       adj.FIBID
	Ifindex   int
	MAC       adj.MAC
	MTU       int
	State     string // operational state: "up", "down", "unknown"
	// StateReason says why a port is down ("interface missing", "link
	// down", "receive failing: ..."); empty when up.
	StateReason string
	Backend     string
	// RxWorkers is how many packet I/Os (each with an RX worker) read
	// the port's interface; 0 when it is not open.
	RxWorkers int
	Settings  PortSettings
	Counters  Counters
	// IO holds the packet-I/O backend's own counters (xdp_rx_packets,
	// afpacket_rx_kernel_drop, ...), which show which path moved packets.
	IO map[string]uint64
}

// Counters are packet counters of a port or a FIB.
type Counters struct {
	RxPackets, RxBytes uint64
	TxPackets, TxBytes uint64
	Forwarded          uint64
	Dropped            uint64
	// Drops counts dropped packets by reason ("no-route", "ttl-exceeded",
	// ...); they add up to Dropped.
	Drops map[string]uint64
	// Local and NeighborQueued: packets the router handled itself, and
	// packets waiting for their next hop's MAC. TxDropped is the part of
	// Dropped that failed on transmit out of the port. A port's frames
	// balance: RxPackets = Forwarded + Local + NeighborQueued + Dropped -
	// TxDropped.
	Local, NeighborQueued, TxDropped uint64
	// FastPathForwarded is the part of Forwarded the in-kernel fast path
	// forwarded.
	FastPathForwarded uint64
}

// Add adds o to c.
func (c *Counters) Add(o Counters) {
	c.RxPackets += o.RxPackets
	c.RxBytes += o.RxBytes
	c.TxPackets += o.TxPackets
	c.TxBytes += o.TxBytes
	c.Forwarded += o.Forwarded
	c.Dropped += o.Dropped
	c.Local += o.Local
	c.NeighborQueued += o.NeighborQueued
	c.TxDropped += o.TxDropped
	c.FastPathForwarded += o.FastPathForwarded
	for k, v := range o.Drops {
		if c.Drops == nil {
			c.Drops = map[string]uint64{}
		}
		c.Drops[k] += v
	}
}

// PortStats are one port's counters.
type PortStats struct {
	Port     adj.PortID
	Name     string
	FIB      adj.FIBID
	Counters Counters
}

// FIBStats are one FIB's counters (drops that happen after the lookup,
// such as "no route", are counted against the FIB).
type FIBStats struct {
	FIB      adj.FIBID
	Counters Counters
}

// InterfaceStats count, for one interface, what arrived for no port:
// frames whose tags no port is bound to — untagged or single-tagged (VLAN)
// and double-tagged (QinQ) — with the tags of the last one, and receive
// errors.
type InterfaceStats struct {
	Interface   string
	UnknownVLAN uint64
	UnknownQinQ uint64
	// LastTPID, LastVLAN and LastInnerVLAN are the tags of the last such
	// frame (0: none).
	LastTPID, LastVLAN, LastInnerVLAN uint16
	RxErrors                          uint64
}

// Stats are the dataplane's counters.
type Stats struct {
	Ports      []PortStats
	FIBs       []FIBStats
	Interfaces []InterfaceStats
	// FastPath is the in-kernel fast path's report; nil when there is none.
	FastPath *FastPathStats
}

// FastPathStats is what the in-kernel fast path did: frames it forwarded,
// and the frames it handed to user space, by reason.
type FastPathStats struct {
	Interfaces []string // running the fast path program
	Forwarded  uint64
	Punts      map[string]uint64
}

// Spec returns the port's spec.
func (p PortInfo) Spec() PortSpec {
	return PortSpec{Interface: p.Interface, VLAN: p.VLAN, Inner: p.InnerVLAN, OuterTPID: p.OuterTPID}
}

// PortName is the admin's name of a port: the interface name, and for a
// VLAN the ID after a dot ("eth1", "eth1.100"; "eth1.100.200" for QinQ,
// see PortSpec.Name).
func PortName(ifname string, vlan uint16) string {
	return PortSpec{Interface: ifname, VLAN: vlan}.Name()
}
