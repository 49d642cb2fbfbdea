package neigh_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/neigh"
)

// Per-transition tests of the RFC 4861 §7.3.3 machine, each run for ARP
// and ND. Names read <From>To<To>On/When/After<Event>.

// toIncomplete queues one packet for f's neighbour on port 1 and checks the
// first solicitation.
func toIncomplete(t *testing.T, h *harness, f family, pkt []byte) adj.Key {
	t.Helper()
	k := key(fibA, port1, f.neighbor)
	h.resolve(k, pkt, false)
	h.wantState(k, neigh.Incomplete)
	if s := h.takeSolicits(); len(s) != 1 || s[0].unicast || s[0].target != f.neighbor {
		t.Fatalf("solicitations %+v, want one multicast for %v", s, f.neighbor)
	}
	return k
}

// toReachable resolves f's neighbour on port 1 to macN1.
func toReachable(t *testing.T, h *harness, f family) adj.Key {
	t.Helper()
	k := toIncomplete(t, h, f, []byte("p"))
	f.advertise(h, fibA, port1, f.neighbor, macN1, true, true)
	h.wantState(k, neigh.Reachable)
	h.env.TakeDelivered()
	h.env.TakeFrames()
	return k
}

func toStale(t *testing.T, h *harness, f family) adj.Key {
	t.Helper()
	k := toReachable(t, h, f)
	h.clk.Advance(neigh.ReachableTime)
	h.wantState(k, neigh.Stale)
	return k
}

func toDelay(t *testing.T, h *harness, f family) adj.Key {
	t.Helper()
	k := toStale(t, h, f)
	h.resolve(k, []byte("q"), true)
	h.wantState(k, neigh.Delay)
	return k
}

func toProbe(t *testing.T, h *harness, f family) adj.Key {
	t.Helper()
	k := toDelay(t, h, f)
	h.clk.Advance(neigh.DelayFirstProbeTime)
	h.wantState(k, neigh.Probe)
	return k
}

func toFailed(t *testing.T, h *harness, f family) adj.Key {
	t.Helper()
	k := toIncomplete(t, h, f, []byte("p"))
	h.clk.Advance(3 * neigh.RetransTimer)
	h.wantState(k, neigh.Failed)
	h.env.TakeFrames()
	h.env.TakeUnreachable()
	return k
}

func TestNoneToIncompleteWhenPacketQueued(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := key(fibA, port1, f.neighbor)
		h.resolve(k, []byte("first"), false)
		h.wantState(k, neigh.Incomplete)
		h.wantAdj(k, adj.MAC{}, adj.Incomplete)
		if _, st, ok := h.tab.Lookup(k); !ok || st != adj.Incomplete {
			t.Fatalf("Lookup = %v %v", st, ok)
		}
		s := h.takeSolicits()
		if len(s) != 1 {
			t.Fatalf("%d solicitations, want 1", len(s))
		}
		got := s[0]
		if got.port != port1 || got.target != f.neighbor || got.srcMAC != macPort1 || got.unicast {
			t.Fatalf("solicitation %+v", got)
		}
		if f.name == "arp" {
			if got.dst != neigh.BroadcastMAC || got.src != v4Local {
				t.Fatalf("ARP request to %v from %v, want broadcast from %v", got.dst, got.src, v4Local)
			}
		} else {
			// Multicast to the solicited-node group, from the port's
			// link-local address (RFC 4861 §7.2.2).
			if got.ipDst != neigh.SolicitedNode(f.neighbor) || got.dst != neigh.SolicitedNodeMAC(f.neighbor) || got.src != llPort1 {
				t.Fatalf("NS %v→%v (L2 %v)", got.src, got.ipDst, got.dst)
			}
		}
	})
}

func TestIncompleteRetransmitsAfterRetransTimer(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toIncomplete(t, h, f, []byte("p"))
		for i := 2; i <= neigh.MaxMulticastSolicit; i++ {
			h.clk.Advance(neigh.RetransTimer - time.Millisecond)
			if s := h.takeSolicits(); len(s) != 0 {
				t.Fatalf("solicitation %d came early", i)
			}
			h.clk.Advance(time.Millisecond)
			if s := h.takeSolicits(); len(s) != 1 || s[0].unicast {
				t.Fatalf("solicitation %d: %+v", i, s)
			}
			h.wantState(k, neigh.Incomplete)
		}
	})
}

func TestIncompleteToFailedAfterMaxMulticastSolicit(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toIncomplete(t, h, f, []byte("p1"))
		h.resolve(k, []byte("p2"), false)
		h.clk.Advance(neigh.MaxMulticastSolicit*neigh.RetransTimer - time.Millisecond)
		h.wantState(k, neigh.Incomplete)
		h.clk.Advance(time.Millisecond)
		h.wantState(k, neigh.Failed)
		h.wantAdj(k, adj.MAC{}, adj.Failed)
		u := h.env.TakeUnreachable()
		if len(u) != 1 || u[0].Key != k || len(u[0].Pkts) != 2 ||
			string(u[0].Pkts[0]) != "p1" || string(u[0].Pkts[1]) != "p2" {
			t.Fatalf("Unreachable calls %+v, want one with p1, p2", u)
		}
		h.clk.Advance(time.Minute / 4)
		if len(h.env.TakeUnreachable()) != 0 || len(h.env.TakeDelivered()) != 0 {
			t.Fatal("queued packets handed back twice")
		}
		h.wantCounter(fibA, neigh.ResolutionFailed, 1)
		h.wantCounter(fibA, neigh.QueueUnreachable, 2)
	})
}

func TestIncompleteToReachableOnSolicitedAdvertisement(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toIncomplete(t, h, f, []byte("p1"))
		h.resolve(k, []byte("p2"), false)
		f.advertise(h, fibA, port1, f.neighbor, macN1, true, true)
		h.wantState(k, neigh.Reachable)
		h.wantAdj(k, macN1, adj.Valid)
		d := h.env.TakeDelivered()
		if len(d) != 1 || d[0].MAC != macN1 || len(d[0].Pkts) != 2 ||
			string(d[0].Pkts[0]) != "p1" || string(d[0].Pkts[1]) != "p2" {
			t.Fatalf("Deliver calls %+v, want p1, p2 to %v", d, macN1)
		}
		if mac := h.resolve(k, []byte("p3"), true); mac != macN1 {
			t.Fatalf("Resolve MAC %v", mac)
		}
		if mac, st, ok := h.tab.Lookup(k); !ok || st != adj.Valid || mac != macN1 {
			t.Fatalf("Lookup %v %v %v", mac, st, ok)
		}
	})
}

func TestIncompleteToStaleOnUnsolicitedAdvertisement(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toIncomplete(t, h, f, []byte("p1"))
		f.advertise(h, fibA, port1, f.neighbor, macN1, false, true)
		h.wantState(k, neigh.Stale)
		h.wantAdj(k, macN1, adj.Stale)
		if d := h.env.TakeDelivered(); len(d) != 1 || string(d[0].Pkts[0]) != "p1" {
			t.Fatalf("Deliver calls %+v", d)
		}
	})
}

func TestIncompleteToStaleOnSolicitation(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toIncomplete(t, h, f, []byte("p1"))
		f.solicit(h, fibA, port1, f.neighbor, macN1)
		h.wantState(k, neigh.Stale)
		if d := h.env.TakeDelivered(); len(d) != 1 || d[0].MAC != macN1 {
			t.Fatalf("Deliver calls %+v", d)
		}
	})
}

func TestIncompleteIgnoresAdvertisementWithoutLinkAddress(t *testing.T) {
	// ND only: ARP always carries the sender's address.
	h := newHarness(t, neigh.FIBConfig{})
	k := toIncomplete(t, h, families[1], []byte("p"))
	h.tab.HandleICMPv6(fibA, port1, macN1, naBytes(t, neigh.NA{Src: v6N, Dst: v6Local, Target: v6N, Solicited: true, Override: true}))
	h.wantState(k, neigh.Incomplete)
	h.wantCounter(fibA, neigh.NARxNoLinkAddr, 1)
}

func TestReachableToStaleAfterReachableTime(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toReachable(t, h, f)
		h.clk.Advance(neigh.ReachableTime - time.Millisecond)
		h.wantState(k, neigh.Reachable)
		h.clk.Advance(time.Millisecond)
		h.wantState(k, neigh.Stale)
		h.wantAdj(k, macN1, adj.Stale) // STALE still forwards; the first packet goes through Resolve
		if s := h.takeSolicits(); len(s) != 0 {
			t.Fatalf("STALE must not probe by itself: %+v", s)
		}
	})
}

func TestReachableToReachableOnSolicitedAdvertisementRestartsTimer(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toReachable(t, h, f)
		h.clk.Advance(neigh.ReachableTime / 2)
		f.advertise(h, fibA, port1, f.neighbor, macN1, true, true)
		h.clk.Advance(neigh.ReachableTime/2 + time.Second)
		if f.name == "arp" {
			// ARP has no S flag: a reply with no request out confirms
			// nothing, so the timer was not restarted.
			h.wantState(k, neigh.Stale)
			return
		}
		h.wantState(k, neigh.Reachable)
	})
}

func TestReachableToStaleOnSolicitationWithNewMAC(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toReachable(t, h, f)
		f.solicit(h, fibA, port1, f.neighbor, macN1)
		h.wantState(k, neigh.Reachable) // same MAC: nothing changes
		f.solicit(h, fibA, port1, f.neighbor, macN2)
		h.wantState(k, neigh.Stale)
		h.wantAdj(k, macN2, adj.Stale)
	})
}

func TestReachableToStaleOnUnsolicitedOverrideAdvertisementWithNewMAC(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toReachable(t, h, f)
		f.advertise(h, fibA, port1, f.neighbor, macN2, false, true)
		h.wantState(k, neigh.Stale)
		h.wantAdj(k, macN2, adj.Stale)
	})
}

func TestReachableToStaleOnNonOverrideAdvertisementWithNewMAC(t *testing.T) {
	// ND only: "set it to STALE, but do not update the entry in any other way".
	h := newHarness(t, neigh.FIBConfig{})
	f := families[1]
	k := toReachable(t, h, f)
	f.advertise(h, fibA, port1, f.neighbor, macN2, true, false)
	h.wantState(k, neigh.Stale)
	h.wantAdj(k, macN1, adj.Stale)
}

func TestStaleIgnoresNonOverrideAdvertisementWithNewMAC(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	f := families[1]
	k := toStale(t, h, f)
	f.advertise(h, fibA, port1, f.neighbor, macN2, true, false)
	h.wantState(k, neigh.Stale)
	h.wantAdj(k, macN1, adj.Stale)
}

func TestStaleToStaleOnSolicitationWithNewMAC(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toStale(t, h, f)
		f.solicit(h, fibA, port1, f.neighbor, macN2)
		h.wantState(k, neigh.Stale)
		h.wantAdj(k, macN2, adj.Stale)
	})
}

func TestStaleToReachableOnSolicitedAdvertisement(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toStale(t, h, f)
		f.advertise(h, fibA, port1, f.neighbor, macN1, true, true)
		if f.name == "arp" {
			h.wantState(k, neigh.Stale) // nobody asked: no confirmation
			return
		}
		h.wantState(k, neigh.Reachable)
	})
}

func TestStaleToDelayWhenPacketQueued(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toStale(t, h, f)
		// The packet is sent at once on the stale MAC, not queued.
		if mac := h.resolve(k, []byte("x"), true); mac != macN1 {
			t.Fatalf("Resolve MAC %v", mac)
		}
		h.wantState(k, neigh.Delay)
		if s := h.takeSolicits(); len(s) != 0 {
			t.Fatalf("DELAY must not probe yet: %+v", s)
		}
		if d := h.env.TakeDelivered(); len(d) != 0 {
			t.Fatalf("packet was queued: %+v", d)
		}
	})
}

func TestDelayToProbeAfterDelayFirstProbeTime(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toDelay(t, h, f)
		h.clk.Advance(neigh.DelayFirstProbeTime - time.Millisecond)
		h.wantState(k, neigh.Delay)
		h.clk.Advance(time.Millisecond)
		h.wantState(k, neigh.Probe)
		s := h.takeSolicits()
		if len(s) != 1 || !s[0].unicast || s[0].dst != macN1 || s[0].target != f.neighbor {
			t.Fatalf("probe %+v, want one unicast to %v", s, macN1)
		}
		if f.name == "nd" && s[0].ipDst != f.neighbor {
			t.Fatalf("unicast NS to %v", s[0].ipDst)
		}
		h.wantAdj(k, macN1, adj.Valid) // PROBE still forwards
	})
}

func TestDelayToReachableOnSolicitedAdvertisement(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toDelay(t, h, f)
		f.advertise(h, fibA, port1, f.neighbor, macN1, true, true)
		if f.name == "arp" {
			// DELAY has sent nothing yet: the reply is not an answer,
			// and the probe goes out as planned.
			h.wantState(k, neigh.Delay)
			h.clk.Advance(neigh.DelayFirstProbeTime)
			h.wantState(k, neigh.Probe)
			return
		}
		h.wantState(k, neigh.Reachable)
		h.clk.Advance(neigh.DelayFirstProbeTime)
		h.wantState(k, neigh.Reachable)
	})
}

func TestDelayToReachableOnUpperLayerConfirmation(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toDelay(t, h, f)
		h.tab.Confirm(k)
		h.wantState(k, neigh.Reachable)
	})
}

func TestProbeRetransmitsUnicastAfterRetransTimer(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toProbe(t, h, f)
		h.takeSolicits()
		for i := 2; i <= neigh.MaxUnicastSolicit; i++ {
			h.clk.Advance(neigh.RetransTimer)
			if s := h.takeSolicits(); len(s) != 1 || !s[0].unicast || s[0].dst != macN1 {
				t.Fatalf("probe %d: %+v", i, s)
			}
			h.wantState(k, neigh.Probe)
		}
	})
}

func TestProbeToFailedAfterMaxUnicastSolicit(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toProbe(t, h, f)
		h.clk.Advance(neigh.MaxUnicastSolicit*neigh.RetransTimer - time.Millisecond)
		h.wantState(k, neigh.Probe)
		h.clk.Advance(time.Millisecond)
		h.wantState(k, neigh.Failed)
		h.wantAdj(k, adj.MAC{}, adj.Failed)
	})
}

func TestProbeToReachableOnSolicitedAdvertisement(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toProbe(t, h, f)
		f.advertise(h, fibA, port1, f.neighbor, macN1, true, true)
		h.wantState(k, neigh.Reachable)
		h.clk.Advance(neigh.MaxUnicastSolicit * neigh.RetransTimer)
		h.wantState(k, neigh.Reachable)
	})
}

func TestFailedToIncompleteWhenPacketQueued(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toFailed(t, h, f)
		h.resolve(k, []byte("again"), false)
		h.wantState(k, neigh.Incomplete)
		if s := h.takeSolicits(); len(s) != 1 || s[0].unicast {
			t.Fatalf("restart solicitations %+v", s)
		}
		f.advertise(h, fibA, port1, f.neighbor, macN1, true, true)
		if d := h.env.TakeDelivered(); len(d) != 1 || string(d[0].Pkts[0]) != "again" {
			t.Fatalf("Deliver calls %+v", d)
		}
	})
}

func TestFailedToStaleOnSolicitation(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toFailed(t, h, f)
		f.solicit(h, fibA, port1, f.neighbor, macN1)
		h.wantState(k, neigh.Stale)
		h.wantAdj(k, macN1, adj.Stale)
	})
}

func TestFailedToNoneAfterFailedLifetime(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toFailed(t, h, f)
		h.clk.Advance(neigh.DefaultFailedLifetime)
		if _, _, ok := h.tab.Lookup(k); ok {
			t.Fatal("FAILED entry outlived FailedLifetime")
		}
		if _, ok := h.adjs.Lookup(k); ok {
			t.Fatal("adjacency reference not released")
		}
	})
}

func TestNoneToStaleOnSolicitationForUs(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := key(fibA, port1, f.neighbor)
		f.solicit(h, fibA, port1, f.neighbor, macN1)
		h.wantState(k, neigh.Stale)
		h.wantAdj(k, macN1, adj.Stale)
		if n := len(h.env.TakeFrames()); n != 1 {
			t.Fatalf("%d replies, want 1", n)
		}
	})
}

func TestNoneStaysNoneOnUnsolicitedAdvertisement(t *testing.T) {
	// RFC 826 merge rule / RFC 4861 §7.2.5: no entry is created by an
	// announcement that does not target us.
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := key(fibA, port1, f.neighbor)
		f.advertise(h, fibA, port1, f.neighbor, macN1, false, true)
		h.wantState(k, neigh.None)
		c := neigh.ARPRxUnsolicited
		if f.name == "nd" {
			c = neigh.NARxNoEntry
		}
		h.wantCounter(fibA, c, 1)
	})
}

func TestNoneToStaleOnARPReplyForUsWithARPAccept(t *testing.T) {
	// With arp_accept, a reply that targets one of our addresses is
	// learned without a request outstanding (off by default: see
	// TestUnsolicitedARPReplyCreatesNothing).
	h := newHarness(t, neigh.FIBConfig{ARPAccept: true})
	k := key(fibA, port1, v4N)
	families[0].advertise(h, fibA, port1, v4N, macN1, true, true)
	h.wantState(k, neigh.Stale)
}

func TestIncompleteToPermanentOnAddStatic(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := toIncomplete(t, h, f, []byte("p"))
		if err := h.tab.AddStatic(k, macN3); err != nil {
			t.Fatal(err)
		}
		h.wantState(k, neigh.Permanent)
		h.wantAdj(k, macN3, adj.Valid)
		if d := h.env.TakeDelivered(); len(d) != 1 || d[0].MAC != macN3 {
			t.Fatalf("Deliver calls %+v", d)
		}
		h.clk.Advance(time.Hour)
		h.wantState(k, neigh.Permanent)
	})
}

func TestPermanentIgnoresSolicitationsAndAdvertisements(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		h := newHarness(t, neigh.FIBConfig{})
		k := key(fibA, port1, f.neighbor)
		if err := h.tab.AddStatic(k, macN3); err != nil {
			t.Fatal(err)
		}
		f.solicit(h, fibA, port1, f.neighbor, macN1)
		f.advertise(h, fibA, port1, f.neighbor, macN2, true, true)
		f.advertise(h, fibA, port1, f.neighbor, macN2, false, true)
		h.wantState(k, neigh.Permanent)
		h.wantAdj(k, macN3, adj.Valid)
	})
}

func TestReachableTimeIsRandomised(t *testing.T) {
	for _, tc := range []struct {
		r    float64
		want time.Duration
	}{{0, neigh.ReachableTime / 2}, {0.999999, neigh.ReachableTime * 3 / 2}} {
		h := newHarness(t, neigh.FIBConfig{})
		tab, err := neigh.New(neigh.Config{Adj: h.adjs, Env: h.env, Clock: h.clk, Rand: randConst(tc.r)})
		if err != nil {
			t.Fatal(err)
		}
		h.tab = tab
		k := toReachable(t, h, families[0])
		d, ok := h.clk.NextIn()
		if !ok || d < tc.want-time.Millisecond || d > tc.want {
			t.Fatalf("rand %v: reachable timer in %v, want ≈%v", tc.r, d, tc.want)
		}
		h.clk.Advance(d)
		h.wantState(k, neigh.Stale)
	}
}

type randConst float64

func (r randConst) Float64() float64 { return float64(r) }

func TestPerFIBTimersOverrideRFCDefaults(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	if err := h.tab.SetConfig(fibA, neigh.FIBConfig{RetransTimer: 100 * time.Millisecond, MaxMulticastSolicit: 5}); err != nil {
		t.Fatal(err)
	}
	k := toIncomplete(t, h, families[0], []byte("p"))
	h.clk.Advance(400 * time.Millisecond)
	if n := len(h.takeSolicits()); n != 4 {
		t.Fatalf("%d retransmissions in 400ms, want 4", n)
	}
	h.clk.Advance(100 * time.Millisecond)
	h.wantState(k, neigh.Failed)
	if err := h.tab.SetConfig(fibA, neigh.FIBConfig{RetransTimer: -1}); err == nil {
		t.Fatal("negative timer accepted")
	}
	// FIB 20 still has the RFC defaults.
	if c := h.tab.Config(fibB); c.RetransTimer != neigh.RetransTimer || c.MaxMulticastSolicit != 3 {
		t.Fatalf("fib B config %+v", c)
	}
}

func TestQueuedPacketIsACopy(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	buf := []byte("original")
	k := toIncomplete(t, h, families[0], buf)
	copy(buf, "XXXXXXXX") // the RX buffer goes back to the ring
	families[0].advertise(h, fibA, port1, v4N, macN1, true, true)
	d := h.env.TakeDelivered()
	if len(d) != 1 || !bytes.Equal(d[0].Pkts[0], []byte("original")) {
		t.Fatalf("delivered %q", d[0].Pkts)
	}
	_ = k
}
