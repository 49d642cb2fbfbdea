// Package fibbench measures the fib package on the real tables the way
// `fibbench fib` reports it: lookups (independent and dependent) against
// gaissmai/bart in the same run, insert and delete rates, single-update
// latency with a reader running, and memory per route.
//
// It drives fib through its public API only, like any user.
package fibbench

import (
	"net/netip"

	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// BenchFIB is the FIB ID the benchmarks use, and BenchPort the port its
// next hops leave through.
const (
	BenchFIB  adj.FIBID  = 10
	BenchPort adj.PortID = 1
	Source               = "bench"
)

// Hops returns one path set per table next-hop index: a gateway in
// 192.0.2.0/24 (or 2001:db8::/64) on BenchPort. Routes of one index share
// the slice, as a routing daemon's routes share a next hop.
func Hops(v6 bool) [][]fib.Path {
	hops := make([][]fib.Path, tables.NextHops)
	for i := range hops {
		var gw netip.Addr
		if v6 {
			gw = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(1 + i)})
		} else {
			gw = netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)})
		}
		hops[i] = []fib.Path{{Kind: fib.PathGateway, Gateway: gw, Port: BenchPort}}
	}
	return hops
}

// NewFIB returns a registry with BenchFIB created and BenchPort bound to it.
func NewFIB() (*fib.Registry, *fib.FIB) {
	reg := fib.NewRegistry(fib.Options{})
	f, err := reg.Create(BenchFIB)
	if err != nil {
		panic(err)
	}
	if err := reg.BindPort(BenchPort, BenchFIB); err != nil {
		panic(err)
	}
	return reg, f
}

// Changes turns table routes into add (or delete) batch entries.
func Changes(routes []tables.Route, op fib.Op) []fib.Change {
	hops := [2][][]fib.Path{Hops(false), Hops(true)}
	out := make([]fib.Change, len(routes))
	for i, r := range routes {
		v6 := 0
		if r.Prefix.Addr().Is6() {
			v6 = 1
		}
		out[i] = fib.Change{Op: op, Route: fib.Route{Prefix: r.Prefix, Source: Source, Preference: fib.PrefEBGP, Paths: hops[v6][r.NextHop]}}
		if op == fib.OpDelete {
			out[i].Route.Paths = nil
		}
	}
	return out
}

// Apply applies changes in batches of at most batch entries.
func Apply(f *fib.FIB, changes []fib.Change, batch int) error {
	for len(changes) > 0 {
		n := min(batch, len(changes))
		if _, err := f.Apply(changes[:n]); err != nil {
			return err
		}
		changes = changes[n:]
	}
	return nil
}
