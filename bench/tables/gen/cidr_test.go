package main

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

func TestSplitRange(t *testing.T) {
	allV4 := []string{}
	for bits := 1; bits <= 32; bits++ {
		// 0.0.0.0-255.255.255.254: /1, /2, ... /32, each starting where the last ended.
		allV4 = append(allV4, netip.PrefixFrom(lastOf(t, allV4), bits).String())
	}
	tests := []struct {
		name       string
		start, end string
		want       []string
	}{
		{"single v4", "1.2.3.4", "1.2.3.4", []string{"1.2.3.4/32"}},
		{"whole v4 space", "0.0.0.0", "255.255.255.255", []string{"0.0.0.0/0"}},
		{"v4 space minus the top address", "0.0.0.0", "255.255.255.254", allV4},
		{"top v4 address", "255.255.255.255", "255.255.255.255", []string{"255.255.255.255/32"}},
		{"ends at the top of v4", "255.255.255.0", "255.255.255.255", []string{"255.255.255.0/24"}},
		{"v4 upper half", "128.0.0.0", "255.255.255.255", []string{"128.0.0.0/1"}},
		{"v4 all but zero", "0.0.0.1", "0.0.0.7", []string{"0.0.0.1/32", "0.0.0.2/31", "0.0.0.4/30"}},
		{"real row", "1.0.128.0", "1.0.196.255", []string{"1.0.128.0/18", "1.0.192.0/22", "1.0.196.0/24"}},
		{"unaligned both ends", "10.0.0.3", "10.0.0.12", []string{"10.0.0.3/32", "10.0.0.4/30", "10.0.0.8/30", "10.0.0.12/32"}},
		{"single v6", "2001:db8::1", "2001:db8::1", []string{"2001:db8::1/128"}},
		{"whole v6 space", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", []string{"::/0"}},
		{"top v6 address", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
			[]string{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"}},
		{"ends at the top of v6", "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", []string{"ff00::/8"}},
		{"v6 across the 64-bit halves", "2001:db8::ffff:ffff:ffff:ffff", "2001:db8:0:1::",
			[]string{"2001:db8::ffff:ffff:ffff:ffff/128", "2001:db8:0:1::/128"}},
		{"v6 /63", "2001:db8::", "2001:db8:0:1:ffff:ffff:ffff:ffff", []string{"2001:db8::/63"}},
		{"real v6 row", "2001:200::", "2001:200:1b9:ffff:ffff:ffff:ffff:ffff",
			[]string{"2001:200::/40", "2001:200:100::/41", "2001:200:180::/43", "2001:200:1a0::/44",
				"2001:200:1b0::/45", "2001:200:1b8::/47"}},
		{"v4-mapped v6 is v6", "::ffff:1.2.3.0", "::ffff:1.2.3.255", []string{"::ffff:1.2.3.0/120"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitRange(netip.MustParseAddr(tt.start), netip.MustParseAddr(tt.end))
			if err != nil {
				t.Fatal(err)
			}
			if want := prefixes(t, tt.want...); !slices.Equal(got, want) {
				t.Errorf("splitRange(%s, %s) = %v, want %v", tt.start, tt.end, got, want)
			}
		})
	}
}

// lastOf returns the address after the last prefix of ps (0.0.0.0 if empty).
func lastOf(t *testing.T, ps []string) netip.Addr {
	if len(ps) == 0 {
		return netip.MustParseAddr("0.0.0.0")
	}
	p := netip.MustParsePrefix(ps[len(ps)-1])
	return fromAddr(p.Addr()).or(lowMask(32 - p.Bits())).add1().addr(32)
}

func TestSplitRangeRejects(t *testing.T) {
	for _, tt := range []struct{ start, end, want string }{
		{"1.2.3.5", "1.2.3.4", "ends before it starts"},
		{"1.2.3.4", "2001:db8::", "mixes address families"},
		{"fe80::1%eth0", "fe80::2", "invalid range"},
	} {
		_, err := splitRange(netip.MustParseAddr(tt.start), netip.MustParseAddr(tt.end))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("splitRange(%s, %s) = %v, want an error with %q", tt.start, tt.end, err, tt.want)
		}
		if _, err := coverRange(netip.MustParseAddr(tt.start), netip.MustParseAddr(tt.end)); err == nil {
			t.Errorf("coverRange(%s, %s) accepted a bad range", tt.start, tt.end)
		}
	}
	if _, err := splitRange(netip.Addr{}, netip.Addr{}); err == nil {
		t.Error("splitRange accepted the zero Addr")
	}
}

// oracleSplit is an independent way to split a range: descend from the
// family's /0, keeping a prefix when the range contains it whole and
// recursing into its halves when it only overlaps.
func oracleSplit(p netip.Prefix, s, e u128) []netip.Prefix {
	width := p.Addr().BitLen()
	lo := fromAddr(p.Addr())
	hi := lo.or(lowMask(width - p.Bits()))
	if hi.cmp(s) < 0 || lo.cmp(e) > 0 {
		return nil
	}
	if lo.cmp(s) >= 0 && hi.cmp(e) <= 0 {
		return []netip.Prefix{p}
	}
	left := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	right := netip.PrefixFrom(lo.or(lowMask(width-p.Bits()-1)).add1().addr(width), p.Bits()+1)
	return append(oracleSplit(left, s, e), oracleSplit(right, s, e)...)
}

// TestSplitRangeMatchesOracle checks random ranges, including ones near
// 64-bit and address-space boundaries, against oracleSplit.
func TestSplitRangeMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		width := 32
		if i%2 == 1 {
			width = 128
		}
		a, b := randomAddr(rng, width), randomAddr(rng, width)
		if a.Compare(b) > 0 {
			a, b = b, a
		}
		got, err := splitRange(a, b)
		if err != nil {
			t.Fatal(err)
		}
		s, e := fromAddr(a), fromAddr(b)
		want := oracleSplit(netip.PrefixFrom(u128{}.addr(width), 0), s, e)
		if !slices.Equal(got, want) {
			t.Fatalf("splitRange(%s, %s) = %v, oracle says %v", a, b, got, want)
		}
		cover, err := coverRange(a, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range got {
			if !cover.Contains(p.Addr()) || p.Bits() < cover.Bits() {
				t.Fatalf("coverRange(%s, %s) = %s does not contain %s", a, b, cover, p)
			}
		}
		if len(got) > 1 {
			// The longest cover: one bit longer would lose a or b.
			longer := netip.PrefixFrom(a, cover.Bits()+1).Masked()
			if longer.Contains(a) && longer.Contains(b) {
				t.Fatalf("coverRange(%s, %s) = %s, but %s also covers", a, b, cover, longer)
			}
		}
	}
}

// randomAddr picks addresses that share long prefixes, sit at the ends of
// the space or straddle the 64-bit halves often enough to matter.
func randomAddr(rng *rand.Rand, width int) netip.Addr {
	var u u128
	switch rng.IntN(4) {
	case 0:
		u = u128{rng.Uint64(), rng.Uint64()}
	case 1: // near the bottom
		u = u128{lo: rng.Uint64N(1 << 8)}
	case 2: // near the top
		u = u128{^uint64(0), ^uint64(0) - rng.Uint64N(1<<8)}
	case 3: // near a /64 boundary, or a /16 one for IPv4
		u = u128{hi: 0x20010db800000000, lo: ^uint64(0) - rng.Uint64N(1<<8)}
		if rng.IntN(2) == 0 {
			u = u128{hi: 0x20010db800000001, lo: rng.Uint64N(1 << 8)}
		}
		if width == 32 {
			u = u128{lo: 0x0a00ff00 + rng.Uint64N(1<<9)}
		}
	}
	if width == 32 {
		u = u128{lo: u.lo & 0xffffffff}
	}
	return u.addr(width)
}

func TestCoverRange(t *testing.T) {
	for _, tt := range []struct{ start, end, want string }{
		{"1.0.128.0", "1.0.196.255", "1.0.128.0/17"},
		{"1.2.3.4", "1.2.3.4", "1.2.3.4/32"},
		{"0.0.0.0", "255.255.255.255", "0.0.0.0/0"},
		{"127.255.255.255", "128.0.0.0", "0.0.0.0/0"},
		{"214.95.0.0", "215.0.255.255", "214.0.0.0/7"},
		{"2001:db8::ffff:ffff:ffff:ffff", "2001:db8:0:1::", "2001:db8::/63"},
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0"},
	} {
		got, err := coverRange(netip.MustParseAddr(tt.start), netip.MustParseAddr(tt.end))
		if err != nil || got != netip.MustParsePrefix(tt.want) {
			t.Errorf("coverRange(%s, %s) = %v, %v; want %s", tt.start, tt.end, got, err, tt.want)
		}
	}
}

func TestFillsHalf(t *testing.T) {
	for _, tt := range []struct {
		start, end, prefix string
		want               bool
	}{
		{"10.0.0.0", "10.0.0.127", "10.0.0.0/24", true},  // exactly half
		{"10.0.0.1", "10.0.0.128", "10.0.0.0/24", true},  // half, unaligned
		{"10.0.0.1", "10.0.0.127", "10.0.0.0/24", false}, // one short
		{"10.0.0.0", "10.0.0.255", "10.0.0.0/24", true},
		{"10.0.0.5", "10.0.0.5", "10.0.0.5/32", true},
		{"0.0.0.0", "127.255.255.255", "0.0.0.0/0", true},
		{"0.0.0.1", "127.255.255.255", "0.0.0.0/0", false},
		{"::", "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0", true},
		{"::1", "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0", false},
		{"2001:db8::8000:0:0:0", "2001:db8:0:1:7fff:ffff:ffff:ffff", "2001:db8::/63", true},
		{"2001:db8::8000:0:0:1", "2001:db8:0:1:7fff:ffff:ffff:ffff", "2001:db8::/63", false},
	} {
		got := fillsHalf(netip.MustParseAddr(tt.start), netip.MustParseAddr(tt.end), netip.MustParsePrefix(tt.prefix))
		if got != tt.want {
			t.Errorf("fillsHalf(%s, %s, %s) = %v, want %v", tt.start, tt.end, tt.prefix, got, tt.want)
		}
	}
}
