package tables

import (
	"net/netip"
	"slices"
	"testing"
)

// covered reports whether some route in set contains a: a slow oracle that
// tries every prefix length.
func covered(set map[netip.Prefix]bool, a netip.Addr) bool {
	for bits := 0; bits <= a.BitLen(); bits++ {
		if set[netip.PrefixFrom(a, bits).Masked()] {
			return true
		}
	}
	return false
}

func prefixSet(rs []Route) map[netip.Prefix]bool {
	set := make(map[netip.Prefix]bool, len(rs))
	for _, r := range rs {
		set[r.Prefix] = true
	}
	return set
}

func TestProbesDeterministic(t *testing.T) {
	rs := []Route{route("10.0.0.0/8", 1), route("192.0.2.0/24", 2)}
	a, b := Probes(rs, 1000, 42), Probes(rs, 1000, 42)
	if len(a) != 1000 || !slices.Equal(a, b) {
		t.Fatalf("same seed, different probes (len %d)", len(a))
	}
	if c := Probes(rs, 1000, 43); slices.Equal(a, c) {
		t.Error("different seeds, same probes")
	}
	if Probes(rs, 0, 1) != nil || Probes(nil, 10, 1) != nil {
		t.Error("want nil for n = 0 or no routes")
	}
}

// TestProbesSplit uses a table covering 1/256 of IPv4, so the uniform 20%
// almost never land in it: the covered count must be 80% plus a little.
func TestProbesSplit(t *testing.T) {
	rs := []Route{route("10.0.0.0/8", 1)}
	const n = 10_000
	ps := Probes(rs, n, 7)
	in := 0
	for _, p := range ps {
		if !p.Is4() {
			t.Fatalf("probe %v of an IPv4 table is not IPv4", p)
		}
		if rs[0].Prefix.Contains(p) {
			in++
		}
	}
	// Binomial(2000, 1/256): mean 7.8, so 40 is far out.
	if inside := n - n*UniformPercent/100; in < inside || in > inside+40 {
		t.Errorf("%d of %d probes inside the table, want %d plus a few", in, n, inside)
	}
	// The probes are shuffled: the inside ones are not all first.
	if firstOut := slices.IndexFunc(ps, func(a netip.Addr) bool { return !rs[0].Prefix.Contains(a) }); firstOut > n/2 {
		t.Errorf("first uniform probe at %d: not shuffled", firstOut)
	}
}

func TestProbesRealTables(t *testing.T) {
	for _, tt := range []struct {
		name               string
		load               func() ([]Route, error)
		minExtra, maxExtra int // how many of the 2,000 uniform probes may hit
	}{
		// About 79% of IPv4 is covered, so most uniform probes hit too.
		{"v4", LoadV4, 1400, 1800},
		// The table covers a tiny share of IPv6: uniform probes miss.
		{"v6", LoadV6, 0, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := tt.load()
			if err != nil {
				t.Fatal(err)
			}
			set := prefixSet(rs)
			const n = 10_000
			hits := 0
			for _, p := range Probes(rs, n, 1) {
				if covered(set, p) {
					hits++
				}
			}
			if inside := n - n*UniformPercent/100; hits < inside+tt.minExtra || hits > inside+tt.maxExtra {
				t.Errorf("%d of %d probes hit, want %d to %d", hits, n, inside+tt.minExtra, inside+tt.maxExtra)
			}
		})
	}
}

func TestRandomIn(t *testing.T) {
	rng := newRand(3)
	for _, s := range []string{
		"0.0.0.0/0", "10.0.0.0/8", "192.0.2.128/25", "192.0.2.1/32",
		"::/0", "2001:db8::/32", "2001:db8::/63", "2001:db8::/64", "2001:db8::/65", "2001:db8::1/128",
		"::ffff:192.0.2.0/120",
	} {
		p := netip.MustParsePrefix(s)
		var or, and [16]byte
		for i := range and {
			and[i] = 0xff
		}
		for range 200 {
			a := randomIn(rng, p)
			if !p.Contains(a) || a.Is4() != p.Addr().Is4() {
				t.Fatalf("randomIn(%s) = %s, outside", p, a)
			}
			b := a.As16()
			for i := range b {
				or[i] |= b[i]
				and[i] &= b[i]
			}
		}
		// Every host bit took both values over 200 draws; network bits never changed.
		var varying int
		for i := range or {
			for bit := range 8 {
				if (or[i]^and[i])>>bit&1 == 1 {
					varying++
				}
			}
		}
		if want := p.Addr().BitLen() - p.Bits(); varying != want {
			t.Errorf("randomIn(%s): %d bits vary, want %d", p, varying, want)
		}
	}
}

func TestShuffled(t *testing.T) {
	rs, err := LoadV6()
	if err != nil {
		t.Fatal(err)
	}
	orig := slices.Clone(rs)
	a, b := Shuffled(rs, 9), Shuffled(rs, 9)
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different order")
	}
	if slices.Equal(a, rs) || slices.Equal(a, Shuffled(rs, 10)) {
		t.Error("shuffle left the order alone or ignored the seed")
	}
	if !slices.Equal(rs, orig) {
		t.Error("Shuffled modified its input")
	}
	sorted := slices.Clone(a)
	slices.SortFunc(sorted, func(x, y Route) int { return x.Prefix.Compare(y.Prefix) })
	if !slices.Equal(sorted, rs) {
		t.Error("Shuffled is not a permutation of its input")
	}
}
