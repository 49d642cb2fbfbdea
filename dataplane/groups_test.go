package dataplane_test

import (
	"net/netip"
	"testing"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/fib"
)

// TestBackupGroupTakesOverWhilePrimaryIsDown: a route on a next-hop group
// whose only member's port goes down forwards through the group's backup,
// and goes back when the port comes up.
func TestBackupGroupTakesOverWhilePrimaryIsDown(t *testing.T) {
	r := newRig(t, 3)
	in := r.port("eth0", 0, 10, "192.0.2.1/24")
	r.neighbor(10, in, "192.0.2.10", clientMAC)
	p1 := r.port("eth1", 0, 10, "198.51.100.1/25")
	p2 := r.port("eth2", 0, 10, "198.51.100.129/25")
	r.neighbor(10, p1, "198.51.100.2", serverMAC)
	r.neighbor(10, p2, "198.51.100.130", serverMAC)
	f := r.fib(10)
	gw := func(a string) []fib.Path { return []fib.Path{{Kind: fib.PathGateway, Gateway: netip.MustParseAddr(a)}} }
	if _, err := f.Apply([]fib.Change{
		{Op: fib.OpGroupSet, Group: fib.Group{ID: 2, Source: "bgp", Paths: gw("198.51.100.130")}},
		{Op: fib.OpGroupSet, Group: fib.Group{ID: 1, Source: "bgp", Paths: gw("198.51.100.2"), Backup: 2}},
		{Op: fib.OpAdd, Route: fib.Route{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Source: "bgp",
			Paths: []fib.Path{{Kind: fib.PathGroup, Group: 1}}}},
	}); err != nil {
		t.Fatal(err)
	}
	send := func() {
		r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "203.0.113.5", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
	}
	send()
	r.expect("eth1", 1)
	r.links.setUp("eth1", false)
	r.waitPort("eth1", false)
	send()
	r.expect("eth2", 1)
	r.quiet("eth1")
	r.links.setUp("eth1", true)
	r.waitPort("eth1", true)
	r.drainAnnouncements("eth1")
	send()
	r.expect("eth1", 1)
}
