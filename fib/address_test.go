package fib

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/fibd/fibd/fib/adj"
)

func TestAddressInstallsConnectedAndLocal(t *testing.T) {
	fx := newFixture(t)
	if err := fx.f.AddAddress(1, mustPrefix("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	if n := fx.f.Lookup(mustAddr("192.0.2.77")); n.Kind != NextAttached || n.Port != 1 {
		t.Fatalf("192.0.2.77: %v port %d, want attached port 1", n.Kind, n.Port)
	}
	if n := fx.f.Lookup(mustAddr("192.0.2.1")); n.Kind != NextLocal || n.Port != 1 {
		t.Fatalf("192.0.2.1: %v port %d, want local port 1", n.Kind, n.Port)
	}
	if !fx.f.IsLocal(1, mustAddr("192.0.2.1")) || fx.f.IsLocal(2, mustAddr("192.0.2.1")) {
		t.Fatal("IsLocal wrong")
	}
	if src, ok := fx.f.SourceFor(1, mustAddr("192.0.2.9")); !ok || src != mustAddr("192.0.2.1") {
		t.Fatalf("SourceFor = %v %v", src, ok)
	}
	if err := fx.f.AddAddress(1, mustPrefix("192.0.2.1/24")); !errors.Is(err, ErrAddressExists) {
		t.Fatalf("same address twice: %v", err)
	}
	if err := fx.f.AddAddress(2, mustPrefix("192.0.2.2/24")); !errors.Is(err, ErrAddressExists) {
		t.Fatalf("same subnet on another port: %v", err)
	}
	for _, bad := range []string{"192.0.2.0/24", "192.0.2.255/24", "127.0.0.1/8", "224.0.0.1/4", "0.0.0.0/0"} {
		if err := fx.f.AddAddress(2, mustPrefix(bad)); !errors.Is(err, ErrAddressInvalid) {
			t.Errorf("AddAddress(%s): %v, want ErrAddressInvalid", bad, err)
		}
	}
	if err := fx.f.AddAddress(9, mustPrefix("203.0.113.1/24")); !errors.Is(err, ErrPortNotBound) {
		t.Fatalf("address on an unbound port: %v", err)
	}
	if err := fx.f.DeleteAddress(1, mustPrefix("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	if n := fx.f.Lookup(mustAddr("192.0.2.77")); n.Kind != NextMiss {
		t.Fatalf("connected route survived its address: %v", n.Kind)
	}
	if err := fx.f.DeleteAddress(1, mustPrefix("192.0.2.1/24")); !errors.Is(err, ErrNoSuchAddress) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestSameAddressInTwoFIBs(t *testing.T) {
	reg := NewRegistry(Options{})
	f10, _ := reg.Create(10)
	f20, _ := reg.Create(20)
	reg.BindPort(1, 10)
	reg.BindPort(2, 20)
	for _, c := range []struct {
		f *FIB
		p adj.PortID
	}{{f10, 1}, {f20, 2}} {
		if err := c.f.AddAddress(c.p, mustPrefix("192.0.2.1/24")); err != nil {
			t.Fatal(err)
		}
		if err := c.f.AddAddress(c.p, mustPrefix("2001:db8::1/64")); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		f *FIB
		p adj.PortID
	}{{f10, 1}, {f20, 2}} {
		for _, a := range []string{"192.0.2.5", "2001:db8::5"} {
			if n := c.f.Lookup(mustAddr(a)); n.Kind != NextAttached || n.Port != c.p {
				t.Fatalf("FIB %d %s: %v port %d", c.f.ID(), a, n.Kind, n.Port)
			}
		}
	}
}

func TestGatewayResolvesThroughConnectedRoute(t *testing.T) {
	fx := newFixture(t)
	route := Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "static", Paths: []Path{{Kind: PathGateway, Gateway: mustAddr("192.0.2.254")}}}
	// A gateway nothing covers yet is installed, unresolved, and reported.
	res, err := fx.f.Apply([]Change{{Op: OpAdd, Route: route}})
	if err != nil || res.Unresolved != 1 {
		t.Fatalf("gateway on no subnet: %+v, %v; want installed unresolved", res, err)
	}
	if n := fx.f.Lookup(mustAddr("198.51.100.1")); n.Kind != NextUnresolved {
		t.Fatalf("before its subnet exists: %v, want unresolved", n.Kind)
	}
	// The subnet appears: the route resolves without being pushed again.
	if err := fx.f.AddAddress(2, mustPrefix("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	n := fx.f.Lookup(mustAddr("198.51.100.1"))
	if n.Kind != NextGateway || n.Port != 2 {
		t.Fatalf("resolved: %v port %d, want gateway port 2", n.Kind, n.Port)
	}
	if k := fx.reg.Adjacencies().Get(n.Adj).Key(); k != (adj.Key{FIB: 10, Port: 2, Addr: mustAddr("192.0.2.254")}) {
		t.Fatalf("adjacency key %v", k)
	}
	// The subnet moves to port 1: the entry follows without the route
	// being touched.
	if err := fx.f.DeleteAddress(2, mustPrefix("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	if n := fx.f.Lookup(mustAddr("198.51.100.1")); n.Kind != NextUnresolved {
		t.Fatalf("gateway without subnet: %v, want unresolved", n.Kind)
	}
	if err := fx.f.AddAddress(1, mustPrefix("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	if n := fx.f.Lookup(mustAddr("198.51.100.1")); n.Kind != NextGateway || n.Port != 1 {
		t.Fatalf("re-resolved: %v port %d, want gateway port 1", n.Kind, n.Port)
	}
	if got := fx.reg.Adjacencies().Len(); got != 1 {
		t.Fatalf("%d adjacencies, want 1 (the old one released)", got)
	}
}

func TestLinkLocalAddressesArePerPort(t *testing.T) {
	fx := newFixture(t)
	for _, p := range []adj.PortID{1, 2} {
		if err := fx.f.AddAddress(p, mustPrefix("fe80::1/64")); err != nil {
			t.Fatalf("fe80::1 on port %d: %v", p, err)
		}
	}
	if n := fx.f.Lookup(mustAddr("fe80::1")); n.Kind != NextMiss {
		t.Fatalf("link-local address installed a route: %v", n.Kind)
	}
	if !fx.f.IsLocal(2, mustAddr("fe80::1")) {
		t.Fatal("fe80::1 not local on port 2")
	}
	route := Route{Prefix: mustPrefix("2001:db8:1::/48"), Source: "static", Paths: []Path{{Kind: PathGateway, Gateway: mustAddr("fe80::2"), Port: 2}}}
	if err := fx.f.Add(route); err != nil {
		t.Fatal(err)
	}
	n := fx.f.Lookup(mustAddr("2001:db8:1::1"))
	if k := fx.reg.Adjacencies().Get(n.Adj).Key(); k.Port != 2 || k.Addr != mustAddr("fe80::2") {
		t.Fatalf("link-local next hop adjacency %v", k)
	}
	if src, ok := fx.f.SourceFor(2, mustAddr("fe80::2")); !ok || src != mustAddr("fe80::1") {
		t.Fatalf("SourceFor link-local = %v", src)
	}
}

func TestMovingPortPurgesOldFIB(t *testing.T) {
	fx := newFixture(t)
	fx.reg.Create(20)
	fx.f.AddAddress(1, mustPrefix("192.0.2.1/24"))
	fx.f.AddAddress(2, mustPrefix("203.0.113.1/24"))
	gw1 := Path{Kind: PathGateway, Gateway: mustAddr("192.0.2.9")}
	gw2 := Path{Kind: PathGateway, Gateway: mustAddr("203.0.113.9")}
	fx.f.Add(Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "s", Paths: []Path{gw1}})
	fx.f.Add(Route{Prefix: mustPrefix("198.18.0.0/15"), Source: "s", Paths: []Path{gw1, gw2}})
	if err := fx.reg.BindPort(1, 20); err != nil {
		t.Fatal(err)
	}
	if n := fx.f.Lookup(mustAddr("192.0.2.5")); n.Kind != NextMiss {
		t.Fatalf("connected route of the moved port left: %v", n.Kind)
	}
	if n := fx.f.Lookup(mustAddr("198.51.100.5")); n.Kind != NextMiss {
		t.Fatalf("route through the moved port left: %v", n.Kind)
	}
	if n := fx.f.Lookup(mustAddr("198.18.0.1")); n.Kind != NextGateway || n.Port != 2 || len(n.Paths) != 1 {
		t.Fatalf("ECMP route should keep its other member: %v port %d %v", n.Kind, n.Port, n.Paths)
	}
	if len(fx.f.Addresses(1)) != 0 {
		t.Fatal("addresses of the moved port left")
	}
	f20, _ := fx.reg.Get(20)
	if n := f20.Lookup(mustAddr("192.0.2.5")); n.Kind != NextMiss {
		t.Fatal("addresses were carried over")
	}
}

// TestIsOwnAndDirectedBroadcast: every address of every port is the
// router's own and nothing else is, whatever the filter word's collisions
// (300 addresses fill it); the broadcast of a subnet of /30 or shorter is
// directed broadcast, of a /31 or /32 not.
func TestIsOwnAndDirectedBroadcast(t *testing.T) {
	fx := newFixture(t)
	for i := range 300 {
		a := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 32)
		if err := fx.f.AddAddress(1, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"192.0.2.1/24", "203.0.113.1/31", "2001:db8::1/64"} {
		if err := fx.f.AddAddress(1, mustPrefix(p)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		if a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}); !fx.f.IsOwn(a) {
			t.Fatalf("%v not own", a)
		}
		if a := netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}); fx.f.IsOwn(a) {
			t.Fatalf("%v own", a)
		}
	}
	for a, want := range map[string]bool{"2001:db8::1": true, "2001:db8::2": false, "192.0.2.1": true, "192.0.2.2": false} {
		if fx.f.IsOwn(mustAddr(a)) != want {
			t.Errorf("IsOwn(%s) != %v", a, want)
		}
	}
	for a, want := range map[string]bool{"192.0.2.255": true, "192.0.2.254": false, "203.0.113.1": false, "198.18.0.5": false} {
		if fx.f.IsDirectedBroadcast(mustAddr(a)) != want {
			t.Errorf("IsDirectedBroadcast(%s) != %v", a, want)
		}
	}
}
