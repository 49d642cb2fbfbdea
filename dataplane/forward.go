package dataplane

import (
	"net/netip"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// MaxLeakHops bounds how many lookup-in-FIB routes one packet may follow.
// fib refuses a route that leaks into its own FIB; longer cycles across
// FIBs are cut here and counted (DropLeakLoop).
const MaxLeakHops = 4

// frame handles one received frame in buf[Headroom:Headroom+m.Len]: classify
// it to a port by (interface, VLAN), then forward it, deliver it to the
// router, or drop it with a reason.
func (w *worker) frame(buf []byte, m *RxMeta) {
	frame := buf[Headroom : Headroom+m.Len]
	p := &w.p
	r := packet.Parse(frame, m.HasVLAN, m.VLANTPID, m.VLAN, p)
	var vid uint16
	if p.Tags > 0 {
		vid = p.VID()
	}
	in := w.ifc.port(vid)
	if in == nil {
		w.ifc.unknown.Add(1)
		return
	}
	in.ctr.rxPackets.Add(1)
	in.ctr.rxBytes.Add(uint64(m.Len))
	switch {
	case m.Truncated:
		w.drop(in, nil, DropTruncated)
		return
	case !w.ifc.up.Load():
		w.drop(in, nil, DropPortDown)
		return
	case r != packet.OK && !r.Addressing():
		w.drop(in, nil, Drop(r))
		return
	case !p.L2Group() && p.DstMAC != w.ifc.mac:
		w.drop(in, nil, DropNotForUs)
		return
	}
	f := in.fib.Load()
	if p.Family == packet.NonIP {
		if p.EtherType == packet.EtherTypeARP {
			in.ctr.local.Add(1)
			w.e.nb.HandleARP(f.ID(), in.id, p.SrcMAC, frame[p.L3Off:])
			return
		}
		w.drop(in, nil, DropNotIP)
		return
	}
	if (m.CsumPartial || w.ifc.guessCsum && packet.LooksPartial(frame, p)) && !p.Fragment {
		// A partial checksum from a veth peer or a local sender: complete
		// it, or the next hop drops the packet as corrupt.
		if packet.FillL4Checksum(frame, p) != packet.OK {
			w.drop(in, f, DropChecksumPartial)
			return
		}
	}
	w.ip(in, f, buf, Headroom, r)
}

// ip routes one IP packet that arrived on port in, whose frame starts at
// buf[start:] and is described by w.p; r is Parse's addressing verdict.
func (w *worker) ip(in *Port, f *fib.FIB, buf []byte, start int, r packet.Reason) {
	p := &w.p
	frame := buf[start : start+p.L3Off+p.L3Len]
	// Destinations the router never routes: multicast and broadcast (ND
	// among them, whatever its source: DAD probes come from ::), and
	// link-local addresses, which are the router's own or nobody's. The
	// checks look at the destination itself, since Parse reports a bad
	// source first.
	switch {
	case p.Dst.IsMulticast() || r == packet.BroadcastDest:
		w.linkScoped(in, f, frame, r)
		return
	case p.Dst.IsLinkLocalUnicast():
		if (r == packet.LinkLocalDest || r == packet.LinkLocalSource) && f.IsLocal(in.id, p.Dst) {
			w.local(in, f, frame)
			return
		}
		w.drop(in, f, Drop(packet.LinkLocalDest))
		return
	}
	n, f, ok := w.lookup(f, p.Dst)
	if !ok {
		w.drop(in, f, DropLeakLoop)
		return
	}
	if n.Kind == fib.NextLocal {
		if r == packet.OK || r == packet.LinkLocalSource {
			w.local(in, f, frame)
			return
		}
		w.drop(in, f, Drop(r))
		return
	}
	if r != packet.OK {
		// Martian or link-local source, martian destination, or a unicast
		// packet in a link-layer broadcast: never forwarded.
		w.drop(in, f, Drop(r))
		return
	}
	var a *adj.Adjacency
	var key adj.Key
	switch n.Kind {
	case fib.NextGateway:
		id := n.Adj
		if n.Group != nil {
			id = n.Pick(packet.FlowHash(p))
		}
		a = w.e.adjs.Get(id)
		key.Port = a.Port()
	case fib.NextAttached:
		key = adj.Key{FIB: f.ID(), Port: n.Port, Addr: p.Dst}
	case fib.NextMiss:
		w.icmpError(in, f, frame, packet.ICMPNetUnreachable, 0)
		w.drop(in, f, DropNoRoute)
		return
	case fib.NextUnreachable, fib.NextUnresolved:
		w.icmpError(in, f, frame, packet.ICMPHostUnreachable, 0)
		w.drop(in, f, DropUnreachable)
		return
	case fib.NextProhibit:
		w.icmpError(in, f, frame, packet.ICMPAdminProhibited, 0)
		w.drop(in, f, DropProhibited)
		return
	default: // NextBlackhole
		w.drop(in, f, DropBlackhole)
		return
	}
	out, ok := w.e.Port(key.Port)
	if !ok || !out.ifc.up.Load() {
		w.drop(in, f, DropEgressDown)
		return
	}
	if p.TTL <= 1 {
		w.icmpError(in, f, frame, packet.ICMPTimeExceeded, 0)
		w.drop(in, f, DropTTL)
		return
	}
	mtu := int(out.ifc.mtu.Load())
	if a != nil {
		if am := int(a.MTU()); am != 0 && am < mtu {
			mtu = am
		}
	}
	if p.L3Len > mtu {
		if p.Family == packet.IPv6 || p.DF {
			w.icmpError(in, f, frame, packet.ICMPPacketTooBig, uint32(mtu))
			w.drop(in, f, DropTooBig)
			return
		}
		w.fragment(in, out, f, a, key, frame, mtu)
		return
	}
	packet.DecTTL(frame, p)
	var mac adj.MAC
	var st adj.State
	if a != nil {
		mac, st = a.LinkLayer()
	} else {
		var known bool
		if mac, st, known = w.e.nb.Lookup(key); !known {
			st = adj.Incomplete
		}
	}
	s := packet.RewriteL2(buf, start, p, mac, out.ifc.mac, out.tci())
	w.send(in, out, f, a, key, st, buf[s:start+p.L3Off+p.L3Len])
}

// lookup finds the forwarding entry for dst, following lookup-in-FIB routes
// into the FIB they name; it returns the FIB the entry came from, and false
// when the chain is longer than MaxLeakHops.
func (w *worker) lookup(f *fib.FIB, dst netip.Addr) (*fib.Next, *fib.FIB, bool) {
	n := f.Lookup(dst)
	for hops := 0; n.Kind == fib.NextLookup; hops++ {
		g, ok := w.e.reg.Get(n.FIB)
		if !ok || hops == MaxLeakHops {
			return n, f, false
		}
		f = g
		n = f.Lookup(dst)
	}
	return n, f, true
}

// send transmits a rewritten frame to out, or hands it to neigh when the
// next hop's MAC is not known yet (frame's destination MAC is then left for
// Env.Deliver to fill in).
func (w *worker) send(in, out *Port, f *fib.FIB, a *adj.Adjacency, key adj.Key, st adj.State, frame []byte) {
	switch st {
	case adj.Valid:
	case adj.Stale:
		// The first packet to a STALE neighbour starts its reachability
		// check; the MAC is still good.
		w.e.nb.Resolve(w.neighKey(f, a, key), frame)
	default:
		mac, ok := w.e.nb.Resolve(w.neighKey(f, a, key), frame)
		if !ok {
			in.ctr.queued.Add(1)
			return
		}
		copy(frame[0:6], mac[:])
	}
	w.stage(out, frame)
	in.ctr.forwarded.Add(1)
	w.e.fibCounters(f.ID()).forwarded.Add(1)
}

func (w *worker) neighKey(f *fib.FIB, a *adj.Adjacency, key adj.Key) adj.Key {
	if a != nil {
		return a.Key()
	}
	return key
}

// fragment splits an IPv4 packet without DF for a smaller MTU (RFC 791),
// decrementing its TTL first, and sends each fragment.
func (w *worker) fragment(in, out *Port, f *fib.FIB, a *adj.Adjacency, key adj.Key, frame []byte, mtu int) {
	p := &w.p
	packet.DecTTL(frame, p)
	if w.ngen+maxFragments > len(w.gen) {
		w.flush()
	}
	bufs := w.gen[w.ngen : w.ngen+maxFragments]
	for i := range bufs {
		w.frag[i] = bufs[i][Headroom:]
	}
	k, r := packet.Fragment(w.frag[:], frame, p, mtu)
	if r != packet.OK {
		w.drop(in, f, DropFragment)
		return
	}
	w.ngen += k
	var mac adj.MAC
	var st adj.State
	if a != nil {
		mac, st = a.LinkLayer()
	} else {
		var known bool
		if mac, st, known = w.e.nb.Lookup(key); !known {
			st = adj.Incomplete
		}
	}
	for i := 0; i < k; i++ {
		s := packet.WriteL2(bufs[i], Headroom, mac, out.ifc.mac, out.tci(), packet.EtherTypeIPv4)
		w.send(in, out, f, a, key, st, bufs[i][s:Headroom+len(w.frag[i])])
	}
}

// drop counts a dropped packet on its ingress port and, when known, its FIB.
func (w *worker) drop(in *Port, f *fib.FIB, d Drop) {
	in.ctr.drops[d].Add(1)
	if f != nil {
		w.e.fibCounters(f.ID()).drops[d].Add(1)
	}
}
