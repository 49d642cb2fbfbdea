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
		f := t.lockFIB(fib)
		e := f.idx.find(k)
		// RFC 826's merge rule creates an entry for a request to one of
		// our addresses; a reply or a gratuitous ARP creates one only with
		// arp_accept (Linux's default is off), so a flood of them cannot
		// fill the table.
		create := targetsUs && (a.Op == ARPRequest || f.cfg.ARPAccept)
		if e == nil && a.Gratuitous() && f.cfg.ARPAccept {
			create = true
		}
		if e == nil && create {
			e = t.createLocked(f, k, false)
		}
		switch {
		case e == nil && create:
			// Table full: counted by createLocked; still answer.
		case e == nil && (a.Op == ARPReply || a.Gratuitous()):
			ctr.inc(ARPRxUnsolicited)
		case e == nil:
			ctr.inc(ARPRxNotCached)
		case a.Op == ARPReply && targetsUs:
			// A reply answers us only if we asked: INCOMPLETE or PROBE
			// has a request out. Otherwise it is news, not a
			// confirmation: STALE with the MAC it gives.
			asked := e.state == Incomplete || e.state == Probe
			t.handleConfirmationLocked(e, confirmation{mac: a.SenderMAC, hasMAC: true, solicited: asked, override: true}, &w)
		default:
			t.handleProbeLocked(e, a.SenderMAC, &w)
		}
		if e != nil && e.state == None {
			t.removeLocked(e)
		}
		f.mu.Unlock()
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
		f := t.lockFIB(fib)
		e := f.idx.find(k)
		if e == nil {
			e = t.createLocked(f, k, false)
		}
		if e != nil {
			t.handleProbeLocked(e, ns.SourceLL, &w)
		}
		f.mu.Unlock()
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
	f := t.lookupFIB(fib)
	if f == nil || f.idx.find(k) == nil {
		// "If no entry exists, the advertisement SHOULD be silently
		// discarded" (RFC 4861 §7.2.5).
		ctr.inc(NARxNoEntry)
		return
	}
	var w work
	f.mu.Lock()
	if e := f.idx.find(k); e != nil {
		t.handleConfirmationLocked(e, confirmation{mac: na.TargetLL, hasMAC: na.HasTargetLL,
			solicited: na.Solicited, override: na.Override, router: na.Router}, &w)
	} else {
		ctr.inc(NARxNoEntry)
	}
	f.mu.Unlock()
	t.run(&w)
}
