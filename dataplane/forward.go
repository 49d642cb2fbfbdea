package dataplane

import (
	"net/netip"
	"runtime"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// MaxLeakHops bounds how many lookup-in-FIB routes one packet may follow.
// fib refuses a route that closes a leak cycle; a longer chain is cut here
// and counted (DropLeakLoop), a second guard.
const MaxLeakHops = fib.MaxLeakHops

// frame handles one received frame in buf[Headroom:Headroom+m.Len]: classify
// it to a port by its tags — none, one (VLAN) or two (QinQ), each port
// matching exactly its own, TPID included — then forward it, deliver it to
// the router, or drop it with a reason. A frame whose tags no port has is
// counted on the interface, with the tags (Engine.Unknown).
//
// A packet that needs a route lookup is queued for the batch's lookup
// stage (deferLookup) under idx, its index in the batch; route finishes it.
func (w *worker) frame(buf []byte, m *RxMeta, idx uint8) {
	frame := buf[Headroom : Headroom+m.Len]
	p := w.p
	r := packet.Parse(frame, m.HasVLAN, m.VLANTPID, m.VLAN, p)
	in := w.ifc.ports.Load().classify(p)
	if in == nil {
		w.ifc.noteUnknown(p)
		return
	}
	w.countRx(in, m.Len)
	switch {
	case m.Truncated:
		w.drop(in, nil, DropTruncated)
		return
	case !w.ifc.linkUp.Load():
		w.drop(in, nil, DropPortDown)
		return
	case r != packet.OK && !r.Addressing():
		w.drop(in, nil, Drop(r))
		return
	case !p.L2Group() && p.DstMAC != w.live.mac:
		w.drop(in, nil, DropNotForUs)
		return
	}
	f := in.fib.Load()
	if p.Family == packet.NonIP {
		if p.EtherType == packet.EtherTypeARP {
			w.pc(in).local.Add(1)
			w.e.nb.HandleARP(f.ID(), in.id, p.SrcMAC, frame[p.L3Off:])
			return
		}
		w.drop(in, nil, DropNotIP)
		return
	}
	w.ip(in, f, buf, Headroom, r, idx)
}

// completeChecksum finishes a partial transport checksum (a veth peer or a
// local sender offloaded it) on a frame about to be forwarded, or the next
// hop drops it as corrupt. Only forwarded frames pay for it: one dropped
// or delivered to the router is left as it came. With the kernel's
// offsets (RxMeta.CsumStart/CsumOffset) it sums from where the kernel
// said, which is right for tunnelled packets too; packet I/O that reports
// nothing (AF_XDP) gets TCP/UDP checksums that look partial completed by
// their value. It reports false when the offsets make no sense.
func (w *worker) completeChecksum(frame []byte) bool {
	p := w.p
	switch {
	case w.csum.partial:
		w.csum.partial = false
		return packet.CompletePartial(frame, p, w.csum.start, w.csum.offset) == packet.OK
	case w.live != nil && w.live.guessCsum && !p.Fragment && packet.LooksPartial(frame, p):
		return packet.FillL4Checksum(frame, p) == packet.OK
	}
	return true
}

// ip handles what one IP packet that arrived on port in needs before its
// route is looked up — link-scoped destinations, the port's edge filters —
// and queues the rest for the lookup stage. Its frame starts at
// buf[start:] and is described by w.p; r is Parse's addressing verdict.
func (w *worker) ip(in *Port, f *fib.FIB, buf []byte, start int, r packet.Reason, idx uint8) {
	p := w.p
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
	if r == packet.OK {
		if why := w.edgeFilter(in, f, frame); why != dropNone {
			w.drop(in, f, why)
			return
		}
	}
	w.deferLookup(idx, in, f, r)
}

// route finishes an IP packet after the lookup stage: n is the entry the
// batch found for it in f (the port's FIB), the rest as for ip.
func (w *worker) route(in *Port, f *fib.FIB, buf []byte, start int, r packet.Reason, n *fib.Next) {
	p := w.p
	frame := buf[start : start+p.L3Off+p.L3Len]
	inFIB := f
	n, f, ok := w.follow(f, n, p.Dst)
	if !ok {
		w.drop(in, f, DropLeakLoop)
		return
	}
	// The entry holds its adjacency IDs from reuse while it lives
	// (fib/adj): keep it alive until this packet is done with them.
	defer runtime.KeepAlive(n)
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
		// packet in a link-layer broadcast: never forwarded. An IPv6
		// packet from a link-local source that a route would take off its
		// link is told so (RFC 4443 §3.1, code 2), from the ingress port.
		if r == packet.LinkLocalSource && p.Family == packet.IPv6 && (n.Kind == fib.NextGateway || n.Kind == fib.NextAttached) {
			w.icmpError(in, inFIB, frame, packet.ICMPBeyondScope, 0)
		}
		w.drop(in, f, Drop(r))
		return
	}
	switch n.Kind {
	case fib.NextMiss:
		w.icmpError(in, f, frame, packet.ICMPNetUnreachable, 0)
		w.drop(in, f, DropNoRoute)
		return
	case fib.NextUnreachable:
		w.icmpError(in, f, frame, packet.ICMPHostUnreachable, 0)
		w.drop(in, f, DropUnreachable)
		return
	case fib.NextUnresolved:
		// A gateway on no connected subnet: the router cannot reach it,
		// as Linux answers for a route whose gateway it cannot resolve.
		w.icmpError(in, f, frame, packet.ICMPHostUnreachable, 0)
		w.drop(in, f, DropUnresolved)
		return
	case fib.NextProhibit:
		w.icmpError(in, f, frame, packet.ICMPAdminProhibited, 0)
		w.drop(in, f, DropProhibited)
		return
	case fib.NextBlackhole:
		w.drop(in, f, DropBlackhole)
		return
	case fib.NextAttached:
		if p.Family == packet.IPv4 && f.IsDirectedBroadcast(p.Dst) {
			w.drop(in, f, DropDirectedBroadcast)
			return
		}
	}
	h, why := w.nextHop(f, n, p.Dst, p)
	if why != dropNone {
		w.drop(in, f, why)
		return
	}
	if p.TTL <= 1 {
		w.icmpError(in, f, frame, packet.ICMPTimeExceeded, 0)
		w.drop(in, f, DropTTL)
		return
	}
	mtu := int(h.out.ifc.mtu.Load())
	if h.a != nil {
		if am := int(h.a.MTU()); am != 0 && am < mtu {
			mtu = am
		}
	}
	if !w.completeChecksum(frame) {
		w.drop(in, f, DropChecksumPartial)
		return
	}
	if p.L3Len > mtu {
		if p.Family == packet.IPv6 || p.DF {
			w.icmpError(in, f, frame, packet.ICMPPacketTooBig, uint32(mtu))
			w.drop(in, f, DropTooBig)
			return
		}
		w.fragment(in, f, &h, frame, mtu)
		return
	}
	packet.DecTTL(frame, p)
	mac, st := w.linkLayer(&h)
	s := packet.RewriteL2(buf, start, p, mac, h.mac, h.out.tags)
	w.forwarded(in, f, &h, st, buf[s:start+p.L3Off+p.L3Len])
}

// hop is where a packet goes next: its egress port, and the adjacency of a
// gateway route or the neighbour key of a directly attached destination,
// whichever holds the MAC it needs.
type hop struct {
	out *Port
	mac adj.MAC // the egress interface's
	a   *adj.Adjacency
	key adj.Key
}

// nextHop resolves a gateway or attached forwarding entry of f for dst to
// its hop (an ECMP member picked by p's flow hash, or the first member when
// p is nil). It returns why it cannot: the egress port is gone or down
// (DropEgressDown), or no longer in f (DropPortMoved: a port move has begun
// and f's routes through it are on their way out); dropNone when it can.
func (w *worker) nextHop(f *fib.FIB, n *fib.Next, dst netip.Addr, p *packet.Parsed) (h hop, why Drop) {
	switch n.Kind {
	case fib.NextGateway:
		var hash uint32
		if n.Group != nil && p != nil {
			hash = packet.FlowHash(p)
		}
		h.a = w.e.adjs.Get(n.Pick(hash))
		// Only an entry with somewhere else to go (other members, a
		// backup group) checks its member: a single path, the common
		// case, pays nothing for failover.
		if (n.Group != nil || n.Backup != nil) && !w.usable(h.a) {
			h.a = w.failover(n, h.a)
		}
		h.key.Port = h.a.Port()
	case fib.NextAttached:
		h.key = adj.Key{FIB: f.ID(), Port: n.Port, Addr: dst}
	default:
		return h, DropEgressDown
	}
	var ok bool
	if h.out, ok = w.e.Port(h.key.Port); !ok || !h.out.ifc.linkUp.Load() {
		return h, DropEgressDown
	}
	l := h.out.ifc.live.Load()
	if l == nil {
		return h, DropEgressDown
	}
	h.mac = l.mac
	if h.out.fib.Load() != f {
		return h, DropPortMoved
	}
	return h, dropNone
}

// linkLayer returns the hop's MAC and its state: from the adjacency for a
// gateway, from the neighbour table for an attached destination.
func (w *worker) linkLayer(h *hop) (adj.MAC, adj.State) {
	if h.a != nil {
		return h.a.LinkLayer()
	}
	mac, st, known := w.e.nb.Lookup(h.key)
	if !known {
		st = adj.Incomplete
	}
	return mac, st
}

// emit stages a frame whose link-layer header is written (with the MAC
// linkLayer gave, state st) for the hop's egress port, or hands it to
// neigh when that MAC is not known yet; Env.Deliver sends it once it is.
// It reports whether the frame went out now.
func (w *worker) emit(h *hop, st adj.State, frame []byte) bool {
	switch st {
	case adj.Valid:
	case adj.Stale:
		// The first packet to a STALE neighbour starts its reachability
		// check; the MAC is still good.
		w.e.nb.Resolve(w.neighKey(h), frame)
	default:
		mac, ok := w.e.nb.Resolve(w.neighKey(h), frame)
		if !ok {
			return false
		}
		copy(frame[0:6], mac[:])
	}
	w.stage(h.out, frame)
	return true
}

// forwarded emits a forwarded frame and counts it: forwarded, or queued
// for its neighbour's MAC.
func (w *worker) forwarded(in *Port, f *fib.FIB, h *hop, st adj.State, frame []byte) {
	if !w.emit(h, st, frame) {
		w.pc(in).queued.Add(1)
		return
	}
	w.countForwarded(in, f)
}

func (w *worker) neighKey(h *hop) adj.Key {
	if h.a != nil {
		return h.a.Key()
	}
	return h.key
}

// lookup finds the forwarding entry for dst, following lookup-in-FIB routes
// into the FIB they name; it returns the FIB the entry came from, and false
// when the chain is longer than MaxLeakHops.
func (w *worker) lookup(f *fib.FIB, dst netip.Addr) (*fib.Next, *fib.FIB, bool) {
	return w.follow(f, f.Lookup(dst), dst)
}

// follow continues from n, the entry f gave for dst, through lookup-in-FIB
// routes, as lookup does.
func (w *worker) follow(f *fib.FIB, n *fib.Next, dst netip.Addr) (*fib.Next, *fib.FIB, bool) {
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

// fragment splits an IPv4 packet without DF for a smaller MTU (RFC 791),
// decrementing its TTL first, and sends each fragment.
func (w *worker) fragment(in *Port, f *fib.FIB, h *hop, frame []byte, mtu int) {
	packet.DecTTL(frame, w.p)
	sent, ok := w.sendFragments(h, frame, mtu)
	switch {
	case !ok:
		w.drop(in, f, DropFragment)
	case !sent:
		// One packet received, one counted: forwarded when its fragments
		// went out, queued when they wait for the neighbour (they share
		// its fate).
		w.pc(in).queued.Add(1)
	default:
		w.countForwarded(in, f)
	}
}

// sendFragments cuts the IPv4 packet w.p describes into fragments of at
// most mtu bytes in the generated-packet buffers and emits them to h. It
// reports whether any went out now (false: they wait for the neighbour),
// and false for ok when the packet cannot be fragmented.
func (w *worker) sendFragments(h *hop, frame []byte, mtu int) (sent, ok bool) {
	if w.ngen+maxFragments > len(w.gen) {
		w.flush()
	}
	bufs := w.gen[w.ngen : w.ngen+maxFragments]
	for i := range bufs {
		w.frag[i] = bufs[i][Headroom:]
	}
	k, r := packet.Fragment(w.frag[:], frame, w.p, mtu)
	if r != packet.OK {
		return false, false
	}
	w.ngen += k
	mac, st := w.linkLayer(h)
	for i := 0; i < k; i++ {
		s := packet.WriteL2(bufs[i], Headroom, mac, h.mac, h.out.tags, packet.EtherTypeIPv4)
		sent = w.emit(h, st, bufs[i][s:Headroom+len(w.frag[i])]) || sent
	}
	return sent, true
}

// drop counts a dropped packet on its ingress port and, when known, its FIB.
func (w *worker) drop(in *Port, f *fib.FIB, d Drop) {
	w.pc(in).drops[d].Add(1)
	if f != nil {
		w.fibShard(f).drops[d].Add(1)
	}
}

// usable reports whether a gateway can take packets now: its neighbour has
// not failed and its port forwards.
func (w *worker) usable(a *adj.Adjacency) bool {
	if _, st := a.LinkLayer(); st == adj.Failed {
		return false
	}
	out, ok := w.e.Port(a.Port())
	return ok && out.ifc.linkUp.Load() && out.ifc.live.Load() != nil
}

// failover picks another way out when the member a flow hashed to cannot
// take it: another member of the group that can, else the backup group's
// member (a next-hop group's backup, used while every primary member is
// down and left as soon as one recovers), else a itself, whose failure the
// caller reports as usual. It runs only for packets whose member is down.
func (w *worker) failover(n *fib.Next, a *adj.Adjacency) *adj.Adjacency {
	for _, id := range n.Adjacencies() {
		if b := w.e.adjs.Get(id); b != a && w.usable(b) {
			return b
		}
	}
	if bk := n.Backup; bk != nil && bk.Kind == fib.NextGateway {
		for _, id := range bk.Adjacencies() {
			if b := w.e.adjs.Get(id); w.usable(b) {
				return b
			}
		}
	}
	return a
}
