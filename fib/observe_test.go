package fib

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/fibd/fibd/fib/adj"
)

// mirror is what a forwarding observer keeps: it must answer every lookup
// as the FIB's own snapshot does, after any sequence of batches.
type mirror struct {
	routes  map[netip.Prefix]uint32
	entries map[uint32]*Next
}

func (m *mirror) apply(d *Forwarding) {
	if d.Full || d.Deleted {
		m.routes = map[netip.Prefix]uint32{}
		m.entries = map[uint32]*Next{}
	}
	for _, r := range d.Routes {
		if r.Entry == 0 {
			delete(m.routes, r.Prefix)
		} else {
			m.routes[r.Prefix] = r.Entry
		}
	}
	for _, e := range d.Entries {
		if e.Next == nil {
			delete(m.entries, e.Entry)
		} else {
			m.entries[e.Entry] = e.Next
		}
	}
}

func (m *mirror) lookup(t *testing.T, a netip.Addr) *Next {
	for bits := a.BitLen(); bits >= 0; bits-- {
		p, _ := a.Prefix(bits)
		if e, ok := m.routes[p]; ok {
			n := m.entries[e]
			if n == nil {
				t.Fatalf("mirror: %v references entry %d, which it does not have", p, e)
			}
			return n
		}
	}
	return missNext
}

// TestForwardingObserverMirrors drives random batches from two sources of
// different preference — adds, replaces, deletes, path-set changes shared
// by many routes — and requires the observer's copy to answer every probe
// as the FIB does, with the same entry object.
func TestForwardingObserverMirrors(t *testing.T) {
	reg := NewRegistry(Options{})
	f, _ := reg.Get(adj.DefaultFIB)
	if err := reg.BindPort(1, adj.DefaultFIB); err != nil {
		t.Fatal(err)
	}
	if err := f.AddAddress(1, netip.MustParsePrefix("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := f.AddAddress(1, netip.MustParsePrefix("2001:db8::1/64")); err != nil {
		t.Fatal(err)
	}
	var m mirror
	var batches int
	stop := reg.ObserveForwarding(func(d *Forwarding) {
		if d.FIB == adj.DefaultFIB {
			m.apply(d)
			batches++
		}
	})
	defer stop()
	if len(m.routes) == 0 {
		t.Fatal("the initial full state listed no routes (the connected ones exist)")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	gw4 := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.12")}
	gw6 := []netip.Addr{netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8::11")}
	prefix := func() netip.Prefix {
		if rng.IntN(3) == 0 {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x10, byte(rng.IntN(4)), byte(rng.IntN(4))})
			p, _ := a.Prefix(40 + rng.IntN(17))
			return p
		}
		a := netip.AddrFrom4([4]byte{198, 18 + byte(rng.IntN(2)), byte(rng.IntN(8)), byte(rng.IntN(4))})
		p, _ := a.Prefix(14 + rng.IntN(19))
		return p
	}
	paths := func(p netip.Prefix) []Path {
		gws := gw4
		if p.Addr().Is6() {
			gws = gw6
		}
		switch rng.IntN(5) {
		case 0:
			return []Path{{Kind: PathBlackhole}}
		case 1:
			return []Path{{Kind: PathGateway, Gateway: gws[0]}, {Kind: PathGateway, Gateway: gws[1]}}
		}
		return []Path{{Kind: PathGateway, Gateway: gws[rng.IntN(len(gws))]}}
	}
	for round := 0; round < 200; round++ {
		var cs []Change
		for range 1 + rng.IntN(30) {
			p := prefix()
			src, pref := "a", Preference(10)
			if rng.IntN(2) == 0 {
				src, pref = "b", 20
			}
			op := OpAdd
			if rng.IntN(3) == 0 {
				op = OpDelete
			}
			cs = append(cs, Change{Op: op, Route: Route{Prefix: p, Source: src, Preference: pref, Paths: paths(p)}})
		}
		// Deletes of routes that are not there fail the batch; apply each
		// change alone so a failure changes nothing and the rest still runs.
		for _, c := range cs {
			f.Apply([]Change{c})
		}
		for range 64 {
			var a netip.Addr
			if rng.IntN(3) == 0 {
				a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x10, byte(rng.IntN(4)), byte(rng.IntN(4)), byte(rng.Uint32())})
			} else {
				a = netip.AddrFrom4([4]byte{198, 18 + byte(rng.IntN(2)), byte(rng.IntN(8)), byte(rng.Uint32())})
			}
			if got, want := m.lookup(t, a), f.Lookup(a); got != want {
				t.Fatalf("round %d: %v: mirror gives %+v, FIB %+v", round, a, got, want)
			}
		}
	}
	if batches < 100 {
		t.Fatalf("observer saw %d publications", batches)
	}
	if err := reg.Delete(adj.DefaultFIB); err == nil {
		t.Fatal("deleted the default FIB")
	}
	g, _ := reg.Create(7)
	var deleted bool
	stop()
	reg.ObserveForwarding(func(d *Forwarding) { deleted = deleted || d.FIB == 7 && d.Deleted })
	_ = g
	if err := reg.Delete(7); err != nil || !deleted {
		t.Fatalf("delete of FIB 7: err %v, observer told %v", err, deleted)
	}
}
