package fibbench

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/fibd/fibd/bench/tables"
)

// TestDIR248AgreesWithBart: the limit reference answers what bart (and so
// fibd, which TestGoldenRandom checks against the kernel) answers, for
// prefixes of every length — /0, the /24 boundary, /25–/32 inside shorter
// ones — over random and edge addresses.
func TestDIR248AgreesWithBart(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	routes := []tables.Route{
		{Prefix: netip.MustParsePrefix("0.0.0.0/0"), NextHop: 1},
		{Prefix: netip.MustParsePrefix("198.18.0.0/15"), NextHop: 2},
		{Prefix: netip.MustParsePrefix("198.18.7.0/24"), NextHop: 3},
		{Prefix: netip.MustParsePrefix("198.18.7.128/25"), NextHop: 4},
		{Prefix: netip.MustParsePrefix("198.18.7.200/32"), NextHop: 5},
		{Prefix: netip.MustParsePrefix("198.18.8.0/23"), NextHop: 6},
	}
	for i := range 20000 {
		var b [4]byte
		for j := range b {
			b[j] = byte(r.UintN(256))
		}
		bits := 8 + r.IntN(25)
		routes = append(routes, tables.Route{Prefix: netip.PrefixFrom(netip.AddrFrom4(b), bits).Masked(), NextHop: 7 + i%50})
	}
	// Duplicate prefixes would make the two disagree on which wins.
	seen := map[netip.Prefix]bool{}
	uniq := routes[:0]
	for _, rt := range routes {
		if !seen[rt.Prefix] {
			seen[rt.Prefix] = true
			uniq = append(uniq, rt)
		}
	}
	d, b := newDIR248(uniq), bartOf(uniq)
	probes := tables.Probes(uniq, 1<<16, 3)
	for _, s := range []string{"198.18.7.200", "198.18.7.201", "198.18.7.127", "198.18.7.128", "198.18.9.255", "198.19.255.255", "0.0.0.0", "255.255.255.255"} {
		probes = append(probes, netip.MustParseAddr(s))
	}
	for _, a := range probes {
		want, _ := b.Lookup(a)
		if got := d.lookup(addr4(a)); got != want {
			t.Fatalf("%v: DIR-24-8 %d, bart %d", a, got, want)
		}
	}
}
