package fib

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/fibd/fibd/fib/adj"
)

func via(gw string) []Path { return []Path{{Kind: PathGateway, Gateway: mustAddr(gw)}} }

func groupRoute(p string, id uint32) Route {
	return Route{Prefix: mustPrefix(p), Source: "bgp", Preference: PrefEBGP, Paths: []Path{{Kind: PathGroup, Group: id}}}
}

// gwOf returns the gateway address a lookup of a forwards to.
func gwOf(t *testing.T, fx *fixture, a string) string {
	t.Helper()
	n := fx.f.Lookup(mustAddr(a))
	if n.Kind != NextGateway {
		return n.Kind.String()
	}
	return fx.reg.Adjacencies().Get(n.Pick(0)).Key().Addr.String()
}

func groupFixture(t *testing.T) *fixture {
	t.Helper()
	fx := newFixture(t)
	if err := fx.f.AddAddress(1, mustPrefix("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	return fx
}

func nets(n int) []netip.Prefix {
	out := make([]netip.Prefix, n)
	for i := range out {
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)}), 32)
	}
	return out
}

// TestGroupReplaceRepointsEveryRoute: routes on a group follow its replace
// in one batch that touches no route.
func TestGroupReplaceRepointsEveryRoute(t *testing.T) {
	fx := groupFixture(t)
	if _, err := fx.f.SetGroup(Group{ID: 1, Source: "bgp", Paths: via("192.0.2.2")}); err != nil {
		t.Fatal(err)
	}
	var changes []Change
	for _, p := range nets(20000) {
		changes = append(changes, Change{Op: OpAdd, Route: groupRoute(p.String(), 1)})
	}
	if _, err := fx.f.Apply(changes); err != nil {
		t.Fatal(err)
	}
	if got := gwOf(t, fx, "198.18.10.7"); got != "192.0.2.2" {
		t.Fatalf("before the replace: %s", got)
	}
	res, err := fx.f.SetGroup(Group{ID: 1, Source: "bgp", Paths: via("192.0.2.3")})
	if err != nil || res.Groups != 1 || res.Added+res.Updated+res.Deleted != 0 {
		t.Fatalf("replace: %+v %v", res, err)
	}
	for _, a := range []string{"198.18.0.0", "198.18.10.7", "198.18.78.31"} {
		if got := gwOf(t, fx, a); got != "192.0.2.3" {
			t.Fatalf("%s after the replace: %s", a, got)
		}
	}
	g, ok := fx.f.GetGroup(1)
	if !ok || g.Routes != 20000 {
		t.Fatalf("group listing: %+v %v", g, ok)
	}
	ri, _ := fx.f.Get(mustPrefix("198.18.0.5/32"), "bgp")
	if len(ri.Paths) != 1 || ri.Paths[0].Kind != PathGroup || ri.Paths[0].Group != 1 {
		t.Fatalf("a group route lists %v, want group 1", ri.Paths)
	}
}

// TestGroupDeleteAndOwnership: a group routes use cannot go; in the batch
// that removes its last routes it can (sequential and parallel batches);
// only its source changes it; a route cannot name a missing group.
func TestGroupDeleteAndOwnership(t *testing.T) {
	for _, size := range []int{10, 2 * parallelMin} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			fx := groupFixture(t)
			if _, err := fx.f.SetGroup(Group{ID: 1, Source: "bgp", Paths: via("192.0.2.2")}); err != nil {
				t.Fatal(err)
			}
			var add, del []Change
			for _, p := range nets(size) {
				add = append(add, Change{Op: OpAdd, Route: groupRoute(p.String(), 1)})
				del = append(del, Change{Op: OpDelete, Route: Route{Prefix: p, Source: "bgp"}})
			}
			if _, err := fx.f.Apply(add); err != nil {
				t.Fatal(err)
			}
			if _, err := fx.f.DeleteGroup(1, "bgp"); !errors.Is(err, ErrGroupInUse) {
				t.Fatalf("deleting a group in use: %v", err)
			}
			if _, err := fx.f.SetGroup(Group{ID: 1, Source: "ospf", Paths: via("192.0.2.3")}); !errors.Is(err, ErrGroupOwned) {
				t.Fatalf("another source replacing the group: %v", err)
			}
			if _, err := fx.f.Apply(append(del, Change{Op: OpGroupDelete, Group: Group{ID: 1, Source: "bgp"}})); err != nil {
				t.Fatalf("deleting the routes, then the group, in one batch: %v", err)
			}
			if _, ok := fx.f.GetGroup(1); ok {
				t.Fatal("group still there")
			}
			if err := fx.f.Add(groupRoute("203.0.113.0/24", 1)); !errors.Is(err, ErrNoSuchGroup) {
				t.Fatalf("a route on a deleted group: %v", err)
			}
		})
	}
}

// TestGroupBatchRollsBack: a refused batch leaves groups as they were —
// one it created is gone, one it replaced has its old paths.
func TestGroupBatchRollsBack(t *testing.T) {
	fx := groupFixture(t)
	if _, err := fx.f.SetGroup(Group{ID: 1, Source: "bgp", Paths: via("192.0.2.2")}); err != nil {
		t.Fatal(err)
	}
	if err := fx.f.Add(groupRoute("203.0.113.0/24", 1)); err != nil {
		t.Fatal(err)
	}
	_, err := fx.f.Apply([]Change{
		{Op: OpGroupSet, Group: Group{ID: 1, Source: "bgp", Paths: via("192.0.2.3")}},
		{Op: OpGroupSet, Group: Group{ID: 2, Source: "bgp", Paths: via("192.0.2.4")}},
		{Op: OpAdd, Route: groupRoute("198.51.100.0/24", 2)},
		{Op: OpDelete, Route: Route{Prefix: mustPrefix("192.0.2.128/25"), Source: "bgp"}}, // not there
	})
	if err == nil {
		t.Fatal("a bad batch applied")
	}
	if got := gwOf(t, fx, "203.0.113.1"); got != "192.0.2.2" {
		t.Fatalf("group 1 after the rollback forwards to %s", got)
	}
	if g, _ := fx.f.GetGroup(1); g.Paths[0].Gateway != mustAddr("192.0.2.2") {
		t.Fatalf("group 1's paths after the rollback: %v", g.Paths)
	}
	if _, ok := fx.f.GetGroup(2); ok {
		t.Fatal("group 2 survived the rollback")
	}
	if n := fx.f.Lookup(mustAddr("198.51.100.1")); n.Kind != NextMiss {
		t.Fatalf("route of the refused batch: %v", n.Kind)
	}
}

// TestGroupBackup: a group's entry points at its backup's, and follows the
// backup when it is replaced.
func TestGroupBackup(t *testing.T) {
	fx := groupFixture(t)
	if _, err := fx.f.Apply([]Change{
		{Op: OpGroupSet, Group: Group{ID: 2, Source: "bgp", Paths: via("192.0.2.9")}},
		{Op: OpGroupSet, Group: Group{ID: 1, Source: "bgp", Paths: via("192.0.2.2"), Backup: 2}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := fx.f.Add(groupRoute("203.0.113.0/24", 1)); err != nil {
		t.Fatal(err)
	}
	backupGW := func() string {
		b := fx.f.Lookup(mustAddr("203.0.113.1")).Backup
		if b == nil {
			return "none"
		}
		return fx.reg.Adjacencies().Get(b.Pick(0)).Key().Addr.String()
	}
	if got := backupGW(); got != "192.0.2.9" {
		t.Fatalf("backup: %s", got)
	}
	if _, err := fx.f.SetGroup(Group{ID: 2, Source: "bgp", Paths: via("192.0.2.10")}); err != nil {
		t.Fatal(err)
	}
	if got := backupGW(); got != "192.0.2.10" {
		t.Fatalf("backup after its replace: %s", got)
	}
	if _, err := fx.f.DeleteGroup(2, "bgp"); !errors.Is(err, ErrGroupInUse) {
		t.Fatalf("deleting a backup in use: %v", err)
	}
	if _, err := fx.f.SetGroup(Group{ID: 3, Source: "bgp", Paths: via("192.0.2.11"), Backup: 1}); err == nil {
		t.Fatal("a backup with a backup of its own was accepted")
	}
}

// TestRecursiveNextHops: a gateway on no connected subnet resolves through
// the route covering it, follows that route's changes, and is unresolved
// while nothing covers it; the default route never resolves one, and a
// gateway inside its own route is refused.
func TestRecursiveNextHops(t *testing.T) {
	fx := groupFixture(t)
	bgp := Route{Prefix: mustPrefix("203.0.113.0/24"), Source: "bgp", Preference: PrefIBGP, Paths: via("198.51.100.9")}
	res, err := fx.f.Apply([]Change{{Op: OpAdd, Route: bgp}})
	if err != nil || res.Unresolved != 1 {
		t.Fatalf("unresolvable BGP next hop: %+v %v; want installed unresolved", res, err)
	}
	if err := fx.f.Add(Route{Prefix: mustPrefix("0.0.0.0/0"), Source: "static", Paths: via("192.0.2.254")}); err != nil {
		t.Fatal(err)
	}
	if got := gwOf(t, fx, "203.0.113.1"); got != "unresolved" {
		t.Fatalf("resolved through the default route: %s", got)
	}
	igp := Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "ospf", Preference: 110, Paths: via("192.0.2.2")}
	if err := fx.f.Add(igp); err != nil {
		t.Fatal(err)
	}
	if got := gwOf(t, fx, "203.0.113.1"); got != "192.0.2.2" {
		t.Fatalf("after the IGP route covering the next hop: %s", got)
	}
	igp.Paths = via("192.0.2.3")
	if err := fx.f.Add(igp); err != nil {
		t.Fatal(err)
	}
	if got := gwOf(t, fx, "203.0.113.1"); got != "192.0.2.3" {
		t.Fatalf("after the IGP route moved: %s", got)
	}
	if err := fx.f.Delete(igp.Prefix, "ospf"); err != nil {
		t.Fatal(err)
	}
	if got := gwOf(t, fx, "203.0.113.1"); got != "unresolved" {
		t.Fatalf("after the IGP route went: %s", got)
	}
	if err := fx.f.Add(Route{Prefix: mustPrefix("198.18.0.0/24"), Source: "bgp", Paths: via("198.18.0.1")}); !errors.Is(err, ErrRecursionLoop) {
		t.Fatalf("a gateway inside its own route: %v, want ErrRecursionLoop", err)
	}
}

// TestRecursionDepthIsBounded: a chain of routes, each resolving through
// the next, resolves up to MaxRecursion deep and no deeper.
func TestRecursionDepthIsBounded(t *testing.T) {
	fx := groupFixture(t)
	// 10.0.k.0/24 via 10.0.k+1.1; the last resolves through a connected route.
	const n = MaxRecursion + 3
	var changes []Change
	for k := 0; k < n; k++ {
		gw := fmt.Sprintf("198.19.%d.1", k+1)
		if k == n-1 {
			gw = "192.0.2.2"
		}
		changes = append(changes, Change{Op: OpAdd, Route: Route{Prefix: mustPrefix(fmt.Sprintf("198.19.%d.0/24", k)), Source: "bgp", Paths: via(gw)}})
	}
	if _, err := fx.f.Apply(changes); err != nil {
		t.Fatal(err)
	}
	if got := gwOf(t, fx, fmt.Sprintf("198.19.%d.5", n-MaxRecursion)); got != "192.0.2.2" {
		t.Fatalf("%d routes deep: %s, want resolved", MaxRecursion, got)
	}
	if got := gwOf(t, fx, "198.19.0.5"); got == "192.0.2.2" {
		t.Fatalf("%d routes deep resolved; the bound is %d", n, MaxRecursion)
	}
}

// TestEventsCoverEveryChange: a watcher sees what clients change and what
// fibd changes itself, with the cause, and is dropped, not waited for,
// when it falls behind.
func TestEventsCoverEveryChange(t *testing.T) {
	fx := groupFixture(t)
	id := adj.FIBID(10)
	w := fx.reg.Watch(&id, 64)
	defer w.Close()
	next := func() []Event {
		t.Helper()
		select {
		case evs := <-w.C:
			return evs
		default:
			t.Fatal("no events")
		}
		return nil
	}
	r := Route{Prefix: mustPrefix("203.0.113.0/24"), Source: "bgp", Paths: via("192.0.2.2")}
	if err := fx.f.Add(r); err != nil {
		t.Fatal(err)
	}
	if evs := next(); len(evs) != 1 || evs[0].Kind != EventAdded || evs[0].Cause != CauseClient || evs[0].Route.Prefix != r.Prefix || !evs[0].Route.Best {
		t.Fatalf("add: %+v", evs)
	}
	r.Paths = via("192.0.2.130")
	if err := fx.f.Add(r); err != nil {
		t.Fatal(err)
	}
	if evs := next(); len(evs) != 1 || evs[0].Kind != EventChanged || evs[0].Route.Paths[0].Gateway != mustAddr("192.0.2.130") {
		t.Fatalf("change: %+v", evs)
	}
	if _, err := fx.f.SetGroup(Group{ID: 5, Source: "bgp", Paths: via("192.0.2.4")}); err != nil {
		t.Fatal(err)
	}
	if evs := next(); len(evs) != 1 || evs[0].Kind != EventGroupSet || evs[0].Group.ID != 5 {
		t.Fatalf("group: %+v", evs)
	}
	// The connected subnet moves to port 2: the next hop resolves anew.
	if err := fx.f.AddAddress(2, mustPrefix("192.0.2.129/25")); err != nil {
		t.Fatal(err)
	}
	var nh bool
	for _, e := range next() {
		nh = nh || e.Kind == EventNextHop && e.Cause == CauseResolution
	}
	if !nh {
		t.Fatal("no next-hop event when the gateway's subnet moved")
	}
	if err := fx.f.BeginResync("bgp"); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.f.EndResync("bgp"); err != nil {
		t.Fatal(err)
	}
	if evs := next(); len(evs) != 1 || evs[0].Kind != EventRemoved || evs[0].Cause != CauseResync {
		t.Fatalf("resync sweep: %+v", evs)
	}
	// Falling behind: dropped, not waited for.
	slow := fx.reg.Watch(&id, 1)
	defer slow.Close()
	for i := range 3 {
		if err := fx.f.Add(Route{Prefix: mustPrefix(fmt.Sprintf("198.51.100.%d/32", i)), Source: "bgp", Paths: via("192.0.2.2")}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("a watcher that fell behind was not dropped")
	}
	if !slow.Lost() {
		t.Fatal("Lost not set")
	}
}

// TestGroupKeepsItsSourceAlive: a group with no route of its source still
// belongs to that source, so its owner can replace and delete it and no
// other source inherits it through a recycled source ID.
func TestGroupKeepsItsSourceAlive(t *testing.T) {
	fx := groupFixture(t)
	base := fx.reg.SourceCount() // connected and local
	if _, err := fx.f.SetGroup(Group{ID: 1, Source: "bgp", Paths: via("192.0.2.2")}); err != nil {
		t.Fatal(err)
	}
	if n := fx.reg.SourceCount(); n != base+1 {
		t.Fatalf("%d sources with the group, want %d", n, base+1)
	}
	// Another source comes and goes, which would take a freed ID.
	if _, err := fx.f.Apply([]Change{{Op: OpAdd, Route: Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "ospf",
		Paths: via("192.0.2.3")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.f.SetGroup(Group{ID: 1, Source: "ospf", Paths: via("192.0.2.4")}); !errors.Is(err, ErrGroupOwned) {
		t.Fatalf("another source replacing the group: %v", err)
	}
	if _, err := fx.f.SetGroup(Group{ID: 1, Source: "bgp", Paths: via("192.0.2.5")}); err != nil {
		t.Fatalf("the owner replacing its group with no route of its own: %v", err)
	}
	gs := fx.f.Groups()
	if len(gs) != 1 || gs[0].Source != "bgp" {
		t.Fatalf("groups %+v", gs)
	}
	if _, err := fx.f.DeleteGroup(1, "bgp"); err != nil {
		t.Fatalf("the owner deleting its group: %v", err)
	}
	if n := fx.reg.SourceCount(); n != base+1 { // ospf, with its route
		t.Fatalf("%d sources after the group went, want %d (its source given back)", n, base+1)
	}
}

// TestDeletedFIBGivesBackItsGroupsSources: a FIB deleted with groups in it
// leaves no source ID taken.
func TestDeletedFIBGivesBackItsGroupsSources(t *testing.T) {
	fx := newFixture(t)
	base := fx.reg.SourceCount()
	f, err := fx.reg.Create(77)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetGroup(Group{ID: 1, Source: "bgp", Paths: []Path{{Kind: PathBlackhole}}}); err != nil {
		t.Fatal(err)
	}
	if n := fx.reg.SourceCount(); n != base+1 {
		t.Fatalf("%d sources with the group, want %d", n, base+1)
	}
	if err := fx.reg.Delete(77); err != nil {
		t.Fatal(err)
	}
	if n := fx.reg.SourceCount(); n != base {
		t.Fatalf("%d sources after the FIB went, want %d", n, base)
	}
}

// TestResyncSweepsStaleGroups: a resync's end removes the source's routes
// not pushed again and then its groups not set again that nothing uses
// any more — a group set again stays, a stale one another source's route
// uses stays, a stale backup goes once the group naming it has.
func TestResyncSweepsStaleGroups(t *testing.T) {
	fx := groupFixture(t)
	for _, g := range []Group{
		{ID: 1, Source: "bgp", Paths: via("192.0.2.2")},            // set again below
		{ID: 2, Source: "bgp", Paths: via("192.0.2.3")},            // stale, unused
		{ID: 3, Source: "bgp", Paths: via("192.0.2.4")},            // stale, used by ospf
		{ID: 4, Source: "bgp", Paths: via("192.0.2.5")},            // stale backup of 5
		{ID: 5, Source: "bgp", Paths: via("192.0.2.6"), Backup: 4}, // stale, names 4
	} {
		if _, err := fx.f.SetGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fx.f.Apply([]Change{
		{Op: OpAdd, Route: groupRoute("198.51.100.0/24", 2)},
		{Op: OpAdd, Route: Route{Prefix: mustPrefix("203.0.113.0/24"), Source: "ospf", Paths: []Path{{Kind: PathGroup, Group: 3}}}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := fx.f.BeginResync("bgp"); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.f.SetGroup(Group{ID: 1, Source: "bgp", Paths: via("192.0.2.2")}); err != nil {
		t.Fatal(err)
	}
	n, err := fx.f.EndResync("bgp")
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint32
	for _, g := range fx.f.Groups() {
		ids = append(ids, g.ID)
	}
	if fmt.Sprint(ids) != "[1 3]" || n != 4 { // the route, and groups 2, 5, 4
		t.Fatalf("after the resync: groups %v, %d removed; want [1 3] and 4", ids, n)
	}
	if got := gwOf(t, fx, "203.0.113.7"); got != "192.0.2.4" {
		t.Fatalf("ospf's route on the stale group 3 forwards via %s", got)
	}
}
