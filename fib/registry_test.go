package fib

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/fibd/fibd/fib/adj"
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }

func TestRegistryCreateDeleteList(t *testing.T) {
	reg := NewRegistry(Options{})
	if _, ok := reg.Get(0); !ok {
		t.Fatal("default FIB 0 missing")
	}
	if _, err := reg.Create(10); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Create(10); !errors.Is(err, ErrFIBExists) {
		t.Fatalf("second Create(10): %v, want ErrFIBExists", err)
	}
	if _, err := reg.Create(20); err != nil {
		t.Fatal(err)
	}
	var ids []adj.FIBID
	for _, f := range reg.List() {
		ids = append(ids, f.ID())
	}
	if len(ids) != 3 || ids[0] != 0 || ids[1] != 10 || ids[2] != 20 {
		t.Fatalf("List = %v, want [0 10 20]", ids)
	}
	if err := reg.Delete(0); !errors.Is(err, ErrDefaultFIB) {
		t.Fatalf("Delete(0): %v", err)
	}
	if err := reg.Delete(99); !errors.Is(err, ErrNoSuchFIB) {
		t.Fatalf("Delete(99): %v", err)
	}
	if err := reg.Delete(20); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Get(20); ok {
		t.Fatal("FIB 20 still there")
	}
}

func TestDeleteFIBInUseByPortIsRefused(t *testing.T) {
	reg := NewRegistry(Options{})
	reg.Create(10)
	if err := reg.BindPort(3, 10); err != nil {
		t.Fatal(err)
	}
	if err := reg.Delete(10); !errors.Is(err, ErrFIBInUse) {
		t.Fatalf("Delete of FIB with a bound port: %v, want ErrFIBInUse", err)
	}
	if err := reg.UnbindPort(3); err != nil {
		t.Fatal(err)
	}
	if err := reg.Delete(10); err != nil {
		t.Fatalf("Delete after unbind: %v", err)
	}
}

func TestDeleteFIBInUseByLeakIsRefused(t *testing.T) {
	reg := NewRegistry(Options{})
	f10, _ := reg.Create(10)
	reg.Create(20)
	leak := Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "static", Paths: []Path{{Kind: PathLookup, FIB: 20}}}
	if err := f10.Add(leak); err != nil {
		t.Fatal(err)
	}
	if err := reg.Delete(20); !errors.Is(err, ErrFIBInUse) {
		t.Fatalf("Delete of a leak target: %v, want ErrFIBInUse", err)
	}
	if err := f10.Delete(leak.Prefix, "static"); err != nil {
		t.Fatal(err)
	}
	if err := reg.Delete(20); err != nil {
		t.Fatalf("Delete after the leak route went: %v", err)
	}
	bad := leak
	bad.Paths = []Path{{Kind: PathLookup, FIB: 77}}
	if err := f10.Add(bad); !errors.Is(err, ErrNoSuchFIB) {
		t.Fatalf("leak into a missing FIB: %v, want ErrNoSuchFIB", err)
	}
	self := leak
	self.Paths = []Path{{Kind: PathLookup, FIB: 10}}
	if err := f10.Add(self); !errors.Is(err, ErrInvalidRoute) {
		t.Fatalf("leak into itself: %v, want ErrInvalidRoute", err)
	}
}

func TestLimitsRefuseWholeBatch(t *testing.T) {
	reg := NewRegistry(Options{Limits: Limits{Routes4: 3}})
	f, _ := reg.Create(10)
	route := func(s string) Change {
		return Change{Op: OpAdd, Route: Route{Prefix: mustPrefix(s), Source: "bgp", Paths: []Path{{Kind: PathBlackhole}}}}
	}
	if _, err := f.Apply([]Change{route("198.51.100.0/24"), route("198.51.100.0/25")}); err != nil {
		t.Fatal(err)
	}
	_, err := f.Apply([]Change{route("203.0.113.0/24"), route("203.0.113.0/25")})
	var be *BatchError
	if !errors.Is(err, ErrLimit) || !errors.As(err, &be) || be.Index != 1 {
		t.Fatalf("over-limit batch: %v, want ErrLimit at entry 1", err)
	}
	if v4, _ := f.Counts(); v4 != 2 {
		t.Fatalf("count after refused batch = %d, want 2", v4)
	}
	if n := f.Lookup(mustAddr("203.0.113.1")); n.Kind != NextMiss {
		t.Fatalf("refused batch's first route is visible: %v", n.Kind)
	}
	// An update of an existing route is not an addition.
	if _, err := f.Apply([]Change{route("198.51.100.0/24"), route("203.0.113.0/24")}); err != nil {
		t.Fatalf("upsert + one addition within the limit: %v", err)
	}
	f.SetLimits(Limits{PerSource: 1})
	if err := f.Add(Route{Prefix: mustPrefix("192.0.2.0/24"), Source: "ospf", Paths: []Path{{Kind: PathBlackhole}}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Add(Route{Prefix: mustPrefix("192.0.2.0/25"), Source: "ospf", Paths: []Path{{Kind: PathBlackhole}}}); !errors.Is(err, ErrLimit) {
		t.Fatalf("second route of a source limited to 1: %v", err)
	}
}

func TestInvalidRoutesAreNamed(t *testing.T) {
	reg := NewRegistry(Options{})
	f, _ := reg.Get(0)
	for _, tc := range []struct {
		r    Route
		want error
	}{
		{Route{Prefix: mustPrefix("198.51.100.7/24"), Source: "s", Paths: []Path{{Kind: PathBlackhole}}}, ErrInvalidPrefix},
		{Route{Prefix: netip.Prefix{}, Source: "s", Paths: []Path{{Kind: PathBlackhole}}}, ErrInvalidPrefix},
		{Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "", Paths: []Path{{Kind: PathBlackhole}}}, ErrInvalidRoute},
		{Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "s"}, ErrInvalidRoute},
		{Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "s", Paths: []Path{{Kind: PathGateway, Gateway: mustAddr("2001:db8::1"), Port: 1}}}, ErrInvalidRoute},
		{Route{Prefix: mustPrefix("2001:db8::/32"), Source: "s", Paths: []Path{{Kind: PathGateway, Gateway: mustAddr("fe80::1")}}}, ErrInvalidRoute},
		{Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "s", Paths: []Path{{Kind: 99}}}, ErrInvalidRoute},
		{Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "s", Paths: []Path{{Kind: PathBlackhole}, {Kind: PathLocal}}}, ErrInvalidRoute},
		{Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "s", Paths: []Path{{Kind: PathGateway, Gateway: mustAddr("192.0.2.1"), Port: 9}}}, ErrPortNotBound},
		{Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "s", Paths: []Path{{Kind: PathGroup, Group: 7}}}, ErrNoSuchGroup},
		{Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "s", Paths: []Path{{Kind: PathGroup}}}, ErrInvalidRoute},
	} {
		err := f.Add(tc.r)
		if !errors.Is(err, tc.want) {
			t.Errorf("Add(%v %v): %v, want %v", tc.r.Prefix, tc.r.Paths, err, tc.want)
		}
	}
	if v4, v6 := f.Counts(); v4+v6 != 0 {
		t.Fatalf("refused routes were installed: %d/%d", v4, v6)
	}
}

func TestSourcesAndPreference(t *testing.T) {
	fx := newFixture(t)
	p := mustPrefix("198.51.100.0/24")
	a := mustAddr("198.51.100.1")
	bgp := Route{Prefix: p, Source: "bgp", Preference: PrefEBGP, Paths: []Path{{Kind: PathGateway, Gateway: mustAddr("192.0.2.1"), Port: 1}}}
	static := Route{Prefix: p, Source: "static", Preference: PrefStatic, Paths: []Path{{Kind: PathGateway, Gateway: mustAddr("192.0.2.2"), Port: 2}}}
	if err := fx.f.Add(bgp); err != nil {
		t.Fatal(err)
	}
	if err := fx.f.Add(static); err != nil {
		t.Fatal(err)
	}
	if n := fx.f.Lookup(a); n.Port != 2 {
		t.Fatalf("static (preference 1) should beat bgp (20): port %d", n.Port)
	}
	if err := fx.f.Delete(p, "static"); err != nil {
		t.Fatal(err)
	}
	if n := fx.f.Lookup(a); n.Port != 1 {
		t.Fatalf("after removing static, bgp should forward: port %d", n.Port)
	}
	if err := fx.f.Replace(Route{Prefix: p, Source: "static", Paths: static.Paths}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replace of an absent route: %v", err)
	}
	var infos []RouteInfo
	fx.f.Routes(Filter{}, func(ri RouteInfo) bool { infos = append(infos, ri); return true })
	if len(infos) != 1 || infos[0].Source != "bgp" || !infos[0].Best {
		t.Fatalf("Routes = %+v", infos)
	}
}

func TestNeighbourChangeIsOneAdjacencyStore(t *testing.T) {
	fx := newFixture(t)
	gw := mustAddr("192.0.2.1")
	for _, p := range []string{"198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15"} {
		if err := fx.f.Add(Route{Prefix: mustPrefix(p), Source: "static", Paths: []Path{{Kind: PathGateway, Gateway: gw, Port: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	id, ok := fx.reg.Adjacencies().Lookup(adj.Key{FIB: 10, Port: 1, Addr: gw})
	if !ok {
		t.Fatal("no adjacency for the gateway")
	}
	if fx.reg.Adjacencies().Len() != 1 {
		t.Fatalf("%d adjacencies for one gateway", fx.reg.Adjacencies().Len())
	}
	v := fx.f.Version()
	mac := adj.MAC{0x02, 0, 0, 0, 0, 1}
	fx.reg.Adjacencies().Get(id).SetLinkLayer(mac, adj.Valid)
	for _, a := range []string{"198.51.100.9", "203.0.113.9", "198.19.1.1"} {
		n := fx.f.Lookup(mustAddr(a))
		if got, st := fx.reg.Adjacencies().Get(n.Adj).LinkLayer(); got != mac || st != adj.Valid {
			t.Fatalf("%s: adjacency %v %v", a, got, st)
		}
	}
	if fx.f.Version() != v {
		t.Fatal("a neighbour change published a new FIB version")
	}
}

func TestECMPSpreadsAndKeepsFlows(t *testing.T) {
	fx := newFixture(t)
	var paths []Path
	for i := 1; i <= 3; i++ {
		paths = append(paths, Path{Kind: PathGateway, Gateway: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Port: 1, Weight: uint32(i)})
	}
	if err := fx.f.Add(Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "bgp", Paths: paths}); err != nil {
		t.Fatal(err)
	}
	n := fx.f.Lookup(mustAddr("198.51.100.1"))
	count := map[adj.ID]int{}
	for h := uint32(0); h < 60000; h++ {
		count[n.Pick(h*2654435761)]++
	}
	if len(count) != 3 {
		t.Fatalf("flows went to %d members, want 3", len(count))
	}
	for id, c := range count {
		w := int(fx.reg.Adjacencies().Get(id).Key().Addr.As4()[3])
		if want := 60000 * w / 6; c < want*9/10 || c > want*11/10 {
			t.Errorf("member with weight %d got %d flows, want ≈%d", w, c, want)
		}
	}
	// A flow stays on its member across other changes to the FIB: an
	// unrelated batch republishes the table, and the route's entry (and so
	// every flow's member) is the same.
	before := map[uint32]adj.Key{}
	for h := uint32(0); h < 1000; h++ {
		before[h*2654435761] = fx.reg.Adjacencies().Get(n.Pick(h * 2654435761)).Key()
	}
	if err := fx.f.Add(Route{Prefix: mustPrefix("203.0.113.0/24"), Source: "bgp", Paths: paths[:1]}); err != nil {
		t.Fatal(err)
	}
	after := fx.f.Lookup(mustAddr("198.51.100.1"))
	for h, k := range before {
		if got := fx.reg.Adjacencies().Get(after.Pick(h)).Key(); got != k {
			t.Fatalf("flow hash %#x moved from %v to %v after an unrelated change", h, k, got)
		}
	}
}
