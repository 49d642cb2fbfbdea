package fib

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/fib/adj"
)

// Tests of the promises that keep one FIB's changes from reaching another's
// packets: adjacency IDs, source IDs, duplicate paths, leak cycles.

// twoFIBs is FIB 10 with port 1 and FIB 20 with port 2.
func twoFIBs(t *testing.T) (*Registry, *FIB, *FIB) {
	t.Helper()
	reg := NewRegistry(Options{})
	f10, err := reg.Create(10)
	if err != nil {
		t.Fatal(err)
	}
	f20, err := reg.Create(20)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.BindPort(1, 10); err != nil {
		t.Fatal(err)
	}
	if err := reg.BindPort(2, 20); err != nil {
		t.Fatal(err)
	}
	return reg, f10, f20
}

func gwRoute(prefix, gw string, port adj.PortID) Route {
	return Route{Prefix: mustPrefix(prefix), Source: "static", Paths: []Path{{Kind: PathGateway, Gateway: mustAddr(gw), Port: port}}}
}

// TestAdjacencyNotReusedWhileAReaderHoldsIt: a reader (the dataplane) holds
// a forwarding entry of FIB 10's previous snapshot while the route is
// re-pointed and FIB 20 creates an adjacency. The ID the reader holds must
// still name FIB 10's neighbour, or the packet would leave with FIB 20's
// port and MAC.
func TestAdjacencyNotReusedWhileAReaderHoldsIt(t *testing.T) {
	reg, f10, f20 := twoFIBs(t)
	if err := f10.Add(gwRoute("198.51.100.0/24", "192.0.2.1", 1)); err != nil {
		t.Fatal(err)
	}
	held := f10.Lookup(mustAddr("198.51.100.7")) // a worker mid-batch
	want := adj.Key{FIB: 10, Port: 1, Addr: mustAddr("192.0.2.1")}
	mac := adj.MAC{2, 0, 0, 0, 0, 10}
	reg.Adjacencies().Get(held.Adj).SetLinkLayer(mac, adj.Valid)

	if err := f10.Add(gwRoute("198.51.100.0/24", "192.0.2.99", 1)); err != nil { // re-point: the old adjacency is released
		t.Fatal(err)
	}
	if err := f20.Add(gwRoute("203.0.113.0/24", "192.0.2.1", 2)); err != nil { // FIB 20 acquires one
		t.Fatal(err)
	}
	a := reg.Adjacencies().Get(held.Adj)
	if got := a.Key(); got != want {
		t.Fatalf("the held adjacency %d now names %v, want %v", held.Adj, got, want)
	}
	if a.Port() != 1 {
		t.Fatalf("the held adjacency's port is %d, want 1", a.Port())
	}
	if m, _ := a.LinkLayer(); m != mac {
		t.Fatalf("the held adjacency's MAC is %v, want %v", m, mac)
	}
	runtime.KeepAlive(held)

	// Once nothing can hold the old entry, its ID is free for reuse.
	held = nil
	old := a
	deadline := time.Now().Add(5 * time.Second)
	for reg.Adjacencies().Reclaimable() == 0 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if reg.Adjacencies().Reclaimable() == 0 {
		t.Fatal("the released adjacency never became reusable after its last holder went")
	}
	if err := f20.Add(gwRoute("198.18.0.0/15", "192.0.2.77", 2)); err != nil {
		t.Fatal(err)
	}
	if id, _ := reg.Adjacencies().Lookup(adj.Key{FIB: 20, Port: 2, Addr: mustAddr("192.0.2.77")}); reg.Adjacencies().Get(id) != old {
		t.Logf("the freed slot was not the one reused (%d); fine, but unexpected", id)
	}
}

// TestDuplicateGatewayPathsAreRefused: [via A, via A] would take two
// references and give back one.
func TestDuplicateGatewayPathsAreRefused(t *testing.T) {
	reg, f10, _ := twoFIBs(t)
	dup := Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "bgp", Paths: []Path{
		{Kind: PathGateway, Gateway: mustAddr("192.0.2.1"), Port: 1},
		{Kind: PathGateway, Gateway: mustAddr("192.0.2.1"), Port: 1},
	}}
	err := f10.Add(dup)
	if !errors.Is(err, ErrInvalidRoute) || !strings.Contains(err.Error(), "path 1") {
		t.Fatalf("duplicate gateway paths: %v, want ErrInvalidRoute naming path 1", err)
	}
	if n := reg.Adjacencies().Len(); n != 0 {
		t.Fatalf("a refused route left %d adjacencies", n)
	}
}

// TestGatewaysResolvingToOneAdjacencyMerge: "via A" and "via A port P",
// where A resolves to P, are one next hop: the route works, its weights
// add up, and deleting it gives every reference back.
func TestGatewaysResolvingToOneAdjacencyMerge(t *testing.T) {
	reg, f10, _ := twoFIBs(t)
	if err := f10.AddAddress(1, mustPrefix("192.0.2.254/24")); err != nil {
		t.Fatal(err)
	}
	r := Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "bgp", Paths: []Path{
		{Kind: PathGateway, Gateway: mustAddr("192.0.2.1")},
		{Kind: PathGateway, Gateway: mustAddr("192.0.2.1"), Port: 1, Weight: 2},
		{Kind: PathGateway, Gateway: mustAddr("192.0.2.2"), Port: 1},
	}}
	if err := f10.Add(r); err != nil {
		t.Fatal(err)
	}
	n := f10.Lookup(mustAddr("198.51.100.1"))
	count := map[adj.ID]int{}
	for _, id := range n.Group {
		count[id]++
	}
	a1, _ := reg.Adjacencies().Lookup(adj.Key{FIB: 10, Port: 1, Addr: mustAddr("192.0.2.1")})
	a2, _ := reg.Adjacencies().Lookup(adj.Key{FIB: 10, Port: 1, Addr: mustAddr("192.0.2.2")})
	if len(count) != 2 || count[a1] != 3*count[a2] {
		t.Fatalf("group %v: want 192.0.2.1 with weight 3 against 192.0.2.2 with 1", n.Group)
	}
	if err := f10.Delete(r.Prefix, "bgp"); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Adjacencies().Lookup(adj.Key{FIB: 10, Port: 1, Addr: mustAddr("192.0.2.1")}); ok {
		t.Fatal("the merged next hop's adjacency outlived its route: a reference leaked")
	}
}

// TestSourceIDsDoNotAlias: past the source table's size, a new source is
// refused instead of sharing an ID, so one source's delete can never
// remove another's route; and a source that owns nothing gives its ID back.
func TestSourceIDsDoNotAlias(t *testing.T) {
	reg, f10, _ := twoFIBs(t)
	p := mustPrefix("198.51.100.0/24")
	via := []Path{{Kind: PathGateway, Gateway: mustAddr("192.0.2.1"), Port: 1}}
	// Fill the table: each source owns one route, s1 also owns p.
	if err := f10.Add(Route{Prefix: p, Source: "s1", Paths: via}); err != nil {
		t.Fatal(err)
	}
	var batch []Change
	for i := 0; reg.SourceCount()+len(batch) < MaxSources; i++ {
		host := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)}), 32)
		batch = append(batch, Change{Op: OpAdd, Route: Route{Prefix: host, Source: fmt.Sprintf("s%d", i), Paths: via}})
		if len(batch) == 4096 {
			if _, err := f10.Apply(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := f10.Apply(batch); err != nil {
		t.Fatal(err)
	}
	err := f10.Add(Route{Prefix: p, Source: "one-too-many", Paths: via})
	if !errors.Is(err, ErrSourcesFull) {
		t.Fatalf("a source past the table: %v, want ErrSourcesFull", err)
	}
	err = f10.Add(Route{Prefix: p, Source: "another", Paths: via})
	if !errors.Is(err, ErrSourcesFull) {
		t.Fatalf("a second source past the table: %v, want ErrSourcesFull", err)
	}
	if err := f10.Delete(p, "another"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete by an unknown source: %v, want ErrNotFound", err)
	}
	// s0 gives up its only route: its ID is free for a new source.
	if err := f10.Delete(mustPrefix("198.18.0.0/32"), "s0"); err != nil {
		t.Fatal(err)
	}
	if err := f10.Add(Route{Prefix: p, Source: "newcomer", Paths: via}); err != nil {
		t.Fatalf("a source after one left: %v", err)
	}
	// The newcomer and s1 are two sources: deleting one keeps the other.
	if err := f10.Delete(p, "newcomer"); err != nil {
		t.Fatal(err)
	}
	var s1 bool
	f10.Routes(Filter{Within: p, Source: "s1"}, func(RouteInfo) bool { s1 = true; return false })
	if !s1 {
		t.Fatal("deleting one source's route removed another's")
	}
}

// TestRefusedRequestsInternNoSource: deletes and refused batches must not
// fill the source table.
func TestRefusedRequestsInternNoSource(t *testing.T) {
	reg, f10, _ := twoFIBs(t)
	before := reg.SourceCount()
	for i := 0; i < 100; i++ {
		_ = f10.Delete(mustPrefix("198.51.100.0/24"), fmt.Sprintf("ghost%d", i))
		_, _ = f10.Apply([]Change{
			{Op: OpAdd, Route: Route{Prefix: mustPrefix("203.0.113.0/24"), Source: fmt.Sprintf("refused%d", i),
				Paths: []Path{{Kind: PathGateway, Gateway: mustAddr("192.0.2.1"), Port: 1}}}},
			{Op: OpAdd, Route: Route{Prefix: mustPrefix("203.0.113.1/24"), Source: "bad"}}, // host bits: refused
		})
	}
	if after := reg.SourceCount(); after != before {
		t.Fatalf("refused requests interned %d sources", after-before)
	}
}

// TestSourceNamesAreBounded: a source name is a short printable word.
func TestSourceNamesAreBounded(t *testing.T) {
	_, f10, _ := twoFIBs(t)
	via := []Path{{Kind: PathBlackhole}}
	for _, name := range []string{strings.Repeat("x", MaxSourceName+1), "bad name", "tab\there", "nul\x00", "é"} {
		err := f10.Add(Route{Prefix: mustPrefix("198.51.100.0/24"), Source: name, Paths: via})
		if !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("source %q: %v, want ErrInvalidRoute", name, err)
		}
	}
	for _, name := range []string{"bgp", "frr-zebra", "gobgp.10", "isis:l2", strings.Repeat("x", MaxSourceName)} {
		if err := f10.Add(Route{Prefix: mustPrefix("198.51.100.0/24"), Source: name, Paths: via}); err != nil {
			t.Errorf("source %q: %v", name, err)
		}
	}
}

// TestLeakCyclesAreRefused: 10 → 20 → 30 → 10 for overlapping prefixes
// would bounce a packet between the FIBs; the route that closes the cycle
// is refused, naming it.
func TestLeakCyclesAreRefused(t *testing.T) {
	reg, f10, f20 := twoFIBs(t)
	f30, _ := reg.Create(30)
	leak := func(prefix string, to adj.FIBID) Route {
		return Route{Prefix: mustPrefix(prefix), Source: "static", Paths: []Path{{Kind: PathLookup, FIB: to}}}
	}
	if err := f10.Add(leak("198.51.100.0/24", 20)); err != nil {
		t.Fatal(err)
	}
	if err := f20.Add(leak("198.51.100.128/25", 30)); err != nil {
		t.Fatal(err)
	}
	err := f30.Add(leak("198.51.0.0/16", 10))
	if !errors.Is(err, ErrInvalidRoute) || !strings.Contains(err.Error(), "30 → 10 → 20 → 30") {
		t.Fatalf("closing 10 → 20 → 30 → 10: %v, want ErrInvalidRoute naming the cycle", err)
	}
	// In a batch, the refusal undoes the batch's other leaks too.
	_, err = f30.Apply([]Change{{Op: OpAdd, Route: leak("203.0.113.0/24", 10)}, {Op: OpAdd, Route: leak("198.51.100.200/32", 10)}})
	if !errors.Is(err, ErrInvalidRoute) {
		t.Fatalf("a batch closing the cycle: %v", err)
	}
	if reg.hasLeaks(30) {
		t.Fatal("a refused batch left its leak routes recorded")
	}
	// A second route along an existing edge is no cycle.
	if err := f10.Add(leak("198.18.0.0/15", 20)); err != nil {
		t.Fatal(err)
	}
	// Removing an edge breaks the cycle: then 30 → 10 is fine.
	if err := f20.Delete(mustPrefix("198.51.100.128/25"), "static"); err != nil {
		t.Fatal(err)
	}
	if err := f30.Add(leak("198.51.0.0/16", 10)); err != nil {
		t.Fatalf("30 → 10 without a cycle: %v", err)
	}
	// A delete and a re-add of one leak route in one batch leaves it.
	if _, err := f10.Apply([]Change{{Op: OpDelete, Route: leak("198.51.100.0/24", 20)}, {Op: OpAdd, Route: leak("198.51.100.0/24", 20)}}); err != nil {
		t.Fatal(err)
	}
	if err := f20.Add(leak("198.51.100.0/26", 10)); err == nil {
		t.Fatal("20 → 10 for 198.51.100.0/26 against 10 → 20 for 198.51.100.0/24 was accepted")
	}
}

// TestDisjointLeaksBothWaysAreAccepted: a customer FIB and a shared
// services FIB that each reach the other's servers form no loop, since no
// address is in both prefixes.
func TestDisjointLeaksBothWaysAreAccepted(t *testing.T) {
	_, f10, f20 := twoFIBs(t)
	if err := f10.Add(Route{Prefix: mustPrefix("203.0.113.0/24"), Source: "static", Paths: []Path{{Kind: PathLookup, FIB: 20}}}); err != nil {
		t.Fatal(err)
	}
	if err := f20.Add(Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "static", Paths: []Path{{Kind: PathLookup, FIB: 10}}}); err != nil {
		t.Fatalf("disjoint leaks both ways: %v", err)
	}
}

// TestLookupUnmapsIPv4Mapped: Lookup answers an IPv4-mapped address as the
// IPv4 address it is, as LookupRoute does.
func TestLookupUnmapsIPv4Mapped(t *testing.T) {
	_, f10, _ := twoFIBs(t)
	if err := f10.Add(gwRoute("198.51.100.0/24", "192.0.2.1", 1)); err != nil {
		t.Fatal(err)
	}
	if n := f10.Lookup(netip.MustParseAddr("::ffff:198.51.100.7")); n.Kind != NextGateway {
		t.Fatalf("Lookup(::ffff:198.51.100.7) = %v, want the IPv4 route", n.Kind)
	}
}

// TestSourceForIsStable: with no address on the asking port, the source
// of a router-made packet is the lowest port's address, whatever the map
// order.
func TestSourceForIsStable(t *testing.T) {
	reg, f10, _ := twoFIBs(t)
	for p := adj.PortID(3); p <= 9; p++ {
		if err := reg.BindPort(p, 10); err != nil {
			t.Fatal(err)
		}
		if err := f10.AddAddress(p, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(16*p + 1)}), 28)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 50; i++ {
		a, ok := f10.SourceFor(1, mustAddr("203.0.113.9"))
		if !ok || a != mustAddr("198.51.100.49") {
			t.Fatalf("SourceFor from an address-less port = %v %v, want port 3's 198.51.100.49", a, ok)
		}
	}
}
