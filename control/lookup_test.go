package control_test

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/fibdpb"
)

func TestLookupRouteFollowsLeakToECMPMemberAndNeighbor(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	e.fibWithPort(20, "eth2", 100, "198.51.100.1/24")
	e.addRoute(20, "203.0.113.0/24", "bgp", via("198.51.100.2"), via("198.51.100.3"))
	e.addRoute(10, "0.0.0.0/0", "static", &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_LOOKUP, FibId: 20})
	_, err := e.c.AddNeighbor(e.ctx, &fibdpb.AddNeighborRequest{Port: "eth2.100", Address: "198.51.100.2", Mac: "02:00:00:00:00:02"})
	e.must(err)

	seen := map[string]bool{}
	for _, hash := range []uint32{0, 1 << 31, 3 << 30} {
		resp, err := e.c.LookupRoute(e.ctx, &fibdpb.LookupRouteRequest{FibId: 10, Address: "203.0.113.7", FlowHash: hash})
		e.must(err)
		hops := resp.GetHops()
		if len(hops) != 2 || hops[0].GetFibId() != 10 || hops[0].GetRoute().GetPrefix() != "0.0.0.0/0" ||
			hops[1].GetFibId() != 20 || hops[1].GetRoute().GetPrefix() != "203.0.113.0/24" {
			t.Fatalf("hops %v", hops)
		}
		if resp.GetResolution() != fibdpb.Resolution_RESOLUTION_GATEWAY || resp.GetEgressPort() != "eth2.100" || len(resp.GetEcmp()) != 2 ||
			resp.GetEcmp()[0].GetPort() != "eth2.100" {
			t.Fatalf("lookup %v", resp)
		}
		seen[resp.GetNextHop()] = true
		if resp.GetNextHop() == "198.51.100.2" && resp.GetNeighbor().GetMac() != "02:00:00:00:00:02" {
			t.Fatalf("neighbour of 198.51.100.2 missing: %v", resp)
		}
		if resp.GetNextHop() == "198.51.100.3" && resp.GetNeighbor() != nil {
			t.Fatalf("unresolved member has a neighbour: %v", resp)
		}
	}
	if len(seen) != 2 {
		t.Fatalf("flow hashes reached members %v, want both", seen)
	}

	for _, tc := range []struct {
		fib    uint32
		addr   string
		result fibdpb.Resolution
		egress string
	}{
		{10, "192.0.2.77", fibdpb.Resolution_RESOLUTION_ATTACHED, "eth1"},
		{10, "192.0.2.1", fibdpb.Resolution_RESOLUTION_LOCAL, "eth1"},
		{20, "192.0.2.77", fibdpb.Resolution_RESOLUTION_MISS, ""},
	} {
		resp, err := e.c.LookupRoute(e.ctx, &fibdpb.LookupRouteRequest{FibId: tc.fib, Address: tc.addr})
		e.must(err)
		if resp.GetResolution() != tc.result || resp.GetEgressPort() != tc.egress {
			t.Errorf("lookup %s in fib %d: %v, want %s via %q", tc.addr, tc.fib, resp, tc.result, tc.egress)
		}
	}
}

func TestListRoutesFilters(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	_, err := e.c.AddAddress(e.ctx, &fibdpb.AddAddressRequest{Port: "eth1", Prefix: "2001:db8::1/64"})
	e.must(err)
	e.fibWithPort(20, "eth2", 0, "198.51.100.1/24")
	e.addRoute(10, "203.0.113.0/24", "static", via("192.0.2.2"))
	e.addRoute(10, "203.0.113.0/24", "bgp", via("192.0.2.3"))
	e.addRoute(10, "203.0.113.128/25", "bgp", via("192.0.2.3"))
	e.addRoute(10, "2001:db8:5::/48", "bgp", via("2001:db8::5"))
	prefixes := func(req *fibdpb.ListRoutesRequest) string {
		var out []string
		for _, r := range e.routes(req) {
			s := r.GetPrefix() + "/" + r.GetSource()
			if r.GetBest() {
				s += "*"
			}
			out = append(out, s)
		}
		slices.Sort(out) // order within a prefix is not defined
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		req  *fibdpb.ListRoutesRequest
		want string
	}{
		{&fibdpb.ListRoutesRequest{FibId: u32(10), Source: "bgp"}, "2001:db8:5::/48/bgp* 203.0.113.0/24/bgp 203.0.113.128/25/bgp*"},
		{&fibdpb.ListRoutesRequest{FibId: u32(10), Prefix: "203.0.113.0/24"}, "203.0.113.0/24/bgp 203.0.113.0/24/static* 203.0.113.128/25/bgp*"},
		{&fibdpb.ListRoutesRequest{FibId: u32(10), Prefix: "203.0.113.0/24", BestOnly: true}, "203.0.113.0/24/static* 203.0.113.128/25/bgp*"},
		{&fibdpb.ListRoutesRequest{FibId: u32(10), Family: fibdpb.Family_FAMILY_IPV6, Source: "bgp"}, "2001:db8:5::/48/bgp*"},
		{&fibdpb.ListRoutesRequest{Source: "connected"}, "192.0.2.0/24/connected* 198.51.100.0/24/connected* 2001:db8::/64/connected*"},
	} {
		if got := prefixes(tc.req); got != tc.want {
			t.Errorf("ListRoutes(%v) = %s, want %s", tc.req, got, tc.want)
		}
	}
}

// TestListRoutesStreamsInChunks checks a large listing arrives whole, in
// several messages.
func TestListRoutesStreamsInChunks(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	stream, _ := e.session(params("bgp", 10))
	req := &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10, PathSets: twoGateways()}
	for _, p := range nets(0, 3000) {
		req.Ops = append(req.Ops, addOp(p, 0))
	}
	e.must(stream.Send(req))
	_, err := stream.Recv()
	e.must(err)
	ls, err := e.c.ListRoutes(e.ctx, &fibdpb.ListRoutesRequest{FibId: u32(10), Source: "bgp"})
	e.must(err)
	msgs, n := 0, 0
	for {
		resp, err := ls.Recv()
		if err == io.EOF {
			break
		}
		e.must(err)
		msgs++
		n += len(resp.GetRoutes())
	}
	if n != 3000 || msgs < 3 {
		t.Fatalf("%d routes in %d messages", n, msgs)
	}
}
