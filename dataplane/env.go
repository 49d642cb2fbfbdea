package dataplane

import (
	"net/netip"
	"sync"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/fib/adj"
)

// envOf is the engine as neigh sees it (neigh.Env): port MACs and
// addresses, and a way to send. neigh calls it without holding its own
// lock, from RX workers (answers to ARP/NS) and its timer goroutines
// (solicitations, resolution results).
type envOf struct{ e *Engine }

func (v envOf) PortMAC(p adj.PortID) (adj.MAC, bool) {
	port, ok := v.e.Port(p)
	if !ok {
		return adj.MAC{}, false
	}
	l := port.ifc.live.Load()
	if l == nil {
		return adj.MAC{}, false
	}
	return l.mac, true
}

func (v envOf) SourceFor(fibID adj.FIBID, p adj.PortID, target netip.Addr) (netip.Addr, bool) {
	f, ok := v.e.reg.Get(fibID)
	if !ok {
		return netip.Addr{}, false
	}
	return f.SourceFor(p, target)
}

func (v envOf) IsLocal(fibID adj.FIBID, p adj.PortID, a netip.Addr) bool {
	f, ok := v.e.reg.Get(fibID)
	return ok && f.IsLocal(p, a)
}

func (v envOf) OnLink(fibID adj.FIBID, p adj.PortID, a netip.Addr) bool {
	f, ok := v.e.reg.Get(fibID)
	return ok && f.OnLink(p, a)
}

// txPool holds buffers for neigh's own frames (ARP, NS, NA), which are
// rare next to forwarded traffic and come from any goroutine.
var txPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Transmit sends an ARP body or an IPv6 ND packet out of port p for FIB
// fibID. It writes directly under the interface's transmit lock rather than
// through a worker, because neigh may call it from inside Resolve on any
// goroutine. A frame for a FIB the port has left is dropped: a port move
// is one step, after which nothing of the old FIB leaves through it.
func (v envOf) Transmit(fibID adj.FIBID, p adj.PortID, dst adj.MAC, etherType uint16, payload []byte) {
	port, ok := v.e.Port(p)
	if !ok || !port.ifc.linkUp.Load() || len(payload) > MaxFrame-packet.MaxL2Header {
		return
	}
	l := port.ifc.live.Load()
	if l == nil {
		return
	}
	if port.fib.Load().ID() != fibID {
		port.ctr.shard(slowSlot).drops[DropPortMoved].Add(1)
		return
	}
	bp := txPool.Get().(*[]byte)
	defer txPool.Put(bp)
	b := *bp
	copy(b[Headroom:], payload)
	s := packet.WriteL2(b, Headroom, dst, l.mac, port.tags, etherType)
	frame := b[s : Headroom+len(payload)]
	// Ethernet's minimum frame is 60 bytes before the FCS; drivers pad
	// short frames, veth does not, and an ARP reply is 42.
	for len(frame) < 60 {
		frame = frame[:len(frame)+1]
		frame[len(frame)-1] = 0
	}
	sent, err := 0, errEgressClosed
	// The I/O may be closing since l was read; the queue's lock makes the
	// check and the write one step.
	if q := l.lockQueue(0); q != nil {
		sent, err = q.io.WriteBatch([][]byte{frame})
		q.mu.Unlock()
	}
	if err != nil || sent == 0 {
		port.ctr.shard(slowSlot).drops[DropTxFull].Add(1)
		return
	}
	c := port.ctr.shard(slowSlot)
	c.txPackets.Add(1)
	c.txBytes.Add(uint64(len(frame)))
}

// Deliver sends the packets that waited for k's MAC. Each is a complete
// egress frame whose destination MAC was left blank.
func (v envOf) Deliver(k adj.Key, mac adj.MAC, pkts [][]byte) {
	port, ok := v.e.Port(k.Port)
	if !ok {
		return
	}
	if port.fib.Load().ID() != k.FIB {
		port.ctr.shard(slowSlot).drops[DropPortMoved].Add(uint64(len(pkts)))
		return
	}
	e := v.e
	w := e.slow.Get().(*worker)
	defer e.slow.Put(w)
	for _, pkt := range pkts {
		if len(pkt) > MaxJumboFrame {
			continue
		}
		b := w.genBuf()
		n := copy(b[Headroom:], pkt)
		copy(b[Headroom:Headroom+6], mac[:])
		w.stage(port, b[Headroom:Headroom+n])
	}
	w.flush()
}

// Unreachable answers each packet that waited for a neighbour that never
// answered with ICMP host unreachable (ICMPv6 address unreachable), sent
// from the FIB's address on the port.
func (v envOf) Unreachable(k adj.Key, pkts [][]byte) {
	port, ok := v.e.Port(k.Port)
	if !ok {
		return
	}
	f, ok := v.e.reg.Get(k.FIB)
	if !ok {
		return
	}
	e := v.e
	w := e.slow.Get().(*worker)
	defer e.slow.Put(w)
	for _, pkt := range pkts {
		p := w.p
		if packet.Parse(pkt, false, 0, 0, p) != packet.OK {
			continue
		}
		port.ctr.shard(slowSlot).drops[DropUnreachable].Add(1)
		w.icmpError(port, f, pkt, packet.ICMPHostUnreachable, 0)
	}
	w.flush()
}
