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

// solicitLocked counts a solicitation for e and, if the FIB's rate limit
// allows, schedules it. The state machine advances either way: a
// suppressed solicitation still uses up one of the RFC's tries.
func (t *Table) solicitLocked(e *entry, unicast bool, w *work) {
	e.probes++
	if !t.allowSolicitLocked(e.fib) {
		e.fib.ctr.inc(SolicitRateLimited)
		return
	}
	r := txReq{kind: txSolicit, key: e.key}
	if unicast {
		r.kind, r.dst = txProbe, e.mac
	}
	w.tx = append(w.tx, r)
}

// allowSolicitLocked is a token bucket of SolicitBurst tokens refilled at
// SolicitRate per second.
func (t *Table) allowSolicitLocked(f *fibState) bool {
	now := t.clock.Now().UnixNano()
	burst := float64(f.cfg.SolicitBurst)
	if f.refilled == 0 {
		f.tokens, f.refilled = burst, now
	}
	if el := now - f.refilled; el > 0 {
		f.tokens = min(burst, f.tokens+float64(el)/1e9*f.cfg.SolicitRate)
		f.refilled = now
	}
	if f.tokens < 1 {
		return false
	}
	f.tokens--
	return true
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
