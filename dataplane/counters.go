package dataplane

import (
	"sync/atomic"

	"github.com/fibd/fibd/dataplane/packet"
)

// Drop is why a packet was dropped. The first packet.NumReasons values are
// packet.Reason (parsing, validation, addressing, ICMP suppression); the rest
// are the forwarding loop's own. Dense, so [NumDrops] arrays count them.
type Drop uint8

// dropNone is packet.OK as a Drop: "not dropped", where a function returns
// why it cannot go on.
const dropNone = Drop(packet.OK)

const (
	// DropNotForUs: a unicast frame to another station's MAC.
	//
	// A frame whose tags no port is bound to has no port to count it on:
	// the interface counts it (Engine.Unknown), with the tags last seen.
	DropNotForUs Drop = Drop(packet.NumReasons) + iota
	// DropPortDown: the ingress port is administratively or operationally
	// down.
	DropPortDown
	// DropNotIP: neither IPv4, IPv6 nor ARP.
	DropNotIP
	// DropNoRoute: no route matched (ICMP net unreachable sent).
	DropNoRoute
	// DropBlackhole: a blackhole route.
	DropBlackhole
	// DropUnreachable: an unreachable route (ICMP host unreachable sent).
	DropUnreachable
	// DropProhibited: a prohibit route (ICMP administratively prohibited).
	DropProhibited
	// DropUnresolved: a gateway on no connected subnet (ICMP host
	// unreachable sent).
	DropUnresolved
	// DropLeakLoop: lookup-in-FIB routes chained further than MaxLeakHops.
	DropLeakLoop
	// DropEgressDown: the egress port is down or gone.
	DropEgressDown
	// DropPortMoved: the route's egress port has moved to another FIB; the
	// old FIB's routes through it are being purged.
	DropPortMoved
	// DropTTL: TTL or hop limit expired (ICMP time exceeded sent).
	DropTTL
	// DropTooBig: larger than the path MTU with DF set, or IPv6 (ICMP
	// fragmentation needed / packet too big sent).
	DropTooBig
	// DropFragment: fragmentation failed (bad options, MTU below 68).
	DropFragment
	// DropToRouter: addressed to the router but not something it answers
	// (a FIB without a host stack: TCP, UDP, other protocols).
	DropToRouter
	// DropTxFull: the egress ring or socket buffer was full.
	DropTxFull
	// DropTxRefused: the egress I/O refused the frame (longer than it
	// can send).
	DropTxRefused
	// DropTruncated: the frame did not fit the receive buffer.
	DropTruncated
	// DropChecksumPartial: a partial transport checksum could not be
	// completed.
	DropChecksumPartial
	// DropTxEgressGone: the egress interface's I/O closed between the
	// forwarding decision and the transmit.
	DropTxEgressGone
	// DropRPF: the port's reverse-path check refused the source.
	DropRPF
	// DropSourceRoute: an IPv4 loose or strict source route option, on a
	// port that does not allow them.
	DropSourceRoute
	// DropOwnSource: the source is one of the router's own addresses in
	// the FIB, arriving from outside (a martian).
	DropOwnSource
	// DropDirectedBroadcast: to the broadcast address of a connected
	// subnet (RFC 2644: never forwarded).
	DropDirectedBroadcast
	// DropHostQueueFull: for the FIB's host stack, whose punt queue was
	// full.
	DropHostQueueFull
	// DropHostSpoofed: sent by a host stack from a source that is not
	// one of its FIB's addresses.
	DropHostSpoofed
	// DropHostLinkScoped: sent by a host stack to a multicast, broadcast
	// or link-local address, which its one interface cannot place on a
	// port.
	DropHostLinkScoped
	// DropHostMalformed: sent by a host stack, and not a valid IP packet.
	DropHostMalformed
	// NumDrops is the number of Drop values.
	NumDrops
)

var dropNames = [...]string{
	DropNotForUs - DropNotForUs:          "not-for-us",
	DropPortDown - DropNotForUs:          "port-down",
	DropNotIP - DropNotForUs:             "not-ip",
	DropNoRoute - DropNotForUs:           "no-route",
	DropBlackhole - DropNotForUs:         "blackhole",
	DropUnreachable - DropNotForUs:       "unreachable",
	DropProhibited - DropNotForUs:        "prohibited",
	DropUnresolved - DropNotForUs:        "unresolved",
	DropLeakLoop - DropNotForUs:          "leak-loop",
	DropEgressDown - DropNotForUs:        "egress-down",
	DropPortMoved - DropNotForUs:         "port-moved",
	DropTTL - DropNotForUs:               "ttl-exceeded",
	DropTooBig - DropNotForUs:            "too-big",
	DropFragment - DropNotForUs:          "fragmentation-failed",
	DropToRouter - DropNotForUs:          "to-router",
	DropTxFull - DropNotForUs:            "tx-full",
	DropTxRefused - DropNotForUs:         "tx-refused",
	DropTruncated - DropNotForUs:         "truncated",
	DropChecksumPartial - DropNotForUs:   "checksum-partial",
	DropTxEgressGone - DropNotForUs:      "tx-egress-gone",
	DropRPF - DropNotForUs:               "rpf",
	DropSourceRoute - DropNotForUs:       "source-route",
	DropOwnSource - DropNotForUs:         "own-source",
	DropDirectedBroadcast - DropNotForUs: "directed-broadcast",
	DropHostQueueFull - DropNotForUs:     "host-queue-full",
	DropHostSpoofed - DropNotForUs:       "host-spoofed",
	DropHostLinkScoped - DropNotForUs:    "host-link-scoped",
	DropHostMalformed - DropNotForUs:     "host-malformed",
}

// Transmit drops (DropTxFull, DropTxRefused, DropTxEgressGone) are counted
// on the egress port, for frames its ingress port already counted as
// forwarded (or made by the router); every other reason is a receive drop,
// counted on the ingress port.
func (d Drop) transmit() bool { return d == DropTxFull || d == DropTxRefused || d == DropTxEgressGone }

var txDropNames = func() map[string]bool {
	m := map[string]bool{}
	for d := Drop(0); d < NumDrops; d++ {
		if d.transmit() {
			m[d.String()] = true
		}
	}
	return m
}()

func (d Drop) String() string {
	if d < DropNotForUs {
		return packet.Reason(d).String()
	}
	if int(d-DropNotForUs) < len(dropNames) {
		return dropNames[d-DropNotForUs]
	}
	return "unknown"
}

// counters are one port's or one FIB's. The RX worker of the port's
// interface is the only writer of the RX side, so the atomics are never
// contended on the packet path; they exist so readers (stats, metrics) see
// consistent words.
type counters struct {
	rxPackets, rxBytes atomic.Uint64
	txPackets, txBytes atomic.Uint64
	forwarded          atomic.Uint64
	local              atomic.Uint64 // delivered to the router itself
	icmpSent           atomic.Uint64
	icmpLimited        atomic.Uint64 // ICMP errors not sent: rate limit
	// queued counts packets handed to neigh to wait for their next hop's
	// MAC: not drops (they go out once it resolves; neigh counts the ones
	// its queue bounds or a failed resolution drop).
	queued atomic.Uint64
	drops  [NumDrops]atomic.Uint64
}

// Counters is a snapshot of counters.
type Counters struct {
	RxPackets, RxBytes uint64
	TxPackets, TxBytes uint64
	Forwarded          uint64
	Local              uint64
	ICMPSent           uint64
	ICMPRateLimited    uint64
	NeighborQueued     uint64
	// FastPathForwarded is the part of Forwarded the in-kernel fast path
	// forwarded (its frames are in RxPackets and TxPackets too).
	FastPathForwarded uint64
	// Drops maps a drop reason's name to its count; reasons that never
	// happened are left out.
	Drops map[string]uint64
}

func (c *counters) snapshot() Counters {
	s := Counters{
		RxPackets: c.rxPackets.Load(), RxBytes: c.rxBytes.Load(),
		TxPackets: c.txPackets.Load(), TxBytes: c.txBytes.Load(),
		Forwarded: c.forwarded.Load(), Local: c.local.Load(),
		ICMPSent: c.icmpSent.Load(), ICMPRateLimited: c.icmpLimited.Load(), NeighborQueued: c.queued.Load(),
		Drops: map[string]uint64{},
	}
	for d := range c.drops {
		if n := c.drops[d].Load(); n > 0 {
			s.Drops[Drop(d).String()] = n
		}
	}
	return s
}

// Accounted is what became of the frames the port received: each one is
// forwarded, delivered to the router, queued for its neighbour's MAC, or
// dropped on receive with a reason — exactly one of them, so at rest
// Accounted() == RxPackets (transmit drops are the egress port's and are
// not in it).
func (c Counters) Accounted() uint64 {
	n := c.Forwarded + c.Local + c.NeighborQueued
	for name, v := range c.Drops {
		if !txDropNames[name] {
			n += v
		}
	}
	return n
}

// TxDropped sums the transmit drop reasons: frames that failed going out
// of this port.
func (c Counters) TxDropped() uint64 {
	var n uint64
	for name, v := range c.Drops {
		if txDropNames[name] {
			n += v
		}
	}
	return n
}

// Dropped sums every drop reason.
func (c Counters) Dropped() uint64 {
	var n uint64
	for _, v := range c.Drops {
		n += v
	}
	return n
}
