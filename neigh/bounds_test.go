package neigh_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/neigh"
)

func TestQueuePerEntryDropsOldest(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{QueuePerEntry: 3})
	k := key(fibA, port1, v4N)
	for i := range 5 {
		h.tab.Resolve(k, []byte{byte(i)})
	}
	h.wantCounter(fibA, neigh.QueueDropEntryFull, 2)
	if e, _ := h.entry(k); e.Queued != 3 {
		t.Fatalf("queued %d", e.Queued)
	}
	families[0].advertise(h, fibA, port1, v4N, macN1, true, true)
	d := h.env.TakeDelivered()
	if len(d) != 1 || len(d[0].Pkts) != 3 || d[0].Pkts[0][0] != 2 || d[0].Pkts[1][0] != 3 || d[0].Pkts[2][0] != 4 {
		t.Fatalf("delivered %v, want the newest three in order", d)
	}
	h.wantCounter(fibA, neigh.QueueDelivered, 3)
}

func TestQueuePerFIBDropsNewPackets(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{QueuePerEntry: 3, QueuePerFIB: 4})
	k1, k2 := key(fibA, port1, v4N), key(fibA, port1, netip.MustParseAddr("192.0.2.3"))
	for i := range 3 {
		h.tab.Resolve(k1, []byte{1, byte(i)})
		h.tab.Resolve(k2, []byte{2, byte(i)})
	}
	h.wantCounter(fibA, neigh.QueueDropFIBFull, 2)
	st := h.tab.Stats().FIBs[0]
	if st.QueuedPackets != 4 {
		t.Fatalf("queued %d, want 4", st.QueuedPackets)
	}
	// FIB B's budget is its own.
	for i := range 3 {
		h.tab.Resolve(key(fibB, port2, v4N), []byte{byte(i)})
	}
	h.wantCounter(fibB, neigh.QueueDropFIBFull, 0)
}

func TestQueueBytesPerFIBBound(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{QueueBytesPerFIB: 100})
	k := key(fibA, port1, v4N)
	h.tab.Resolve(k, make([]byte, 60))
	h.tab.Resolve(k, make([]byte, 60))
	h.tab.Resolve(k, make([]byte, 40))
	h.wantCounter(fibA, neigh.QueueDropFIBBytes, 1)
	if st := h.tab.Stats().FIBs[0]; st.QueuedBytes != 100 || st.QueuedPackets != 2 {
		t.Fatalf("queued %d packets, %d bytes", st.QueuedPackets, st.QueuedBytes)
	}
}

func TestQueueDroppedWhenEntryRemoved(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	k := key(fibA, port1, v6N)
	h.tab.Resolve(k, []byte("a"))
	h.tab.Resolve(k, []byte("b"))
	h.tab.Flush(fibA, adj.NoPort)
	h.wantCounter(fibA, neigh.QueueDropRemoved, 2)
	if st := h.tab.Stats().FIBs[0]; st.QueuedPackets != 0 || st.QueuedBytes != 0 {
		t.Fatalf("queue totals not returned: %+v", st)
	}
	if len(h.env.TakeDelivered())+len(h.env.TakeUnreachable()) != 0 {
		t.Fatal("removed queue handed back")
	}
}

// addr4 numbers neighbours in 192.0.2.0/24.
func addr4(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}) }

func TestTableBoundEvictsFailedThenIncompleteThenStaleThenOldest(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{MaxEntries: 4})
	f := families[0]
	kA, kB, kC, kD := key(fibA, port1, addr4(0)), key(fibA, port1, addr4(1)), key(fibA, port1, addr4(2)), key(fibA, port1, addr4(3))
	// A: REACHABLE, the oldest.
	h.tab.Resolve(kA, nil)
	f.advertise(h, fibA, port1, kA.Addr, macN1, true, true)
	// B: STALE, learned from its request.
	f.solicit(h, fibA, port1, kB.Addr, macN2)
	// C: will be FAILED. D: INCOMPLETE, the newest.
	h.tab.Resolve(kC, nil)
	h.clk.Advance(neigh.RetransTimer)
	h.tab.Resolve(kD, nil)
	h.clk.Advance(2 * neigh.RetransTimer)
	h.wantState(kC, neigh.Failed)
	h.wantState(kD, neigh.Incomplete)
	// A is REACHABLE for 30 s, so still active; a static entry does not count.
	h.tab.AddStatic(key(fibA, port1, addr4(100)), macN3)

	// FAILED first, then INCOMPLETE strangers (what a scan leaves), then
	// STALE, then the oldest of the rest. Each newcomer is answered at once
	// (REACHABLE), so it is not the next INCOMPLETE victim itself.
	order := []adj.Key{kC, kD, kB, kA}
	for i, victim := range order {
		k := key(fibA, port1, addr4(20+i))
		h.tab.Resolve(k, nil)
		h.wantState(k, neigh.Incomplete)
		f.advertise(h, fibA, port1, k.Addr, macN2, true, true)
		h.wantState(k, neigh.Reachable)
		if _, _, ok := h.tab.Lookup(victim); ok {
			t.Fatalf("step %d: %v not evicted", i, victim)
		}
		if _, ok := h.adjs.Lookup(victim); ok {
			t.Fatalf("step %d: evicted %v kept its adjacency", i, victim)
		}
		for _, later := range order[i+1:] {
			if _, _, ok := h.tab.Lookup(later); !ok {
				t.Fatalf("step %d: %v evicted before %v", i, later, victim)
			}
		}
	}
	h.wantCounter(fibA, neigh.Evictions, 4)
	st := h.tab.Stats().FIBs[0]
	if st.Dynamic != 4 || st.Static != 1 {
		t.Fatalf("dynamic %d static %d", st.Dynamic, st.Static)
	}
	h.wantState(key(fibA, port1, addr4(100)), neigh.Permanent)
}

func TestStaticEntriesExemptFromMaxEntries(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{MaxEntries: 2})
	for i := range 10 {
		if err := h.tab.AddStatic(key(fibA, port1, addr4(i)), macN1); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		h.tab.Resolve(key(fibA, port1, addr4(50+i)), nil)
	}
	st := h.tab.Stats().FIBs[0]
	if st.Static != 10 || st.Dynamic != 2 {
		t.Fatalf("static %d dynamic %d", st.Static, st.Dynamic)
	}
	h.wantCounter(fibA, neigh.Evictions, 1)
}

func TestLoweringMaxEntriesEvictsAtOnce(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	for i := range 10 {
		h.tab.Resolve(key(fibA, port1, addr4(i)), nil)
	}
	if err := h.tab.SetConfig(fibA, neigh.FIBConfig{MaxEntries: 3}); err != nil {
		t.Fatal(err)
	}
	if st := h.tab.Stats().FIBs[0]; st.Dynamic != 3 {
		t.Fatalf("dynamic %d after lowering the bound", st.Dynamic)
	}
	// The newest survive.
	for i := 7; i < 10; i++ {
		h.wantState(key(fibA, port1, addr4(i)), neigh.Incomplete)
	}
}

func TestManyEntriesPerFIBAreIsolated(t *testing.T) {
	// Enough entries to grow the index several times, in two FIBs with the
	// same addresses.
	h := newHarness(t, neigh.FIBConfig{})
	const n = 2000
	mac := func(fib adj.FIBID, i int) adj.MAC { return adj.MAC{0x02, byte(fib), 0, byte(i >> 8), byte(i), 1} }
	v6 := func(i int) netip.Addr {
		return netip.MustParseAddr(fmt.Sprintf("2001:db8:1::%x", i+100))
	}
	for i := range n {
		h.tab.AddStatic(key(fibA, port1, v6(i)), mac(fibA, i))
		h.tab.AddStatic(key(fibB, port2, v6(i)), mac(fibB, i))
	}
	for i := range n {
		if i%2 == 0 {
			h.tab.DeleteStatic(key(fibA, port1, v6(i)))
		}
	}
	for i := range n {
		m, _, ok := h.tab.Lookup(key(fibA, port1, v6(i)))
		if ok != (i%2 == 1) || (ok && m != mac(fibA, i)) {
			t.Fatalf("fib A %d: %v %v", i, m, ok)
		}
		if m, _, ok := h.tab.Lookup(key(fibB, port2, v6(i))); !ok || m != mac(fibB, i) {
			t.Fatalf("fib B %d: %v %v", i, m, ok)
		}
	}
}
