package neigh

import (
	"net/netip"
	"sync"

	"github.com/fibd/fibd/fib/adj"
)

// work is what a handler decided under Table.mu and what has to happen
// after it is released: Env must never be called with the lock held.
type work struct {
	handoffs []handoff
	tx       []txReq
}

// handoff returns queued packets to the dataplane.
type handoff struct {
	key    adj.Key
	mac    adj.MAC
	pkts   [][]byte
	failed bool
}

type txKind uint8

const (
	txSolicit  txKind = iota // multicast NS / broadcast ARP request
	txProbe                  // unicast NS / ARP request to the cached MAC
	txARPReply               // answer to an ARP request for our address
	txNAReply                // answer to an NS for our address
	txAnnounce               // gratuitous ARP / unsolicited NA for our address
)

// txReq describes one packet to build and send. key is the neighbour (FIB,
// port, its address); local is our address for replies.
type txReq struct {
	kind      txKind
	key       adj.Key
	dst       adj.MAC
	local     netip.Addr
	solicited bool // NA: S flag (false answers a DAD probe, to all-nodes)
}

// run does the deferred work: hand-backs first, so queued packets leave
// before anything new the replies may provoke.
func (t *Table) run(w *work) {
	for _, h := range w.handoffs {
		if h.failed {
			t.env.Unreachable(h.key, h.pkts)
		} else {
			t.env.Deliver(h.key, h.mac, h.pkts)
		}
	}
	for i := range w.tx {
		t.transmit(&w.tx[i])
	}
}

// solicitLocked schedules a solicitation for e if the FIB's budget allows.
// A solicitation the budget holds back was not sent, so it is not one of
// the RFC's tries: e keeps its count and its retransmission timer asks
// again. Neighbours that matter (mattersLocked) draw on a reserve that
// strangers cannot touch, so a scan of unused addresses costs the FIB
// its general budget and never a gateway's reachability check.
func (t *Table) solicitLocked(e *entry, unicast bool, w *work) {
	if !t.allowSolicitLocked(e.fib, t.mattersLocked(e)) {
		e.fib.ctr.inc(SolicitRateLimited)
		return
	}
	e.probes++
	r := txReq{kind: txSolicit, key: e.key}
	if unicast {
		r.kind, r.dst = txProbe, e.mac
	}
	w.tx = append(w.tx, r)
}

// Announce tells port p's link that addr (one of the router's addresses in
// fib) is here, with the port's MAC: a gratuitous ARP for IPv4, an
// unsolicited NA for IPv6. The control plane calls it when an address is
// added and the dataplane when a port comes up, so neighbours with a stale
// cache (a replaced router, a moved address) update at once rather than
// after their own timers.
func (t *Table) Announce(fib adj.FIBID, p adj.PortID, addr netip.Addr) {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsUnspecified() || addr.IsMulticast() || p == adj.NoPort {
		return
	}
	t.transmit(&txReq{kind: txAnnounce, key: adj.Key{FIB: fib, Port: p, Addr: addr}})
}

// solicitBudget is a FIB's two token buckets for solicitations: the
// general one, and the reserve for neighbours that matter.
type solicitBudget struct{ general, reserved bucket }

// bucket is a token bucket; refilled is the clock time of its last refill.
type bucket struct {
	tokens   float64
	refilled int64
}

// take refills b at rate per second up to burst and takes a token.
func (b *bucket) take(now int64, rate float64, burst int) bool {
	if b.refilled == 0 {
		b.tokens, b.refilled = float64(burst), now
	}
	if el := now - b.refilled; el > 0 {
		b.tokens = min(float64(burst), b.tokens+float64(el)/1e9*rate)
		b.refilled = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// allowSolicitLocked takes a token from the FIB's budget: neighbours that
// matter from the reserve first, then, like everyone, from the general
// bucket.
func (t *Table) allowSolicitLocked(f *fibState, matters bool) bool {
	now := t.clock.Now().UnixNano()
	if matters && f.budget.reserved.take(now, f.cfg.ReservedSolicitRate, f.cfg.ReservedSolicitBurst) {
		return true
	}
	return f.budget.general.take(now, f.cfg.SolicitRate, f.cfg.SolicitBurst)
}

// mattersLocked reports whether e is a neighbour worth the reserved
// budget and worth keeping at the table's bound: a route or another owner
// besides neigh holds its adjacency (a gateway), or it is known — it had a
// MAC, so it answered once and is being re-checked (PROBE, or resolving
// again after FAILED). Strangers — addresses a scan or a flood brought —
// are neither.
func (t *Table) mattersLocked(e *entry) bool {
	return e.state == Probe || e.state == Permanent || e.mac != (adj.MAC{}) || t.referencedLocked(e)
}

// referencedLocked reports whether anything besides neigh owns e's
// adjacency: a route through the neighbour.
func (t *Table) referencedLocked(e *entry) bool {
	return e.adjID != adj.None && t.adjs.Refs(e.adjID) > 1
}

// txBufLen fits the largest message neigh sends (an NS or NA with a
// link-layer option); ARP is shorter.
const txBufLen = NSMaxLen

var txBufs = sync.Pool{New: func() any { return new([txBufLen]byte) }}

// transmit builds r into a pooled buffer and hands it to Env.Transmit.
func (t *Table) transmit(r *txReq) {
	k := r.key
	ctr := t.counters(k.FIB)
	own, ok := t.env.PortMAC(k.Port)
	if !ok {
		ctr.inc(TxNoPortMAC)
		return
	}
	buf := txBufs.Get().(*[txBufLen]byte)
	defer txBufs.Put(buf)

	switch r.kind {
	case txSolicit, txProbe:
		src, ok := t.env.SourceFor(k.FIB, k.Port, k.Addr)
		src = src.Unmap()
		if !ok || src.Is4() != k.Addr.Is4() {
			ctr.inc(TxNoSource)
			return
		}
		if k.Addr.Is4() {
			dst := BroadcastMAC
			if r.kind == txProbe {
				dst = r.dst
			}
			n, err := BuildARP(buf[:], ARP{Op: ARPRequest, SenderMAC: own, SenderIP: src, TargetIP: k.Addr})
			if err != nil {
				ctr.inc(TxNoSource)
				return
			}
			ctr.inc(ARPTxRequests)
			t.env.Transmit(k.FIB, k.Port, dst, EtherTypeARP, buf[:n])
			return
		}
		ns := NS{Src: src, Dst: SolicitedNode(k.Addr), Target: k.Addr, SourceLL: own, HasSourceLL: true}
		dst := SolicitedNodeMAC(k.Addr)
		if r.kind == txProbe {
			ns.Dst, dst = k.Addr, r.dst
		}
		n, err := BuildNS(buf[:], ns)
		if err != nil {
			ctr.inc(TxNoSource)
			return
		}
		ctr.inc(NSTx)
		t.env.Transmit(k.FIB, k.Port, dst, EtherTypeIPv6, buf[:n])

	case txAnnounce:
		if k.Addr.Is4() {
			// RFC 5227 §3: an ARP request whose sender and target are the
			// announced address, broadcast.
			n, err := BuildARP(buf[:], ARP{Op: ARPRequest, SenderMAC: own, SenderIP: k.Addr, TargetIP: k.Addr})
			if err != nil {
				return
			}
			ctr.inc(ARPTxAnnouncements)
			t.env.Transmit(k.FIB, k.Port, BroadcastMAC, EtherTypeARP, buf[:n])
			return
		}
		// RFC 4861 §7.2.6: an unsolicited NA to all-nodes, O=1, with our
		// link-layer address.
		na := NA{Src: k.Addr, Dst: AllNodes, Target: k.Addr, Router: true, Override: true, TargetLL: own, HasTargetLL: true}
		n, err := BuildNA(buf[:], na)
		if err != nil {
			return
		}
		ctr.inc(NATxAnnouncements)
		t.env.Transmit(k.FIB, k.Port, MulticastMAC(AllNodes), EtherTypeIPv6, buf[:n])

	case txARPReply:
		n, err := BuildARP(buf[:], ARP{Op: ARPReply, SenderMAC: own, SenderIP: r.local, TargetMAC: r.dst, TargetIP: k.Addr})
		if err != nil {
			return
		}
		ctr.inc(ARPTxReplies)
		t.env.Transmit(k.FIB, k.Port, r.dst, EtherTypeARP, buf[:n])

	case txNAReply:
		// We are a router (R=1) and never an anycast or proxy responder,
		// so the answer overrides (O=1) (RFC 4861 §7.2.4).
		na := NA{Src: r.local, Dst: k.Addr, Target: r.local, Router: true, Solicited: r.solicited,
			Override: true, TargetLL: own, HasTargetLL: true}
		n, err := BuildNA(buf[:], na)
		if err != nil {
			return
		}
		ctr.inc(NATx)
		t.env.Transmit(k.FIB, k.Port, r.dst, EtherTypeIPv6, buf[:n])
	}
}
