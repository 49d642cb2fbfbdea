package neigh

import "github.com/fibd/fibd/fib/adj"

// HandleARP processes an ARP body received on port p of fib (the bytes
// after the Ethernet/VLAN header); srcMAC is the frame's source. It follows
// RFC 826's merge rule: the sender's entry is updated if it exists, and
// created only when the packet targets one of our addresses; requests for
// our addresses are answered. Invalid packets are dropped and counted.
func (t *Table) HandleARP(fib adj.FIBID, p adj.PortID, srcMAC adj.MAC, b []byte) {
	ctr := t.counters(fib)
	a, err := ParseARP(b)
	if err != nil {
		ctr.inc(arpErrCounter(err))
		return
	}
	if a.Op == ARPRequest {
		ctr.inc(ARPRxRequests)
	} else {
		ctr.inc(ARPRxReplies)
	}
	// An ARP probe (RFC 5227) has sender 0.0.0.0: nothing to learn, but a
	// probe for our address is answered so the prober backs off.
	learn := !a.SenderIP.IsUnspecified()
	if !unicastMAC(a.SenderMAC) || (learn && !validKey(adj.Key{FIB: fib, Port: p, Addr: a.SenderIP})) {
		ctr.inc(ARPRxBadSender)
		return
	}
	targetsUs := !a.Gratuitous() && t.env.IsLocal(fib, p, a.TargetIP)
	if learn {
		if t.env.IsLocal(fib, p, a.SenderIP) {
			ctr.inc(ARPRxAddressConflict)
			return
		}
		if !t.env.OnLink(fib, p, a.SenderIP) {
			ctr.inc(ARPRxOffLink)
			return
		}
	}

	var w work
	if learn {
		k := adj.Key{FIB: fib, Port: p, Addr: a.SenderIP}
		t.mu.Lock()
		f := t.fibLocked(fib)
		e := t.idx.find(k)
		if e == nil && targetsUs {
			e = t.createLocked(f, k, false)
		}
		switch {
		case e == nil && targetsUs:
			// Table full: counted by createLocked; still answer.
		case e == nil:
			ctr.inc(ARPRxNotCached)
		case a.Op == ARPReply && targetsUs:
			t.handleConfirmationLocked(e, confirmation{mac: a.SenderMAC, hasMAC: true, solicited: true, override: true}, &w)
		default:
			t.handleProbeLocked(e, a.SenderMAC, &w)
		}
		if e != nil && e.state == None {
			t.removeLocked(e)
		}
		t.mu.Unlock()
	}
	if a.Op == ARPRequest && targetsUs {
		w.tx = append(w.tx, txReq{kind: txARPReply, key: adj.Key{FIB: fib, Port: p, Addr: a.SenderIP},
			dst: a.SenderMAC, local: a.TargetIP})
	}
	t.run(&w)
}

// HandleICMPv6 processes a whole IPv6 packet carrying an ICMPv6 message
// received on port p of fib; srcMAC is the frame's source. NS and NA are
// validated (RFC 4861 §7.1) and run through the state machine; NS for our
// addresses are answered. RS, RA and Redirect are counted and ignored.
func (t *Table) HandleICMPv6(fib adj.FIBID, p adj.PortID, srcMAC adj.MAC, pkt []byte) {
	ctr := t.counters(fib)
	typ, err := ICMPv6Type(pkt)
	if err != nil {
		ctr.inc(ndErrCounter(err))
		return
	}
	switch typ {
	case ICMPv6TypeNS:
		t.handleNS(ctr, fib, p, srcMAC, pkt)
	case ICMPv6TypeNA:
		t.handleNA(ctr, fib, p, pkt)
	case ICMPv6TypeRS, ICMPv6TypeRA, ICMPv6TypeRedirect:
		ctr.inc(NDRxIgnored)
	default:
		ctr.inc(ICMPv6RxNotND)
	}
}

func (t *Table) handleNS(ctr *counters, fib adj.FIBID, p adj.PortID, srcMAC adj.MAC, pkt []byte) {
	ns, err := ParseNS(pkt)
	if err != nil {
		ctr.inc(ndErrCounter(err))
		return
	}
	ctr.inc(NSRx)
	if ns.HasSourceLL && !unicastMAC(ns.SourceLL) {
		ctr.inc(NDRxBadLinkAddr)
		return
	}
	if !t.env.IsLocal(fib, p, ns.Target) {
		ctr.inc(NSRxNotLocal)
		return
	}
	dad := ns.Src.IsUnspecified()
	reply := txReq{kind: txNAReply, key: adj.Key{FIB: fib, Port: p, Addr: ns.Src}, local: ns.Target, solicited: !dad}
	switch {
	case dad:
		// RFC 4861 §7.2.4: answer a DAD probe to all-nodes, unsolicited.
		reply.key.Addr, reply.dst = AllNodes, MulticastMAC(AllNodes)
	case ns.HasSourceLL:
		reply.dst = ns.SourceLL
	default:
		// A unicast NS may omit the option; answer the frame's sender.
		reply.dst = srcMAC
	}

	var w work
	switch {
	case dad || !ns.HasSourceLL:
		// Nothing to learn.
	case t.env.IsLocal(fib, p, ns.Src):
		ctr.inc(NDRxAddressConflict)
	case !t.onLink(fib, p, ns.Src):
		ctr.inc(NSRxOffLink)
	default:
		k := adj.Key{FIB: fib, Port: p, Addr: ns.Src}
		t.mu.Lock()
		f := t.fibLocked(fib)
		e := t.idx.find(k)
		if e == nil {
			e = t.createLocked(f, k, false)
		}
		if e != nil {
			t.handleProbeLocked(e, ns.SourceLL, &w)
		}
		t.mu.Unlock()
	}
	if !unicastMAC(reply.dst) && !dad {
		ctr.inc(NDRxBadLinkAddr)
	} else {
		w.tx = append(w.tx, reply)
	}
	t.run(&w)
}

func (t *Table) handleNA(ctr *counters, fib adj.FIBID, p adj.PortID, pkt []byte) {
	na, err := ParseNA(pkt)
	if err != nil {
		ctr.inc(ndErrCounter(err))
		return
	}
	ctr.inc(NARx)
	if na.HasTargetLL && !unicastMAC(na.TargetLL) {
		ctr.inc(NDRxBadLinkAddr)
		return
	}
	if t.env.IsLocal(fib, p, na.Target) {
		// Someone else claims our address (or our own NA looped back).
		ctr.inc(NDRxAddressConflict)
		return
	}
	if !t.onLink(fib, p, na.Target) {
		ctr.inc(NARxOffLink)
		return
	}
	k := adj.Key{FIB: fib, Port: p, Addr: na.Target}
	if t.idx.find(k) == nil {
		// "If no entry exists, the advertisement SHOULD be silently
		// discarded" (RFC 4861 §7.2.5).
		ctr.inc(NARxNoEntry)
		return
	}
	var w work
	t.mu.Lock()
	if e := t.idx.find(k); e != nil {
		t.handleConfirmationLocked(e, confirmation{mac: na.TargetLL, hasMAC: na.HasTargetLL,
			solicited: na.Solicited, override: na.Override, router: na.Router}, &w)
	} else {
		ctr.inc(NARxNoEntry)
	}
	t.mu.Unlock()
	t.run(&w)
}
