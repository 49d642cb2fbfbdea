package neigh_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/neigh"
)

func TestSameIPInTwoFIBsResolvesToTwoMACs(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		ka, kb := key(fibA, port1, f.neighbor), key(fibB, port2, f.neighbor)
		h.resolve(ka, []byte("a"), false)
		h.resolve(kb, []byte("b"), false)
		f.advertise(h, fibA, port1, f.neighbor, macN1, true, true)
		h.wantState(kb, neigh.Incomplete) // FIB B's entry untouched
		f.advertise(h, fibB, port2, f.neighbor, macN2, true, true)
		for _, c := range []struct {
			k   adj.Key
			mac adj.MAC
		}{{ka, macN1}, {kb, macN2}} {
			if mac, st, ok := h.tab.Lookup(c.k); !ok || st != adj.Valid || mac != c.mac {
				t.Fatalf("Lookup(%v) = %v %v %v, want %v", c.k, mac, st, ok, c.mac)
			}
			h.wantAdj(c.k, c.mac, adj.Valid)
		}
		ea, _ := h.entry(ka)
		eb, _ := h.entry(kb)
		if ea.Adj == eb.Adj {
			t.Fatal("two FIBs share one adjacency")
		}
		d := h.env.TakeDelivered()
		if len(d) != 2 || string(d[0].Pkts[0]) != "a" || d[0].MAC != macN1 || string(d[1].Pkts[0]) != "b" || d[1].MAC != macN2 {
			t.Fatalf("deliveries %+v", d)
		}
	})
}

func TestLinkLocalSameAddressOnTwoPortsIsTwoEntries(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	ll := netip.MustParseAddr("fe80::99")
	k1, k3 := key(fibA, port1, ll), key(fibA, port3, ll)
	ns := func(p adj.PortID, mac adj.MAC, target netip.Addr) {
		h.tab.HandleICMPv6(fibA, p, mac, nsBytes(t, neigh.NS{Src: ll, Dst: neigh.SolicitedNode(target), Target: target, SourceLL: mac, HasSourceLL: true}))
	}
	ns(port1, macN1, llPort1)
	ns(port3, macN3, llPort3)
	h.wantState(k1, neigh.Stale)
	h.wantState(k3, neigh.Stale)
	if m, _, _ := h.tab.Lookup(k1); m != macN1 {
		t.Fatalf("port 1: %v", m)
	}
	if m, _, _ := h.tab.Lookup(k3); m != macN3 {
		t.Fatalf("port 3: %v", m)
	}
	// Both answered, each from its own port's link-local address.
	for _, fr := range h.env.TakeFrames() {
		na, err := neigh.ParseNA(fr.Payload)
		if err != nil || na.Dst != ll || (fr.Port == port1) != (na.Src == llPort1) {
			t.Fatalf("reply on port %d: %+v %v", fr.Port, na, err)
		}
	}
}

func TestLinkLocalNextHopResolves(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	gw := netip.MustParseAddr("fe80::1")
	k := key(fibA, port1, gw)
	// fe80::/10 is not among the port's prefixes: link-local is on-link
	// by definition.
	h.resolve(k, []byte("via fe80::1"), false)
	s := h.takeSolicits()
	if len(s) != 1 || s[0].src != llPort1 || s[0].ipDst != neigh.SolicitedNode(gw) {
		t.Fatalf("solicitation %+v", s)
	}
	h.tab.HandleICMPv6(fibA, port1, macN1, naBytes(t, neigh.NA{Src: gw, Dst: llPort1, Target: gw, Router: true,
		Solicited: true, Override: true, TargetLL: macN1, HasTargetLL: true}))
	if mac := h.resolve(k, nil, true); mac != macN1 {
		t.Fatalf("MAC %v", mac)
	}
	if e, _ := h.entry(k); !e.Router {
		t.Fatal("router flag lost")
	}
	// The same gateway address on another port is another neighbour.
	if _, _, ok := h.tab.Lookup(key(fibA, port3, gw)); ok {
		t.Fatal("link-local entry leaked to another port")
	}
}

func TestNSForOurAddressAnsweredWithRouterSolicitedOverride(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	h.tab.HandleICMPv6(fibA, port1, macN1, nsBytes(t, neigh.NS{Src: v6N, Dst: neigh.SolicitedNode(v6Local), Target: v6Local, SourceLL: macN1, HasSourceLL: true}))
	fr := h.env.TakeFrames()
	if len(fr) != 1 || fr[0].Dst != macN1 || fr[0].EtherType != neigh.EtherTypeIPv6 || fr[0].Port != port1 {
		t.Fatalf("frames %+v", fr)
	}
	na, err := neigh.ParseNA(fr[0].Payload)
	want := neigh.NA{Src: v6Local, Dst: v6N, Target: v6Local, Router: true, Solicited: true, Override: true, TargetLL: macPort1, HasTargetLL: true}
	if err != nil || na != want {
		t.Fatalf("NA %+v %v, want %+v", na, err, want)
	}

	// DAD probe for our address: defend it to all-nodes, S=0.
	h.tab.HandleICMPv6(fibA, port1, macN2, nsBytes(t, neigh.NS{Src: netip.IPv6Unspecified(), Dst: neigh.SolicitedNode(v6Local), Target: v6Local}))
	fr = h.env.TakeFrames()
	if len(fr) != 1 || fr[0].Dst != neigh.MulticastMAC(neigh.AllNodes) {
		t.Fatalf("DAD answer frames %+v", fr)
	}
	na, err = neigh.ParseNA(fr[0].Payload)
	if err != nil || na.Dst != neigh.AllNodes || na.Solicited || !na.Override || !na.Router {
		t.Fatalf("DAD answer %+v %v", na, err)
	}
	if _, _, ok := h.tab.Lookup(key(fibA, port1, netip.IPv6Unspecified())); ok {
		t.Fatal("DAD created an entry")
	}

	// Unicast NS without SLLA: answered to the frame's source, not cached.
	h.tab.HandleICMPv6(fibA, port1, macN3, nsBytes(t, neigh.NS{Src: netip.MustParseAddr("2001:db8:1::3"), Dst: v6Local, Target: v6Local}))
	if fr = h.env.TakeFrames(); len(fr) != 1 || fr[0].Dst != macN3 {
		t.Fatalf("frames %+v", fr)
	}

	// Not our address, or our address but asked in the wrong FIB: silence.
	h.tab.HandleICMPv6(fibA, port1, macN1, nsBytes(t, neigh.NS{Src: v6N, Dst: v6Local, Target: netip.MustParseAddr("2001:db8:1::77"), SourceLL: macN1, HasSourceLL: true}))
	h.tab.HandleICMPv6(fibB, port1, macN1, nsBytes(t, neigh.NS{Src: v6N, Dst: v6Local, Target: v6Local, SourceLL: macN1, HasSourceLL: true}))
	if fr = h.env.TakeFrames(); len(fr) != 0 {
		t.Fatalf("answered %+v", fr)
	}
	h.wantCounter(fibA, neigh.NSRxNotLocal, 1)
	h.wantCounter(fibB, neigh.NSRxNotLocal, 1)
}

func TestARPRequestForOurAddressAnswered(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	h.tab.HandleARP(fibA, port1, macN1, arpBytes(t, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: macN1, SenderIP: v4N, TargetIP: v4Local}))
	fr := h.env.TakeFrames()
	if len(fr) != 1 || fr[0].Dst != macN1 || fr[0].EtherType != neigh.EtherTypeARP {
		t.Fatalf("frames %+v", fr)
	}
	a, err := neigh.ParseARP(fr[0].Payload)
	want := neigh.ARP{Op: neigh.ARPReply, SenderMAC: macPort1, SenderIP: v4Local, TargetMAC: macN1, TargetIP: v4N}
	if err != nil || a != want {
		t.Fatalf("reply %+v %v, want %+v", a, err, want)
	}
	// RFC 5227 probe (sender 0.0.0.0): answered, nothing learned.
	h.tab.HandleARP(fibA, port1, macN2, arpBytes(t, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: macN2, TargetIP: v4Local, SenderIP: netip.IPv4Unspecified()}))
	if fr = h.env.TakeFrames(); len(fr) != 1 || fr[0].Dst != macN2 {
		t.Fatalf("probe answer %+v", fr)
	}
	if st := h.tab.Stats().FIBs[0]; st.Dynamic != 1 {
		t.Fatalf("%d entries after probe, want 1", st.Dynamic)
	}
	// A request for someone else: not answered, not learned (merge rule).
	h.tab.HandleARP(fibA, port1, macN3, arpBytes(t, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: macN3, SenderIP: netip.MustParseAddr("192.0.2.3"), TargetIP: netip.MustParseAddr("192.0.2.4")}))
	if fr = h.env.TakeFrames(); len(fr) != 0 {
		t.Fatalf("answered %+v", fr)
	}
	h.wantCounter(fibA, neigh.ARPRxNotCached, 1)
	h.wantCounter(fibA, neigh.ARPTxReplies, 2)
}

func TestOffLinkAddressesRefused(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	off4, off6 := netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("2001:db8:99::5")
	h.tab.HandleARP(fibA, port1, macN1, arpBytes(t, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: macN1, SenderIP: off4, TargetIP: v4Local}))
	h.wantCounter(fibA, neigh.ARPRxOffLink, 1)
	if len(h.env.TakeFrames()) != 0 {
		t.Fatal("answered an off-link sender")
	}
	// 192.0.2.0/24 is connected on port 1 but not on port 3.
	h.tab.HandleARP(fibA, port3, macN1, arpBytes(t, neigh.ARP{Op: neigh.ARPReply, SenderMAC: macN1, SenderIP: v4N, TargetIP: netip.MustParseAddr("198.51.100.1")}))
	h.wantCounter(fibA, neigh.ARPRxOffLink, 2)

	if _, ok := h.tab.Resolve(key(fibA, port1, off4), []byte("x")); ok {
		t.Fatal("resolved off-link")
	}
	h.tab.Resolve(key(fibA, port1, off6), []byte("x"))
	h.wantCounter(fibA, neigh.ResolveOffLink, 2)

	h.tab.HandleICMPv6(fibA, port1, macN1, naBytes(t, neigh.NA{Src: off6, Dst: neigh.AllNodes, Target: off6, Override: true, TargetLL: macN1, HasTargetLL: true}))
	h.wantCounter(fibA, neigh.NARxOffLink, 1)
	// An NS from off-link is answered (the sender asked for us) but not cached.
	h.tab.HandleICMPv6(fibA, port1, macN1, nsBytes(t, neigh.NS{Src: off6, Dst: v6Local, Target: v6Local, SourceLL: macN1, HasSourceLL: true}))
	h.wantCounter(fibA, neigh.NSRxOffLink, 1)
	if st := h.tab.Stats(); st.FIBs[0].Dynamic != 0 {
		t.Fatalf("off-link entries created: %+v", st.FIBs[0])
	}
	// Our own address claimed by someone else.
	h.tab.HandleARP(fibA, port1, macN1, arpBytes(t, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: macN1, SenderIP: v4Local, TargetIP: v4Local}))
	h.wantCounter(fibA, neigh.ARPRxAddressConflict, 1)
	h.tab.HandleICMPv6(fibA, port1, macN1, naBytes(t, neigh.NA{Src: v6Local, Dst: neigh.AllNodes, Target: v6Local, Override: true, TargetLL: macN1, HasTargetLL: true}))
	h.wantCounter(fibA, neigh.NDRxAddressConflict, 1)
}

func TestInvalidPacketsDroppedAndCounted(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	req := arpBytes(t, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: macN1, SenderIP: v4N, TargetIP: v4Local})
	h.tab.HandleARP(fibA, port1, macN1, req[:20])
	h.tab.HandleARP(fibA, port1, macN1, append(append([]byte(nil), req[:7]...), append([]byte{9}, req[8:]...)...))
	h.tab.HandleARP(fibA, port1, macN1, arpBytes(t, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: neigh.BroadcastMAC, SenderIP: v4N, TargetIP: v4Local}))
	h.wantCounter(fibA, neigh.ARPRxTruncated, 1)
	h.wantCounter(fibA, neigh.ARPRxBadOp, 1)
	h.wantCounter(fibA, neigh.ARPRxBadSender, 1)

	ns := nsBytes(t, neigh.NS{Src: v6N, Dst: neigh.SolicitedNode(v6Local), Target: v6Local, SourceLL: macN1, HasSourceLL: true})
	h.tab.HandleICMPv6(fibA, port1, macN1, ndVariant(t, ns, func(b []byte) []byte { b[7] = 64; return b }))
	h.tab.HandleICMPv6(fibA, port1, macN1, ns[:30])
	rs := ndVariant(t, ns, func(b []byte) []byte { b[40] = neigh.ICMPv6TypeRS; return b })
	h.tab.HandleICMPv6(fibA, port1, macN1, rs)
	echo := ndVariant(t, ns, func(b []byte) []byte { b[40] = 128; return b })
	h.tab.HandleICMPv6(fibA, port1, macN1, echo)
	h.tab.HandleICMPv6(fibA, port1, macN1, ndVariant(t, ns, func(b []byte) []byte { copy(b[66:72], neigh.BroadcastMAC[:]); return b }))
	h.wantCounter(fibA, neigh.NDRxBadHopLimit, 1)
	h.wantCounter(fibA, neigh.NDRxTruncated, 1)
	h.wantCounter(fibA, neigh.NDRxIgnored, 1)
	h.wantCounter(fibA, neigh.ICMPv6RxNotND, 1)
	h.wantCounter(fibA, neigh.NDRxBadLinkAddr, 1)
	if fr := h.env.TakeFrames(); len(fr) != 0 {
		t.Fatalf("invalid packets answered: %d frames", len(fr))
	}
	if st := h.tab.Stats().FIBs[0]; st.Dynamic != 0 {
		t.Fatal("invalid packets created entries")
	}
}

func TestStaticEntriesSurviveFlush(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	ks := key(fibA, port1, netip.MustParseAddr("192.0.2.50"))
	if err := h.tab.AddStatic(ks, macN3); err != nil {
		t.Fatal(err)
	}
	kd := toReachable(t, h, families[0])
	kOther := key(fibA, port3, netip.MustParseAddr("198.51.100.7"))
	h.tab.HandleARP(fibA, port3, macN2, arpBytes(t, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: macN2, SenderIP: kOther.Addr, TargetIP: netip.MustParseAddr("198.51.100.1")}))
	if n := h.tab.Flush(fibA, port1); n != 1 {
		t.Fatalf("Flush removed %d, want 1", n)
	}
	h.wantState(kd, neigh.None)
	h.wantState(kOther, neigh.Stale) // other port untouched
	h.wantState(ks, neigh.Permanent)
	h.wantAdj(ks, macN3, adj.Valid)
	if _, ok := h.adjs.Lookup(kd); ok {
		t.Fatal("flushed entry kept its adjacency")
	}
	// Static entries are listed as such.
	e, _ := h.entry(ks)
	if !e.Static() || e.MAC != macN3 {
		t.Fatalf("entry %+v", e)
	}
	if err := h.tab.DeleteStatic(ks); err != nil {
		t.Fatal(err)
	}
	if err := h.tab.DeleteStatic(ks); !errors.Is(err, neigh.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := h.tab.DeleteStatic(kOther); !errors.Is(err, neigh.ErrNotFound) {
		t.Fatalf("DeleteStatic of a dynamic entry: %v", err)
	}
	if err := h.tab.Delete(kOther); err != nil {
		t.Fatal(err)
	}
	if h.adjs.Len() != 0 {
		t.Fatalf("%d adjacencies left", h.adjs.Len())
	}
}

func TestAddStaticRejectsInvalid(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	for _, tc := range []struct {
		k   adj.Key
		mac adj.MAC
	}{
		{key(fibA, port1, v4N), neigh.BroadcastMAC},
		{key(fibA, port1, v4N), adj.MAC{}},
		{key(fibA, port1, netip.MustParseAddr("224.0.0.1")), macN1},
		{key(fibA, port1, netip.MustParseAddr("ff02::1")), macN1},
		{key(fibA, adj.NoPort, v4N), macN1},
		{key(fibA, port1, netip.Addr{}), macN1},
	} {
		if err := h.tab.AddStatic(tc.k, tc.mac); !errors.Is(err, neigh.ErrInvalid) {
			t.Errorf("AddStatic(%v, %v) = %v", tc.k, tc.mac, err)
		}
	}
	// 4in6 at the boundary becomes plain IPv4.
	if err := h.tab.AddStatic(key(fibA, port1, netip.MustParseAddr("::ffff:192.0.2.9")), macN1); err != nil {
		t.Fatal(err)
	}
	if mac, _, ok := h.tab.Lookup(key(fibA, port1, netip.MustParseAddr("192.0.2.9"))); !ok || mac != macN1 {
		t.Fatal("4in6 key not canonicalised")
	}
	if mac, _, ok := h.tab.Lookup(key(fibA, port1, netip.MustParseAddr("::ffff:192.0.2.9"))); !ok || mac != macN1 {
		t.Fatal("4in6 lookup not canonicalised")
	}
}

func TestDeleteFIBRemovesEverything(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	toReachable(t, h, families[1])
	h.tab.AddStatic(key(fibA, port1, netip.MustParseAddr("192.0.2.9")), macN1)
	h.tab.AddStatic(key(fibB, port2, netip.MustParseAddr("192.0.2.9")), macN2)
	h.tab.DeleteFIB(fibA)
	for _, f := range h.tab.Stats().FIBs {
		if f.FIB == fibA {
			t.Fatal("FIB A still has state")
		}
	}
	if h.adjs.Len() != 1 {
		t.Fatalf("%d adjacencies, want FIB B's one", h.adjs.Len())
	}
	if h.clk.Pending() != 0 {
		t.Fatalf("%d timers left running", h.clk.Pending())
	}
}

func TestMACChangeUpdatesSharedAdjacencyInPlace(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := key(fibA, port1, f.neighbor)
		// fib takes its reference first, for a route via this gateway.
		id := h.adjs.Acquire(k)
		a := h.adjs.Get(id)
		h.resolve(k, []byte("p"), false)
		f.advertise(h, fibA, port1, f.neighbor, macN1, true, true)
		if e, _ := h.entry(k); e.Adj != id {
			t.Fatalf("neigh uses adjacency %d, fib %d", e.Adj, id)
		}
		if mac, st := a.LinkLayer(); mac != macN1 || st != adj.Valid {
			t.Fatalf("route adjacency %v %v", mac, st)
		}
		// An unsolicited override with a new MAC leaves the entry STALE.
		f.advertise(h, fibA, port1, f.neighbor, macN2, false, true)
		if mac, st := a.LinkLayer(); mac != macN2 || st != adj.Stale {
			t.Fatalf("after MAC change: %v %v", mac, st)
		}
		// A second route acquiring later gets the same object.
		if id2 := h.adjs.Acquire(k); id2 != id {
			t.Fatalf("second Acquire gave %d", id2)
		}
		// Link down: neigh lets go, the routes' adjacency goes back to
		// Incomplete so the dataplane comes back to Resolve.
		h.tab.Flush(fibA, port1)
		if _, st := a.LinkLayer(); st != adj.Incomplete {
			t.Fatalf("after flush: %v", st)
		}
		h.adjs.Release(id)
		h.adjs.Release(id)
		if h.adjs.Len() != 0 {
			t.Fatal("adjacency leaked")
		}
	})
}

func TestSolicitationsRateLimited(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	if err := h.tab.SetConfig(fibA, neigh.FIBConfig{SolicitBurst: 2, SolicitRate: 1}); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 15; i++ {
		h.tab.Resolve(key(fibA, port1, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})), []byte("x"))
	}
	if n := len(h.takeSolicits()); n != 2 {
		t.Fatalf("%d solicitations, want the burst of 2", n)
	}
	h.wantCounter(fibA, neigh.SolicitRateLimited, 3)
	// One second refills one token: of the five retransmissions due, one
	// goes out.
	h.clk.Advance(time.Second)
	if n := len(h.takeSolicits()); n != 1 {
		t.Fatalf("%d retransmissions after 1s, want 1", n)
	}
	// A held-back solicitation is not a try: every neighbour still gets its
	// MaxMulticastSolicit solicitations before it fails, however long the
	// budget makes it wait (15 in all, the 3 sent so far included).
	sent := 3
	for i := 0; i < 20 && sent < 15; i++ {
		h.clk.Advance(time.Second)
		sent += len(h.takeSolicits())
	}
	if sent != 15 {
		t.Fatalf("%d solicitations for 5 neighbours, want 3 each", sent)
	}
	h.clk.Advance(2 * time.Second)
	for i := 10; i < 15; i++ {
		h.wantState(key(fibA, port1, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})), neigh.Failed)
	}
	// A neighbour a route uses is asked about from the reserve while
	// strangers have emptied the general budget.
	for i := 20; i < 25; i++ {
		h.tab.Resolve(key(fibA, port1, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})), []byte("x"))
	}
	h.takeSolicits()
	gw := key(fibA, port3, netip.MustParseAddr("198.51.100.2"))
	id := h.adjs.Acquire(gw) // the route
	defer h.adjs.Release(id)
	h.tab.Resolve(gw, []byte("x"))
	if s := h.takeSolicits(); len(s) != 1 || s[0].target != gw.Addr {
		t.Fatalf("the gateway's solicitation: %+v", s)
	}
	// FIB B has its own bucket.
	h.tab.Resolve(key(fibB, port2, v4N), []byte("x"))
	if n := len(h.takeSolicits()); n != 1 {
		t.Fatalf("FIB B: %d solicitations", n)
	}
}

func TestSubscribeDeliversEventsInOrder(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	sub := h.tab.Subscribe(16)
	defer sub.Close()
	k := toReachable(t, h, families[0])
	h.tab.Flush(fibA, port1)
	want := []struct {
		kind neigh.EventKind
		st   neigh.State
	}{{neigh.EventAdded, neigh.Incomplete}, {neigh.EventChanged, neigh.Reachable}, {neigh.EventRemoved, neigh.Reachable}}
	for i, w := range want {
		select {
		case ev := <-sub.C:
			if ev.Kind != w.kind || ev.Entry.State != w.st || ev.Entry.Key != k {
				t.Fatalf("event %d: %v %v %v, want %v %v", i, ev.Kind, ev.Entry.State, ev.Entry.Key, w.kind, w.st)
			}
			if w.st == neigh.Reachable && ev.Entry.MAC != macN1 {
				t.Fatalf("event %d MAC %v", i, ev.Entry.MAC)
			}
		default:
			t.Fatalf("event %d missing", i)
		}
	}
}

func TestSlowSubscriberLosesEventsAndNeverBlocks(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	sub := h.tab.Subscribe(1)
	toReachable(t, h, families[0]) // Added, Changed
	h.clk.Advance(neigh.ReachableTime)
	if sub.Dropped() != 2 {
		t.Fatalf("dropped %d, want 2", sub.Dropped())
	}
	if got := h.tab.Stats().EventsDropped; got != 2 {
		t.Fatalf("Stats.EventsDropped %d", got)
	}
	sub.Close()
	sub.Close()
	<-sub.C // the one buffered event
	if _, ok := <-sub.C; ok {
		t.Fatal("channel not closed")
	}
	if got := h.tab.Stats().EventsDropped; got != 2 {
		t.Fatalf("Stats.EventsDropped after close %d", got)
	}
}

func TestEnvCallbacksMayCallBackIntoTable(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	called := false
	h.env.OnDeliver = func(k adj.Key, mac adj.MAC, _ [][]byte) {
		called = true
		// The dataplane transmits the queue, which resolves again.
		if got, ok := h.tab.Resolve(k, []byte("more")); !ok || got != mac {
			t.Errorf("Resolve from Deliver: %v %v", got, ok)
		}
		h.tab.Stats()
		h.tab.List(k.FIB, func(neigh.Entry) bool { return true })
	}
	toReachable(t, h, families[1])
	if !called {
		t.Fatal("Deliver not called")
	}
}

func TestStatsCounterNames(t *testing.T) {
	seen := map[string]bool{}
	for c := neigh.Counter(0); c < neigh.NumCounters; c++ {
		n := c.MetricName()
		if c.Name() == "" || c.Name() == "unknown" || seen[n] {
			t.Fatalf("counter %d has a missing or duplicate name %q", c, n)
		}
		seen[n] = true
	}
}
