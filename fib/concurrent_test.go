package fib_test

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gaissmai/bart"

	"github.com/fibd/fibd/bench/fibbench"
	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/fib"
)

// TestReadersDuringBulkBatches has readers look up continuously while a
// writer re-points every route of the full table, one batch of 615k routes
// per version. Version v maps every route to next hop (index+v-1) mod 16, so
// a reader can tell which version each answer came from: it must be a
// version published between the reader's Version() calls before and after
// the lookup — never a mix, never a miss for a covered address.
func TestReadersDuringBulkBatches(t *testing.T) {
	v4, err := tables.LoadV4()
	if err != nil {
		t.Fatal(err)
	}
	batches := 3
	if testing.Short() {
		v4 = v4[:len(v4)/8]
	}
	ref := new(bart.Table[int])
	for _, r := range v4 {
		ref.Insert(r.Prefix, r.NextHop)
	}
	probes := tables.Probes(v4, 1<<14, 3)
	base := make([]int, len(probes)) // -1: not covered
	for i, a := range probes {
		if h, ok := ref.Lookup(a); ok {
			base[i] = h
		} else {
			base[i] = -1
		}
	}
	hops := fibbench.Hops(false)
	batch := func(shift int) []fib.Change {
		ch := make([]fib.Change, len(v4))
		for i, r := range v4 {
			ch[i] = fib.Change{Op: fib.OpAdd, Route: fib.Route{Prefix: r.Prefix, Source: "bench", Paths: hops[(r.NextHop+shift)%16]}}
		}
		return ch
	}
	_, f := fibbench.NewFIB()
	if _, err := f.Apply(batch(0)); err != nil {
		t.Fatal(err)
	}
	first := f.Version()

	var stop atomic.Bool
	var wg sync.WaitGroup
	var lookups atomic.Int64
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; !stop.Load(); i = (i + 7) % len(probes) {
				v1 := f.Version()
				n := f.Lookup(probes[i])
				v2 := f.Version()
				lookups.Add(1)
				if base[i] < 0 {
					if n.Kind != fib.NextMiss {
						t.Errorf("%v: uncovered address got %v", probes[i], n.Kind)
						return
					}
					continue
				}
				if n.Kind != fib.NextGateway {
					t.Errorf("%v: got %v between versions %d and %d", probes[i], n.Kind, v1, v2)
					return
				}
				got := int(n.Paths[0].Gateway.As4()[3]) - 1
				ok := false
				for v := v1; v <= v2; v++ {
					if (base[i]+int(v-first))%16 == got {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%v: next hop %d is from no version in [%d, %d] (base %d)", probes[i], got, v1, v2, base[i])
					return
				}
			}
		}(g)
	}
	for shift := 1; shift <= batches; shift++ {
		if _, err := f.Apply(batch(shift)); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if lookups.Load() == 0 {
		t.Fatal("readers did not run")
	}
	t.Logf("%d lookups across %d versions of %d routes", lookups.Load(), batches+1, len(v4))
}

// TestLookupAllocatesNothing proves the forwarding lookup is allocation-free.
func TestLookupAllocatesNothing(t *testing.T) {
	_, f := fibbench.NewFIB()
	v4, _ := tables.LoadV4()
	v6, _ := tables.LoadV6()
	if err := fibbench.Apply(f, fibbench.Changes(append(v4[:20000:20000], v6[:20000]...), fib.OpAdd), 4096); err != nil {
		t.Fatal(err)
	}
	a4, a6 := netip.MustParseAddr("1.0.0.1"), netip.MustParseAddr("2001:db8::1")
	k4, k6 := a4.As4(), a6.As16()
	var sink fib.NextKind
	batch := tables.Probes(append(v4[:1000:1000], v6[:1000]...), 64, 1)
	out := make([]*fib.Next, len(batch))
	if n := testing.AllocsPerRun(1000, func() {
		sink += f.Lookup(a4).Kind + f.Lookup(a6).Kind + f.Lookup4(k4).Kind + f.Lookup6(k6).Kind
		f.LookupBatch(batch, out)
	}); n != 0 {
		t.Fatalf("lookup allocates %v times", n)
	}
	_ = sink
}
