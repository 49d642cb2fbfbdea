package dataplane

import (
	"encoding/binary"
	"net/netip"
	"runtime"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/fib"
)

// ICMP types the punt decision looks at, beyond those local.go names.
const (
	icmp4EchoReply    = 0
	icmp4DestUnreach  = 3
	icmp4SourceQuench = 4
	icmp4Redirect     = 5
	icmp4TimeExceeded = 11
	icmp4ParamProblem = 12
	icmp6EchoReply    = 129
	icmp6ErrorLast    = 4 // types 1-4 are ICMPv6 errors
	icmp6MLDQuery     = 130
	icmp6MLDDone      = 132
	icmp6MLDv2Report  = 143
	ethHeaderLen      = 14
	icmpHeaderLen     = 8
	ipv6HeaderLen     = 40
)

// forHost reports whether a packet to one of the router's own addresses,
// described by w.p, belongs to the FIB's host stack rather than to fibd:
// everything but what fibd answers itself — ARP and neighbour discovery
// (handled before), echo requests to the router, multicast listener
// messages, and ICMP errors about packets fibd made (its echo replies and
// errors: a host never sent them).
func (w *worker) forHost(frame []byte) bool {
	p := w.p
	switch {
	case p.Fragment:
		// The host reassembles; fibd answers no fragmented request.
		return true
	case p.Proto == packet.ProtoICMP && p.Family == packet.IPv4 && p.HasICMP:
		switch p.ICMPType {
		case icmp4EchoRequest, icmp4Redirect:
			return false
		case icmp4DestUnreach, icmp4SourceQuench, icmp4TimeExceeded, icmp4ParamProblem:
			return w.quotesHostPacket(frame)
		}
		return true
	case p.Proto == packet.ProtoICMPv6 && p.Family == packet.IPv6 && p.HasICMP:
		switch t := p.ICMPType; {
		case t == icmp6EchoRequest, t >= icmp6MLDQuery && t <= icmp6MLDDone, t == icmp6MLDv2Report:
			return false
		case t >= 1 && t <= icmp6ErrorLast:
			return w.quotesHostPacket(frame)
		}
		return true
	}
	return true
}

// quotesHostPacket reports whether an ICMP error quotes a packet the host
// could have sent: anything but ICMP other than an echo request (fibd
// sends echo replies and errors, never TCP, UDP or a request).
func (w *worker) quotesHostPacket(frame []byte) bool {
	p := w.p
	end := p.L3Off + p.L3Len
	inner := p.L4Off + icmpHeaderLen
	if p.Family == packet.IPv4 {
		if inner+20 > end {
			return false
		}
		ihl := int(frame[inner]&0x0f) * 4
		if frame[inner+9] != packet.ProtoICMP {
			return true
		}
		return inner+ihl < end && frame[inner+ihl] == icmp4EchoRequest
	}
	if inner+ipv6HeaderLen > end {
		return false
	}
	if frame[inner+6] != packet.ProtoICMPv6 {
		return true
	}
	return inner+ipv6HeaderLen < end && frame[inner+ipv6HeaderLen] == icmp6EchoRequest
}

// routingGroup reports whether dst is a routing protocol's link-local
// multicast group (OSPF's 224.0.0.5/6, OSPFv3's ff02::5/6), which goes to
// the host stack; the host's kernel delivers it only to a socket that
// joined the group, so a FIB without such a daemon drops it there.
func routingGroup(dst netip.Addr) bool {
	if dst.Is4() {
		b := dst.As4()
		return b[0] == 224 && b[1] == 0 && b[2] == 0 && (b[3] == 5 || b[3] == 6)
	}
	b := dst.As16()
	if b[0] != 0xff || b[1] != 0x02 || b[15] != 5 && b[15] != 6 {
		return false
	}
	for _, x := range b[2:15] {
		if x != 0 {
			return false
		}
	}
	return true
}

// inject forwards one IP packet the host sent, at buf[Headroom:Headroom+n],
// as traffic the router originates in f: no TTL decrement, a normal lookup,
// neighbour resolution, ECMP, the egress port's tags. Its source must be
// one of f's addresses — a program in the FIB's namespace cannot spoof
// into a customer network. A packet too large for its path with DF set
// (and any IPv6 one) is answered with Packet Too Big into the host, as is
// one with no route (unreachable), so the host's PMTU discovery and
// connect() learn what the network would tell them.
func (w *worker) inject(h *host, f *fib.FIB, buf []byte, n int) {
	if n < 1 || n > len(buf)-Headroom {
		h.ctr.drops[DropHostMalformed].Add(1)
		return
	}
	etherType := uint16(packet.EtherTypeIPv4)
	if buf[Headroom]>>4 == 6 {
		etherType = packet.EtherTypeIPv6
	}
	// A blank Ethernet header in the headroom lets Parse validate the
	// packet as it validates received frames.
	start := Headroom - ethHeaderLen
	clear(buf[start : start+12])
	binary.BigEndian.PutUint16(buf[start+12:], etherType)
	frame := buf[start : Headroom+n]
	p := w.p
	r := packet.Parse(frame, false, 0, 0, p)
	if r != packet.OK && !r.Addressing() || p.Family == packet.NonIP {
		h.ctr.drops[DropHostMalformed].Add(1)
		return
	}
	frame = frame[:p.L3Off+p.L3Len]
	switch {
	case !f.IsOwn(p.Src):
		h.ctr.drops[DropHostSpoofed].Add(1)
		return
	case p.Dst.IsMulticast() || r == packet.BroadcastDest || p.Dst.IsLinkLocalUnicast():
		// One host interface per FIB has no port to send these out of.
		h.ctr.drops[DropHostLinkScoped].Add(1)
		return
	}
	nx, f, ok := w.lookup(f, p.Dst)
	if !ok {
		h.ctr.drops[DropLeakLoop].Add(1)
		return
	}
	defer runtime.KeepAlive(nx)
	switch nx.Kind {
	case fib.NextLocal:
		h.ctr.drops[DropToRouter].Add(1)
		return
	case fib.NextMiss:
		w.hostError(h, frame, packet.ICMPNetUnreachable, 0, p.Src)
		h.ctr.drops[DropNoRoute].Add(1)
		return
	case fib.NextUnreachable, fib.NextUnresolved:
		w.hostError(h, frame, packet.ICMPHostUnreachable, 0, p.Src)
		h.ctr.drops[DropUnreachable].Add(1)
		return
	case fib.NextProhibit:
		w.hostError(h, frame, packet.ICMPAdminProhibited, 0, p.Src)
		h.ctr.drops[DropProhibited].Add(1)
		return
	case fib.NextBlackhole:
		h.ctr.drops[DropBlackhole].Add(1)
		return
	}
	hp, why := w.nextHop(f, nx, p.Dst, p)
	if why != dropNone {
		w.hostError(h, frame, packet.ICMPHostUnreachable, 0, p.Src)
		h.ctr.drops[why].Add(1)
		return
	}
	mtu := int(hp.out.ifc.mtu.Load())
	if hp.a != nil {
		if am := int(hp.a.MTU()); am != 0 && am < mtu {
			mtu = am
		}
	}
	if p.L3Len > mtu {
		if p.Family == packet.IPv6 || p.DF {
			src, ok := f.SourceFor(hp.out.id, p.Src)
			if !ok {
				src = p.Src
			}
			w.hostError(h, frame, packet.ICMPPacketTooBig, uint32(mtu), src)
			h.ctr.drops[DropTooBig].Add(1)
			return
		}
		w.injectFragments(h, &hp, frame, mtu)
		return
	}
	mac, st := w.linkLayer(&hp)
	s := packet.WriteL2(buf, Headroom, mac, hp.mac, hp.out.tags, etherType)
	if w.emit(&hp, st, buf[s:Headroom+n]) {
		h.ctr.injected.Add(1)
	} else {
		h.ctr.queued.Add(1)
	}
}

// injectFragments cuts an IPv4 packet from the host without DF to the
// egress MTU (the host interface's MTU is the FIB's largest) and sends
// the fragments.
func (w *worker) injectFragments(h *host, hp *hop, frame []byte, mtu int) {
	sent, ok := w.sendFragments(hp, frame, mtu)
	switch {
	case !ok:
		h.ctr.drops[DropFragment].Add(1)
	case sent:
		h.ctr.injected.Add(1)
	default:
		h.ctr.queued.Add(1)
	}
}

// hostError writes an ICMP error about the host's packet frame back into
// the host, from src (one of the FIB's addresses, which the host's
// interface carries: the namespace accepts a local source on it).
func (w *worker) hostError(h *host, frame []byte, kind packet.ICMPKind, param uint32, src netip.Addr) {
	if ok, _ := packet.ShouldSendError(w.p, kind); !ok {
		return
	}
	b := w.genBuf()
	n, _ := packet.BuildError(b[Headroom:], frame, w.p, kind, param, src)
	if n == 0 {
		return
	}
	if h.io.WritePacket(b[Headroom:Headroom+n]) == nil {
		h.ctr.errorsOut.Add(1)
	}
}
