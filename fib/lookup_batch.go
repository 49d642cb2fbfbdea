package fib

import (
	"math/bits"
	"net/netip"
)

// lanes is how many lookups LookupBatch walks side by side. Each level of
// each lane is an independent load, so a core with ~20 outstanding misses
// overlaps eight lookups' worth of them instead of waiting for one lookup's
// chain at a time; a mispredicted branch in one lane only delays the lanes
// after it, whose loads are already on their way.
const lanes = 8

// LookupBatch looks up every address in addrs and stores the forwarding
// entries in out (which must be at least as long), like calling Lookup for
// each, but with the lookups interleaved level by level so their cache
// misses overlap. The packet path, which holds a batch of packets anyway,
// gets the same answers faster. Lock-free and allocation-free; the whole
// batch is answered from one snapshot.
func (f *FIB) LookupBatch(addrs []netip.Addr, out []*Next) {
	s := f.snap.Load()
	out = out[:len(addrs)]
	for base := 0; base < len(addrs); base += lanes {
		m := min(lanes, len(addrs)-base)
		var (
			n      [lanes]*node
			best   [lanes]uint32
			res    [lanes]uint32
			key    [lanes][16]byte
			depth  [lanes]uint8
			active uint32
		)
		for i := 0; i < m; i++ {
			a := addrs[base+i]
			if a.Is4() {
				k := a.As4()
				copy(key[i][:], k[:])
				n[i], depth[i] = &s.v4, 4
			} else {
				key[i] = a.As16()
				n[i], depth[i] = &s.v6, 16
			}
			best[i] = n[i].def
			active |= 1 << i
		}
		for d := 0; active != 0; d++ {
			for i := 0; i < m; i++ {
				if active&(1<<i) == 0 {
					continue
				}
				if d == int(depth[i]) {
					res[i] = best[i]
					active &^= 1 << i
					continue
				}
				nd := n[i]
				b := key[i][d]
				w := b >> 6
				below := ^uint64(0) >> (63 - b&63)
				if cw := nd.child[w]; cw&(1<<(b&63)) != 0 {
					c := nd.kids[int(nd.cc[w])+bits.OnesCount64(cw&below)-1]
					n[i] = c
					if c.def != 0 {
						best[i] = c.def
					}
					continue
				}
				v := nd.leaves[int(nd.rc[w])+bits.OnesCount64(nd.run[w]&below)-1]
				if v == 0 {
					v = best[i]
				}
				res[i] = v
				active &^= 1 << i
			}
		}
		for i := 0; i < m; i++ {
			j := res[i] >> 4
			out[base+i] = s.nexts[j>>nextChunkBits][j&(nextChunkSize-1)]
		}
	}
}
