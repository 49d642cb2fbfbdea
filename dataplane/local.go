package dataplane

import (
	"net/netip"
	"runtime"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// ICMPv6 types the neighbour tables handle (RFC 4861 §4): RS, RA, NS, NA,
// Redirect.
const (
	icmp6RouterSolicit = 133
	icmp6Redirect      = 137
	icmp6EchoRequest   = 128
	icmp4EchoRequest   = 8
)

// local handles a packet addressed to the router itself on port in, an
// address of f. The router answers echo requests and hands ND to neigh;
// what a host should answer goes to f's host stack when it has one
// (forHost). Without one, the router tells UDP senders the port is
// unreachable (so traceroute to the router's address ends) and counts the
// rest. A packet counts as local when the router handled it (neighbour
// discovery, an echo answered, punted to the host), as to-router when it
// did not: once, either way.
func (w *worker) local(in *Port, f *fib.FIB, frame []byte) {
	p := w.p
	if h := w.e.hostOf(f.ID()); h != nil && !w.ndMessage() && w.forHost(frame) {
		w.punt(in, f, h, frame)
		return
	}
	switch {
	case w.ndMessage():
		w.pc(in).local.Add(1)
		w.e.nb.HandleICMPv6(f.ID(), in.id, p.SrcMAC, frame[p.L3Off:p.L3Off+p.L3Len])
	case p.HasICMP && !p.Fragment && (p.Family == packet.IPv4 && p.Proto == packet.ProtoICMP && p.ICMPType == icmp4EchoRequest ||
		p.Family == packet.IPv6 && p.Proto == packet.ProtoICMPv6 && p.ICMPType == icmp6EchoRequest):
		src := p.Dst
		if !src.IsGlobalUnicast() && !src.IsLinkLocalUnicast() {
			var ok bool
			if src, ok = f.SourceFor(in.id, p.Src); !ok {
				w.drop(in, f, DropToRouter)
				return
			}
		}
		b := w.genBuf()
		n, r := packet.BuildEchoReply(b[Headroom:], frame, p, src)
		if n == 0 {
			w.drop(in, f, Drop(r))
			return
		}
		w.pc(in).local.Add(1)
		w.output(in, f, b, n, p.SrcMAC)
	case p.Proto == packet.ProtoUDP:
		w.icmpError(in, f, frame, packet.ICMPPortUnreachable, 0)
		w.drop(in, f, DropToRouter)
	case p.Proto == packet.ProtoTCP || p.Proto == packet.ProtoICMP || p.Proto == packet.ProtoICMPv6:
		w.drop(in, f, DropToRouter)
	default:
		w.icmpError(in, f, frame, packet.ICMPProtocolUnreachable, 0)
		w.drop(in, f, DropToRouter)
	}
}

// ndMessage reports whether w.p is an IPv6 neighbour discovery message
// (RS, RA, NS, NA, Redirect), which neigh handles.
func (w *worker) ndMessage() bool {
	p := w.p
	return p.Family == packet.IPv6 && p.Proto == packet.ProtoICMPv6 && p.HasICMP &&
		p.ICMPType >= icmp6RouterSolicit && p.ICMPType <= icmp6Redirect
}

// linkScoped handles a packet to a multicast or broadcast address: IPv6
// neighbour discovery goes to neigh (solicited-node and all-nodes
// multicast), anything else is not routed.
func (w *worker) linkScoped(in *Port, f *fib.FIB, frame []byte, r packet.Reason) {
	p := w.p
	if w.ndMessage() {
		w.pc(in).local.Add(1)
		w.e.nb.HandleICMPv6(f.ID(), in.id, p.SrcMAC, frame[p.L3Off:p.L3Off+p.L3Len])
		return
	}
	if routingGroup(p.Dst) {
		if h := w.e.hostOf(f.ID()); h != nil {
			w.punt(in, f, h, frame)
			return
		}
	}
	if r != packet.BroadcastDest {
		r = packet.MulticastDest
	}
	w.drop(in, f, Drop(r))
}

// icmpError answers the packet p describes with an ICMP error of the given
// kind, sourced from the router's address in f on the ingress port, within
// the FIB's rate limit. The packet must be as received: no TTL decrement,
// no rewrite.
func (w *worker) icmpError(in *Port, f *fib.FIB, frame []byte, kind packet.ICMPKind, param uint32) {
	p := w.p
	if ok, _ := packet.ShouldSendError(p, kind); !ok {
		return
	}
	if !w.e.icmp.allow(f.ID(), w.clock()) {
		w.pc(in).icmpLimited.Add(1)
		return
	}
	src, ok := f.SourceFor(in.id, p.Src)
	if !ok {
		return
	}
	b := w.genBuf()
	n, _ := packet.BuildError(b[Headroom:], frame, p, kind, param, src)
	if n == 0 {
		return
	}
	w.pc(in).icmpSent.Add(1)
	w.output(in, f, b, n, p.SrcMAC)
}

// output sends a packet the router made, the IP packet at
// buf[Headroom:Headroom+n], routing it through f like any other: to a
// gateway or a directly attached host, resolving the neighbour as needed.
// A packet to a link-local address goes back out of port in, to via (the
// MAC the packet being answered came from) unless neigh knows better.
func (w *worker) output(in *Port, f *fib.FIB, buf []byte, n int, via adj.MAC) {
	ip := buf[Headroom : Headroom+n]
	var dst netip.Addr
	etherType := uint16(packet.EtherTypeIPv4)
	if ip[0]>>4 == 6 {
		dst = netip.AddrFrom16([16]byte(ip[24:40]))
		etherType = packet.EtherTypeIPv6
	} else {
		dst = netip.AddrFrom4([4]byte(ip[16:20]))
	}
	if dst.IsLinkLocalUnicast() {
		l := in.ifc.live.Load()
		if l == nil {
			return
		}
		mac := via
		if m, st, ok := w.e.nb.Lookup(adj.Key{FIB: f.ID(), Port: in.id, Addr: dst}); ok && (st == adj.Valid || st == adj.Stale) {
			mac = m
		}
		s := packet.WriteL2(buf, Headroom, mac, l.mac, in.tags, etherType)
		w.stage(in, buf[s:Headroom+n])
		return
	}
	nx, f, ok := w.lookup(f, dst)
	if !ok {
		return
	}
	// No route back, or one that drops: an answer is not worth an error of
	// its own, so nextHop's refusal ends it silently.
	h, why := w.nextHop(f, nx, dst, nil)
	if why != dropNone {
		return
	}
	mac, st := w.linkLayer(&h)
	s := packet.WriteL2(buf, Headroom, mac, h.mac, h.out.tags, etherType)
	w.emit(&h, st, buf[s:Headroom+n])
	runtime.KeepAlive(nx) // it holds the adjacency ID h came from
}
