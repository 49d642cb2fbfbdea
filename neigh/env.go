package neigh

import (
	"net/netip"

	"github.com/fibd/fibd/fib/adj"
)

// Env is what neigh needs from the dataplane: port addresses, the FIB's
// local and connected addresses, and a way to send and hand back packets.
// The dataplane implements it; neightest.Env is a recording fake.
//
// neigh never calls Env while holding its own lock, so every method may call
// back into the Table. Methods may be called from several goroutines at once
// (RX goroutines, timer goroutines, control-plane callers).
type Env interface {
	// PortMAC returns the port's own MAC, used as the sender of ARP and the
	// link-layer option of NS/NA.
	PortMAC(p adj.PortID) (adj.MAC, bool)
	// SourceFor returns the router's address to solicit target from on p.
	// For IPv6 the port's link-local address is preferred (RFC 4861 §7.2.2
	// lets either be used; link-local always works).
	SourceFor(fib adj.FIBID, p adj.PortID, target netip.Addr) (netip.Addr, bool)
	// IsLocal reports whether a is one of the router's addresses on p: ARP
	// requests and NS for it are answered, and the RFC 826 merge rule
	// creates entries only for packets targeting it.
	IsLocal(fib adj.FIBID, p adj.PortID, a netip.Addr) bool
	// OnLink reports whether a is inside a connected subnet of p. neigh
	// refuses entries for any other address; IPv6 link-local addresses are
	// on-link by definition (RFC 4861 §5.2) and are not asked about.
	OnLink(fib adj.FIBID, p adj.PortID, a netip.Addr) bool
	// Transmit sends an L2 payload — an ARP body or a whole IPv6 packet —
	// to dst on p for FIB fib; the dataplane adds the Ethernet (and VLAN)
	// header, and drops the frame if p is no longer in fib (a port moved
	// to another FIB while the frame was being made). payload is only
	// valid during the call.
	Transmit(fib adj.FIBID, p adj.PortID, dst adj.MAC, etherType uint16, payload []byte)
	// Deliver hands back, in arrival order, the packets that were queued
	// while k was being resolved, now that its MAC is known. The bytes are
	// only valid during the call.
	Deliver(k adj.Key, mac adj.MAC, pkts [][]byte)
	// Unreachable hands back, once, the packets that were queued for k when
	// resolution failed, so the dataplane can answer each with ICMP host
	// unreachable / ICMPv6 address unreachable. The bytes are only valid
	// during the call.
	Unreachable(k adj.Key, pkts [][]byte)
}
