package control_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib"
)

func gatewaySets() []*fibdpb.PathSet {
	sets := make([]*fibdpb.PathSet, tables.NextHops)
	for i := range sets {
		sets[i] = &fibdpb.PathSet{Paths: []*fibdpb.Path{via(netipAddr4(192, 0, 2, byte(2+i)))}}
	}
	return sets
}

func TestResyncRemovesExactlyTheStaleRoutes(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	load := func(prefixes []string, source string) {
		t.Helper()
		var rs []client.Route
		for _, p := range prefixes {
			rs = append(rs, client.Route{Prefix: mustPrefix(p)})
		}
		_, err := client.Load(e.ctx, e.c, gatewaySets(), rs, client.LoadOptions{FIB: 10, Source: source, Batch: 64})
		e.must(err)
	}
	old := nets(0, 1000)
	load(old, "bgp")
	load(nets(0, 10), "other") // same prefixes, another source: untouched
	_, err := e.c.BeginResync(e.ctx, &fibdpb.BeginResyncRequest{FibId: 10, Source: "bgp"})
	e.must(err)
	// Re-push every third old prefix and 100 new ones.
	var again []string
	keep := map[string]bool{}
	for i, p := range old {
		if i%3 == 0 {
			again = append(again, p)
			keep[p] = true
		}
	}
	for _, p := range nets(1000, 100) {
		again = append(again, p)
		keep[p] = true
	}
	load(again, "bgp")
	resp, err := e.c.EndResync(e.ctx, &fibdpb.EndResyncRequest{FibId: 10, Source: "bgp"})
	e.must(err)
	if want := uint64(1000 - 334); resp.GetRemoved() != want {
		t.Fatalf("removed %d, want %d", resp.GetRemoved(), want)
	}
	got := e.routes(&fibdpb.ListRoutesRequest{FibId: u32(10), Source: "bgp"})
	if len(got) != len(keep) {
		t.Fatalf("%d bgp routes left, want %d", len(got), len(keep))
	}
	for _, r := range got {
		if !keep[r.GetPrefix()] {
			t.Fatalf("stale %s survived", r.GetPrefix())
		}
	}
	if n := len(e.routes(&fibdpb.ListRoutesRequest{FibId: u32(10), Source: "other"})); n != 10 {
		t.Fatalf("other source lost routes: %d left", n)
	}
	if _, err := e.c.EndResync(e.ctx, &fibdpb.EndResyncRequest{FibId: 10, Source: "bgp"}); codeOf(err) != codes.FailedPrecondition {
		t.Fatalf("second EndResync: %v", err)
	}
}

// TestResyncNeverBlackholesASurvivingPrefix loads the full IPv4 table
// (the shipped 615,151 routes; a 20,000-route sample with -short), then
// resyncs it with every tenth route dropped while readers look up an
// address in every surviving prefix in the forwarding structure, over and
// over: none may ever miss, during the re-push or the sweep.
func TestResyncNeverBlackholesASurvivingPrefix(t *testing.T) {
	v4, err := tables.LoadV4()
	if err != nil {
		t.Fatal(err)
	}
	if testing.Short() {
		v4 = v4[:20000]
	}
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	all := make([]client.Route, len(v4))
	var survivors []client.Route
	for i, r := range v4 {
		all[i] = client.Route{Prefix: r.Prefix, PathSet: uint32(r.NextHop)}
		if i%10 != 0 {
			survivors = append(survivors, all[i])
		}
	}
	opts := client.LoadOptions{FIB: 10, Source: "bgp"}
	_, err = client.Load(e.ctx, e.c, gatewaySets(), all, opts)
	e.must(err)

	f, _ := e.reg.Get(10)
	var stop atomic.Bool
	var misses, lookups atomic.Int64
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for !stop.Load() {
				for i := w; i < len(survivors); i += 2 {
					if f.Lookup(survivors[i].Prefix.Addr()).Kind == fib.NextMiss {
						misses.Add(1)
					}
				}
				lookups.Add(int64(len(survivors) / 2))
			}
		})
	}
	_, err = e.c.BeginResync(e.ctx, &fibdpb.BeginResyncRequest{FibId: 10, Source: "bgp"})
	e.must(err)
	_, err = client.Load(e.ctx, e.c, gatewaySets(), survivors, opts)
	e.must(err)
	resp, err := e.c.EndResync(e.ctx, &fibdpb.EndResyncRequest{FibId: 10, Source: "bgp"})
	e.must(err)
	stop.Store(true)
	wg.Wait()
	if want := len(all) - len(survivors); resp.GetRemoved() != uint64(want) {
		t.Fatalf("removed %d, want %d", resp.GetRemoved(), want)
	}
	if n := misses.Load(); n > 0 {
		t.Fatalf("%d of %d lookups of surviving prefixes missed during the resync", n, lookups.Load())
	}
	if v4c, _ := f.Counts(); v4c != len(survivors)+2 {
		t.Fatalf("%d IPv4 routes after the resync, want %d", v4c, len(survivors)+2)
	}
	t.Logf("%d routes resynced, %d removed, %d lookups without a miss", len(survivors), resp.GetRemoved(), lookups.Load())
}
