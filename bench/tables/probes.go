package tables

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
)

// pcgStream is the second PCG seed word, fixed so that one uint64 seed names
// one sequence.
const pcgStream = 0x66696264_7461626c // "fibdtabl"

// UniformPercent is the share of Probes drawn uniformly over the whole
// address family rather than from inside a table prefix.
const UniformPercent = 20

// Probes returns the benchmark probe set for routes: n addresses in random
// order, of which n - n*UniformPercent/100 (80%) lie inside a uniformly
// chosen route's prefix (its host bits uniform random) and the rest are
// uniform over the whole address family of a uniformly chosen route (for
// IPv4 mostly hits too, for IPv6 almost always misses: intended, a miss is a
// lookup to measure too). The result depends only on routes, n and seed
// (PCG). It returns nil if n <= 0 or routes is empty.
func Probes(routes []Route, n int, seed uint64) []netip.Addr {
	if n <= 0 || len(routes) == 0 {
		return nil
	}
	rng := newRand(seed)
	out := make([]netip.Addr, n)
	inside := n - n*UniformPercent/100
	for i := range out {
		p := routes[rng.IntN(len(routes))].Prefix
		if i >= inside {
			p = netip.PrefixFrom(p.Addr(), 0).Masked()
		}
		out[i] = randomIn(rng, p)
	}
	rng.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Shuffled returns a copy of routes in a random order that depends only on
// routes and seed, for inserting a table in other than sorted order.
func Shuffled(routes []Route, seed uint64) []Route {
	rs := slices.Clone(routes)
	rng := newRand(seed)
	rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
	return rs
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, pcgStream)) }

// randomIn returns an address of p with its host bits uniform random.
func randomIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
	host := p.Addr().BitLen() - p.Bits()
	if p.Addr().Is4() {
		a := p.Addr().As4()
		x := binary.BigEndian.Uint32(a[:])
		m := uint32(lowBits(host))
		x = x&^m | uint32(rng.Uint64())&m
		binary.BigEndian.PutUint32(a[:], x)
		return netip.AddrFrom4(a)
	}
	a := p.Addr().As16()
	hi, lo := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])
	loMask, hiMask := lowBits(min(host, 64)), lowBits(max(host-64, 0))
	hi = hi&^hiMask | rng.Uint64()&hiMask
	lo = lo&^loMask | rng.Uint64()&loMask
	binary.BigEndian.PutUint64(a[:8], hi)
	binary.BigEndian.PutUint64(a[8:], lo)
	return netip.AddrFrom16(a)
}

// lowBits returns a mask of the n low bits, n in [0, 64].
func lowBits(n int) uint64 {
	if n >= 64 {
		return ^uint64(0)
	}
	return 1<<n - 1
}
