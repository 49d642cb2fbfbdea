package fib

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"unsafe"
)

// trieOracle drives a builder the way the FIB does (computing the
// replacement value on delete from a plain map) and checks every published
// root against a linear longest-prefix match.
type trieOracle[K key] struct {
	t      *testing.T
	b      *builder[K]
	routes map[netip.Prefix]uint32
	pub    node
}

func keyOf[K key](a netip.Addr) K {
	var k K
	switch p := any(&k).(type) {
	case *[4]byte:
		*p = a.As4()
	case *[16]byte:
		*p = a.As16()
	}
	return k
}

func (o *trieOracle[K]) set(p netip.Prefix, fe uint32) {
	o.routes[p] = fe
	o.b.set(keyOf[K](p.Addr()), p.Bits(), fe)
}

func (o *trieOracle[K]) del(p netip.Prefix) {
	delete(o.routes, p)
	var repl uint32
	if l := p.Bits(); l > 0 {
		d := (l - 1) / 8
		for ql := l - 1; ql > 8*d; ql-- {
			q, _ := p.Addr().Prefix(ql)
			if fe, ok := o.routes[q]; ok {
				repl = fe<<4 | uint32(ql-8*d)
				break
			}
		}
	}
	o.b.clear(keyOf[K](p.Addr()), p.Bits(), repl)
}

func (o *trieOracle[K]) want(a netip.Addr) uint32 {
	best, bestLen := uint32(0), -1
	for p, fe := range o.routes {
		if p.Contains(a) && p.Bits() > bestLen {
			best, bestLen = fe, p.Bits()
		}
	}
	return best
}

func (o *trieOracle[K]) check(probes []netip.Addr) {
	o.t.Helper()
	checkNode(o.t, &o.pub, 0, true)
	for _, a := range probes {
		k := keyOf[K](a)
		got := lookup(&o.pub, k) >> 4
		if want := o.want(a); got != want {
			o.t.Fatalf("lookup %s = %d, want %d", a, got, want)
		}
	}
}

func randPrefix(r *rand.Rand, v6 bool) netip.Prefix {
	// Few distinct top bytes so prefixes nest and share nodes.
	if v6 {
		var b [16]byte
		b[0], b[1] = 0x20, 0x01
		b[2] = byte(r.IntN(4))
		for i := 3; i < 16; i++ {
			b[i] = byte(r.IntN(4)) << (r.IntN(3) * 3)
		}
		p, _ := netip.AddrFrom16(b).Prefix(r.IntN(129))
		return p
	}
	var b [4]byte
	b[0] = byte(198 + r.IntN(2))
	for i := 1; i < 4; i++ {
		b[i] = byte(r.IntN(4)) << (r.IntN(3) * 3)
	}
	p, _ := netip.AddrFrom4(b).Prefix(r.IntN(33))
	return p
}

// probesFor returns addresses at both edges of every prefix plus random ones.
func probesFor(r *rand.Rand, routes map[netip.Prefix]uint32, v6 bool, n int) []netip.Addr {
	var out []netip.Addr
	for p := range routes {
		out = append(out, p.Addr(), lastAddr(p))
		if p.Addr().Prev().IsValid() {
			out = append(out, p.Addr().Prev())
		}
		if next := lastAddr(p).Next(); next.IsValid() {
			out = append(out, next)
		}
	}
	for i := 0; i < n; i++ {
		out = append(out, randPrefix(r, v6).Addr())
	}
	return out
}

func runTrieOracle[K key](t *testing.T, seed uint64, v6 bool, steps int) {
	r := rand.New(rand.NewPCG(seed, 1))
	o := &trieOracle[K]{t: t, b: newBuilder[K](), routes: map[netip.Prefix]uint32{}}
	o.pub = o.b.publish()
	var live []netip.Prefix
	var prev node
	var prevProbes []netip.Addr
	var prevAns []uint32
	for step := 0; step < steps; step++ {
		switch x := r.IntN(10); {
		case x < 6 || len(live) == 0:
			p := randPrefix(r, v6)
			if _, ok := o.routes[p]; !ok {
				live = append(live, p)
			}
			o.set(p, uint32(1+r.IntN(1000)))
		default:
			i := r.IntN(len(live))
			o.del(live[i])
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
		}
		if r.IntN(8) == 0 {
			o.pub = o.b.publish()
			probes := probesFor(r, o.routes, v6, 50)
			o.check(probes)
			// The previous snapshot must still answer exactly as it did
			// when it was published, whatever the builder did since.
			for i, a := range prevProbes {
				if got := lookup(&prev, keyOf[K](a)); got != prevAns[i] {
					t.Fatalf("published snapshot changed: %v now %d, was %d", a, got, prevAns[i])
				}
			}
			prev, prevProbes, prevAns = o.pub, probes, prevAns[:0]
			for _, a := range probes {
				prevAns = append(prevAns, lookup(&prev, keyOf[K](a)))
			}
		}
	}
	o.pub = o.b.publish()
	o.check(probesFor(r, o.routes, v6, 200))
	// Delete everything: the trie must shrink back to an empty root.
	for p := range o.routes {
		o.del(p)
	}
	o.pub = o.b.publish()
	if len(o.pub.kids) != 0 || o.pub.def != 0 || len(o.pub.leaves) != 1 || o.pub.leaves[0] != 0 {
		t.Fatalf("trie not empty after deleting every prefix: %d children, def %d, leaves %v",
			len(o.pub.kids), o.pub.def, o.pub.leaves)
	}
}

func TestTrieRandomV4(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		runTrieOracle[[4]byte](t, seed, false, 400)
	}
}

func TestTrieRandomV6(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		runTrieOracle[[16]byte](t, seed, true, 400)
	}
}

// A published root must not change while the builder goes on writing.
func TestTriePublishedRootIsImmutable(t *testing.T) {
	b := newBuilder[[4]byte]()
	p := netip.MustParsePrefix("198.51.100.0/24")
	b.set(p.Addr().As4(), 24, 7)
	old := b.publish()
	k := netip.MustParseAddr("198.51.100.9").As4()
	if got := lookup(&old, k) >> 4; got != 7 {
		t.Fatalf("before: got %d", got)
	}
	b.set(p.Addr().As4(), 24, 8)
	b.set(netip.MustParseAddr("198.51.100.8").As4(), 29, 9)
	_ = b.publish()
	if got := lookup(&old, k) >> 4; got != 7 {
		t.Fatalf("old snapshot changed: got %d, want 7", got)
	}
}

// checkNode verifies the encoding invariants: counts match the bitsets, no
// run starts on a child slot, the first leaf slot starts a run, adjacent
// runs differ (the encoding is canonical, so equal tables encode equally),
// and no node below the root is empty.
func checkNode(t *testing.T, n *node, depth int, root bool) {
	t.Helper()
	if got, want := len(n.kids), n.child.count(); got != want {
		t.Fatalf("depth %d: %d children for %d child bits", depth, got, want)
	}
	if n.cc != n.child.prefixCounts() || n.rc != n.run.prefixCounts() {
		t.Fatalf("depth %d: stale rank counts", depth)
	}
	if got, want := len(n.leaves), n.run.count(); got != want {
		t.Fatalf("depth %d: %d leaves for %d run bits", depth, got, want)
	}
	first, li := true, 0
	var prev uint32
	for s := 0; s < 256; s++ {
		if n.child.has(uint8(s)) {
			if n.run.has(uint8(s)) {
				t.Fatalf("depth %d: run starts on child slot %d", depth, s)
			}
			continue
		}
		if first && !n.run.has(uint8(s)) {
			t.Fatalf("depth %d: first leaf slot %d does not start a run", depth, s)
		}
		if n.run.has(uint8(s)) {
			v := n.leaves[li]
			if !first && v == prev {
				t.Fatalf("depth %d: slot %d starts a run equal to the previous one (%d)", depth, s, v)
			}
			prev, first = v, false
			li++
		}
	}
	if !root && isEmpty(n) {
		t.Fatalf("depth %d: empty node left in the trie", depth)
	}
	for _, c := range n.kids {
		checkNode(t, c, depth+1, false)
	}
}

// A node is exactly two cache lines, the first holding what a step into a
// child reads (see the node type).
func TestNodeIsTwoCacheLines(t *testing.T) {
	if sz := unsafe.Sizeof(node{}); sz != 128 {
		t.Fatalf("node is %d bytes, want 128", sz)
	}
	if off := unsafe.Offsetof(node{}.run); off != 64 {
		t.Fatalf("run bitset at offset %d, want 64 (second line)", off)
	}
}
