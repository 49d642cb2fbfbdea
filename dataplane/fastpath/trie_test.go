package fastpath

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// refLookup is the longest match by brute force.
func refLookup(routes map[netip.Prefix]uint32, a netip.Addr) (uint32, bool) {
	for l := a.BitLen(); l >= 0; l-- {
		p, _ := a.Prefix(l)
		if s, ok := routes[p]; ok {
			return s, true
		}
	}
	return 0, false
}

func copyRoutes(m map[netip.Prefix]uint32) map[netip.Prefix]uint32 {
	out := make(map[netip.Prefix]uint32, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// trieOps drives a trie from a byte stream: each op sets or deletes one
// prefix drawn from a small space (so prefixes nest and collide), and
// some publish. After every publish the published version, and the one
// before it, must answer as the route sets they were published with.
func trieOps(t *testing.T, ops []byte, chunks int) {
	tr := NewTrie(make([]uint64, chunks*TrieChunkWords))
	f := tr.NewFIB()
	want := map[netip.Prefix]uint32{}
	var pub [2]map[netip.Prefix]uint32
	var roots [2][2]uint32
	gen := uint8(0)
	probes := func() []netip.Addr {
		var out []netip.Addr
		for p := range want {
			out = append(out, p.Addr(), p.Masked().Addr().Next())
		}
		return append(out, netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("2001:db8::1"))
	}
	check := func(g uint8) {
		for _, a := range probes() {
			fam := 0
			if a.Is6() {
				fam = 1
			}
			gs, gok := tr.Lookup(roots[g][fam], a)
			ws, wok := refLookup(pub[g], a)
			if gs != ws || gok != wok {
				t.Fatalf("gen %d lookup %v = %d,%v; want %d,%v", g, a, gs, gok, ws, wok)
			}
		}
	}
	for i := 0; i+3 < len(ops); i += 4 {
		op, x, y, v := ops[i], ops[i+1], ops[i+2], ops[i+3]
		var p netip.Prefix
		if op&1 == 0 {
			a := netip.AddrFrom4([4]byte{198, 18 + x&1, y, x})
			p = netip.PrefixFrom(a, int(v)%33).Masked()
		} else {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, x, y, 0, 0, 0, 0, 0, 0, 0, 0, 0, x})
			p = netip.PrefixFrom(a, int(v)%129).Masked()
		}
		var err error
		switch op >> 6 {
		case 0, 1:
			err = tr.Set(f, p, uint32(y))
			if err == nil {
				want[p] = uint32(y)
			}
		case 2:
			err = tr.Delete(f, p)
			delete(want, p)
		case 3:
			gen ^= 1
			roots[gen] = tr.Publish(f, gen)
			pub[gen] = copyRoutes(want)
			check(gen)
			if pub[gen^1] != nil {
				check(gen ^ 1)
			}
			if op&0x20 != 0 { // a grace period passes
				tr.Reclaim(tr.Quiesce())
			}
		}
		if err == ErrTrieFull {
			return // the FIB would be dropped; nothing to compare
		} else if err != nil {
			t.Fatal(err)
		}
	}
	gen ^= 1
	roots[gen] = tr.Publish(f, gen)
	pub[gen] = copyRoutes(want)
	check(gen)
	tr.Drop(f)
	tr.Reclaim(tr.Quiesce())
	if used, _ := tr.Chunks(); used != 0 {
		t.Fatalf("%d chunks still in use after Drop", used)
	}
	for c := range tr.meta[1:tr.next] {
		if r := tr.meta[c+1].ref; r != 0 {
			t.Fatalf("chunk %d has %d references after Drop", c+1, r)
		}
	}
}

func TestTrieAnswersAsLongestMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 60 {
		ops := make([]byte, 4*300)
		for i := range ops {
			ops[i] = byte(r.Uint32())
		}
		trieOps(t, ops, 4096)
	}
}

// TestTrieFullLeavesPublishedIntact: running out of chunks fails the edit
// and never touches what is published.
func TestTrieFullLeavesPublishedIntact(t *testing.T) {
	tr := NewTrie(make([]uint64, 11*TrieChunkWords))
	f := tr.NewFIB()
	p := netip.MustParsePrefix("198.18.0.0/15")
	if err := tr.Set(f, p, 7); err != nil {
		t.Fatal(err)
	}
	root := tr.Publish(f, 1)[0]
	var err error
	for i := 0; i < 64 && err == nil; i++ {
		err = tr.Set(f, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(i), 1}), 32), 9)
	}
	if err != ErrTrieFull {
		t.Fatalf("err %v, want ErrTrieFull", err)
	}
	if s, ok := tr.Lookup(root, netip.MustParseAddr("198.19.3.1")); !ok || s != 7 {
		t.Fatalf("published lookup %d,%v after a failed edit; want 7", s, ok)
	}
}

// TestTrieReusesChunksOnlyAfterGrace: a chunk a replaced version reached
// is not handed out again until a grace period marked after it was
// retired has passed; then it is.
func TestTrieReusesChunksOnlyAfterGrace(t *testing.T) {
	tr := NewTrie(make([]uint64, 64*TrieChunkWords))
	f := tr.NewFIB()
	p := netip.MustParsePrefix("198.18.7.0/24")
	tr.Set(f, p, 1)
	old := tr.Publish(f, 0)
	tr.Set(f, p, 2)
	tr.Publish(f, 1)
	tr.Set(f, p, 3)
	tr.Publish(f, 0) // the version old names is unreachable now
	mark := tr.Quiesce()
	for i := range 20 {
		tr.Set(f, p, uint32(i)+4)
		tr.Publish(f, 1)
		if s, ok := tr.Lookup(old[0], p.Addr()); !ok || s != 1 {
			t.Fatalf("edit %d, before any grace period: the replaced version answers %d,%v; want 1", i, s, ok)
		}
	}
	grown := tr.next
	tr.Reclaim(mark)
	for i := range 20 {
		tr.Set(f, p, uint32(i)+30)
		tr.Publish(f, uint8(i))
		tr.Reclaim(tr.Quiesce())
	}
	if tr.next != grown {
		t.Errorf("after grace periods the trie still takes fresh chunks (%d → %d): retired ones are not reused", grown, tr.next)
	}
}

// TestTrieFullWaitsForRetired: a trie with no free chunk but retired ones
// waits for a grace period (Wait) and reuses them instead of failing.
func TestTrieFullWaitsForRetired(t *testing.T) {
	tr := NewTrie(make([]uint64, 11*TrieChunkWords))
	waits := 0
	tr.Wait = func() error { waits++; return nil }
	f := tr.NewFIB()
	p := netip.MustParsePrefix("198.18.7.0/24") // 3 chunks per version
	for i := range 50 {
		if err := tr.Set(f, p, uint32(i)+1); err != nil {
			t.Fatalf("edit %d: %v", i, err)
		}
		tr.Publish(f, uint8(i))
		if s, ok := tr.Lookup(f.published[uint8(i)&1][0], p.Addr()); !ok || s != uint32(i)+1 {
			t.Fatalf("edit %d answers %d,%v", i, s, ok)
		}
	}
	if waits == 0 {
		t.Error("the trie never waited for a grace period, yet two published versions and a working one of 3 chunks each leave 1 of 10 free")
	}
}

func FuzzTrie(f *testing.F) {
	f.Add([]byte{0, 1, 2, 24, 0xc0, 0, 0, 0, 1, 3, 4, 48, 0x80, 1, 2, 24, 0xff, 0, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 4*500 {
			return
		}
		trieOps(t, ops, 512)
	})
}
