package neigh_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/neigh"
)

// Tests of what a scan or a flood from the network may cost: a few
// solicitations and strangers' entries, never a live neighbour that routes
// use.

// stranger returns the i-th unused address of port 1's IPv6 subnet.
func stranger(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 10: byte(i >> 24), 11: byte(i >> 16), 12: byte(i >> 8), 13: byte(i), 15: 0x99})
}

// answerProbes plays a live neighbour: every solicitation neigh sent for
// k's address is answered at once with a solicited advertisement. It
// returns how many it answered.
func answerProbes(h *harness, k adj.Key, f family) int {
	n := 0
	for _, s := range h.takeSolicits() {
		if s.target == k.Addr && s.port == k.Port {
			f.advertise(h, k.FIB, k.Port, k.Addr, macN1, true, true)
			n++
		}
	}
	return n
}

// TestScanDoesNotFailALiveGateway: an evenly paced scan of new
// destinations, six times what the FIB's solicitation budget allows,
// empties it, while the gateway — an entry a route uses, whose
// reachability is re-checked every ReachableTime — must keep being asked
// about, and stay alive. (The budget is scaled down, 50/s, so that the
// test runs a scan of 300 destinations/s; the default's 200/s falls the
// same way to the 1,000/s the issue measured.)
func TestScanDoesNotFailALiveGateway(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			// A table bound of 1,024 keeps the scan's INCOMPLETE entries,
			// each retrying every second, cheap to simulate.
			h := newHarness(t, neigh.FIBConfig{SolicitRate: 50, SolicitBurst: 25, MaxEntries: 1024})
			gw := toReachable(t, h, f)
			h.adjs.Acquire(gw) // a route through the gateway
			sub := h.tab.Subscribe(1 << 16)
			defer sub.Close()
			failed := func() bool {
				for {
					select {
					case ev := <-sub.C:
						if ev.Entry.Key == gw && (ev.Entry.State == neigh.Failed || ev.Kind == neigh.EventRemoved) {
							return true
						}
					default:
						return false
					}
				}
			}
			answered := 0
			// 300 new destinations a second, evenly paced, with a step that
			// is not a whole number of milliseconds, so the scan's
			// solicitations and the gateway's timers do not fall into
			// lockstep (a scan in lockstep leaves tokens between its steps
			// and hides the bug).
			const step = 3331 * time.Microsecond
			for i := 0; i < 27_000; i++ { // 90 s
				h.tab.Resolve(key(fibA, port1, stranger(i)), []byte("scan"))
				if i%3 == 0 {
					h.tab.Resolve(gw, []byte("traffic")) // the gateway's own traffic
					answered += answerProbes(h, gw, f)
					if failed() {
						t.Fatalf("after %d scan steps the gateway went FAILED (%d probes answered)", i, answered)
					}
				}
				h.clk.Advance(step)
			}
			// REACHABLE for 30 s, DELAY 5 s, then PROBE: two checks in 90 s.
			if answered < 2 {
				t.Fatalf("the gateway was probed %d times in 90 s: its reachability was never checked", answered)
			}
			if h.counter(fibA, neigh.SolicitRateLimited) == 0 {
				t.Fatal("the scan never hit the budget: the test proves nothing")
			}
		})
	}
}

// TestSuppressedSolicitationIsNotATry: a neighbour whose solicitations the
// budget held back has not been asked, so it is not FAILED; it fails only
// after MaxMulticastSolicit solicitations really went out.
func TestSuppressedSolicitationIsNotATry(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	if err := h.tab.SetConfig(fibA, neigh.FIBConfig{SolicitBurst: 1, SolicitRate: 0.001, ReservedSolicitBurst: 1, ReservedSolicitRate: 0.001}); err != nil {
		t.Fatal(err)
	}
	h.tab.Resolve(key(fibA, port1, stranger(1)), []byte("x")) // takes the one token
	k := key(fibA, port1, stranger(2))
	h.tab.Resolve(k, []byte("y"))
	h.takeSolicits()
	h.clk.Advance(10 * neigh.RetransTimer)
	if st := h.state(k); st != neigh.Incomplete {
		t.Fatalf("a neighbour never solicited is %v, want INCOMPLETE", st)
	}
	if n := len(h.takeSolicits()); n != 0 {
		t.Fatalf("%d solicitations with an empty budget", n)
	}
}

// TestFloodDoesNotEvictReferencedEntries: at the FIB's bound, a flood of
// new senders evicts strangers, never the gateway a route uses — even when
// the gateway is the oldest STALE entry.
func TestFloodDoesNotEvictReferencedEntries(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			h := newHarness(t, neigh.FIBConfig{MaxEntries: 8})
			gw := toStale(t, h, f)
			h.adjs.Acquire(gw)
			for i := 0; i < 200; i++ {
				from := stranger(i)
				if f.name == "arp" {
					from = netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i%200)})
				}
				f.solicit(h, fibA, port1, from, adj.MAC{0x02, 0xee, 0, 0, byte(i >> 8), byte(i)})
				if h.state(gw) == neigh.None {
					t.Fatalf("after %d flood senders the gateway was evicted", i+1)
				}
			}
			if st := h.tab.Stats().FIBs[0]; st.Dynamic > 8 {
				t.Fatalf("%d dynamic entries, bound 8", st.Dynamic)
			}
			if h.counter(fibA, neigh.Evictions) == 0 {
				t.Fatal("nothing was evicted: the test proves nothing")
			}
		})
	}
}

// TestUnsolicitedARPReplyCreatesNothing follows Linux's arp_accept=0: an
// ARP reply the router did not ask for creates no entry.
func TestUnsolicitedARPReplyCreatesNothing(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	families[0].advertise(h, fibA, port1, v4N, macN1, true, true) // a reply to us, never asked
	if _, ok := h.entry(key(fibA, port1, v4N)); ok {
		t.Fatal("an unsolicited ARP reply created an entry")
	}
	// With arp_accept on, it creates a STALE one.
	if err := h.tab.SetConfig(fibA, neigh.FIBConfig{ARPAccept: true}); err != nil {
		t.Fatal(err)
	}
	families[0].advertise(h, fibA, port1, v4N, macN1, true, true)
	h.wantState(key(fibA, port1, v4N), neigh.Stale)
}

// TestUnsolicitedARPReplyIsNoConfirmation: an ARP reply to an entry the
// router has no request out for updates it to STALE (with the new MAC), it
// does not confirm it REACHABLE; a reply while INCOMPLETE or PROBE answers
// the router's request.
func TestUnsolicitedARPReplyIsNoConfirmation(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	k := toStale(t, h, families[0])
	families[0].advertise(h, fibA, port1, v4N, macN2, true, true)
	h.wantState(k, neigh.Stale)
	h.wantAdj(k, macN2, adj.Stale)
	// FAILED: nobody asked either.
	h2 := newHarness(t, neigh.FIBConfig{})
	k2 := key(fibA, port1, v4N)
	h2.tab.Resolve(k2, []byte("x"))
	h2.clk.Advance(4 * neigh.RetransTimer)
	h2.wantState(k2, neigh.Failed)
	families[0].advertise(h2, fibA, port1, v4N, macN1, true, true)
	h2.wantState(k2, neigh.Stale)
}

// TestNAWithoutOverrideChangesNothingElse: RFC 4861 §7.2.5 — an NA with O=0
// whose link-layer address differs leaves the entry alone (REACHABLE only
// goes STALE); not even its router flag changes.
func TestNAWithoutOverrideChangesNothingElse(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	k := toReachable(t, h, families[1])
	h.tab.HandleICMPv6(fibA, port1, macN2, naBytes(t, neigh.NA{Src: v6N, Dst: v6Local, Target: v6N, Router: true,
		Solicited: true, Override: false, TargetLL: macN2, HasTargetLL: true}))
	e, _ := h.entry(k)
	if e.State != neigh.Stale || e.MAC != macN1 || e.Router {
		t.Fatalf("after an O=0 NA with another MAC: %v %v router=%v, want STALE %v router=false", e.State, e.MAC, e.Router, macN1)
	}
}

// TestStaleEntriesAreCollected: an unreferenced STALE entry is removed
// after GCStaleTime (Linux's gc_stale_time); one a route uses stays.
func TestStaleEntriesAreCollected(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{GCStaleTime: time.Minute})
	k := toStale(t, h, families[0])
	used := key(fibA, port1, netip.MustParseAddr("192.0.2.3"))
	h.tab.Resolve(used, []byte("x"))
	families[0].advertise(h, fibA, port1, used.Addr, macN2, true, true)
	h.adjs.Acquire(used)
	h.clk.Advance(neigh.ReachableTime)
	h.wantState(used, neigh.Stale)
	h.clk.Advance(time.Minute)
	if _, ok := h.entry(k); ok {
		t.Fatal("an unreferenced STALE entry outlived GCStaleTime")
	}
	h.wantState(used, neigh.Stale)
}

// TestAnnounceSendsGratuitousARPAndUnsolicitedNA: when an address is added
// or its port comes up, the router tells the link (RFC 5227 gratuitous
// ARP; RFC 4861 §7.2.6 unsolicited NA to all-nodes with O=1).
func TestAnnounceSendsGratuitousARPAndUnsolicitedNA(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	h.tab.Announce(fibA, port1, v4Local)
	h.tab.Announce(fibA, port1, v6Local)
	frames := h.env.TakeFrames()
	if len(frames) != 2 {
		t.Fatalf("%d frames, want a gratuitous ARP and an NA", len(frames))
	}
	a, err := neigh.ParseARP(frames[0].Payload)
	if err != nil || !a.Gratuitous() || a.SenderIP != v4Local || a.SenderMAC != macPort1 || frames[0].Dst != neigh.BroadcastMAC {
		t.Fatalf("gratuitous ARP %+v %v to %v", a, err, frames[0].Dst)
	}
	na, err := neigh.ParseNA(frames[1].Payload)
	if err != nil || na.Target != v6Local || na.Dst != neigh.AllNodes || !na.Override || na.Solicited || na.TargetLL != macPort1 {
		t.Fatalf("unsolicited NA %+v %v", na, err)
	}
}
