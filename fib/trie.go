package fib

import "math/bits"

// The forwarding trie: the read-optimised representation of one FIB family,
// derived from the authoritative patricia tree and published atomically with
// each batch. It is not a cache: it holds every prefix the tree holds (as
// the forwarding entry of its best route), never misses and falls back, and
// has no eviction.
//
// Shape: a multibit trie with a stride of 8 bits — one level per address
// byte, so IPv4 (4 levels) and IPv6 (16 levels) run the same code on a
// [4]byte or [16]byte key. Stride 8 puts the common prefix lengths (/8, /16,
// /24; /32, /48 in IPv6) on a level boundary, so most lookups end one level
// earlier than with poptrie's stride 6.
//
// Each node covers 256 slots (the next address byte). A prefix of length L
// lives in the node at depth d = (L-1)/8 and covers 2^(8-r) consecutive slots
// there, r = L-8d its length relative to the node ("rlen", 1..8). A slot
// holds either
//   - a child node (bit set in node.child): longer prefixes exist below it.
//     The value the slot would have had — the longest prefix of this node's
//     span that covers it — is pushed into the child as child.def; or
//   - a leaf: the longest prefix of this node's span covering the slot, or 0
//     when none does (the lookup then returns the best value seen higher up).
//
// Leaf pushing is confined to one node (a prefix is expanded only over the
// slots of its own node), so changing a short prefix touches one node plus
// the def of its direct children, never a whole subtree: updates stay
// bounded however much the prefix covers.
//
// Leaves are run-length compressed as in poptrie: node.run marks the slots
// where a new run of equal leaf values begins (child slots are skipped and
// never break a run), and leaves[rank(run, slot)-1] is the slot's value. The
// first non-child slot always begins a run, so a node with any leaf slot has
// at least one leaf.
//
// Values are packed: fe<<4 | rlen, where fe is the forwarding-entry index
// (never 0 for a route) and rlen the relative length of the prefix that put
// it there (writers need it to know which slots a longer or shorter prefix
// may overwrite; readers shift it away). 0 means "no prefix here".
//
// Lookup cost bound: at most one node per address byte (4 for IPv4, 16 for
// IPv6) and one leaf read. Per level the reader touches the node (its two
// 32-byte bitmaps, def and slice headers: two cache lines) and then either
// the child node — stored by value in the parent's children array, so it is
// the next level's node itself — or the leaf. So an IPv4 lookup is at most
// 4 nodes + 1 leaf = 9 cache lines, an IPv6 lookup at most 16 nodes + 1 leaf,
// whatever the table size. The real tables finish most IPv4 lookups at
// depth 2 (/24) and most IPv6 ones at depth 5 (/48).
type node struct {
	child    bitset
	run      bitset
	def      uint32 // packed value pushed down from the parent's slot
	gen      uint32 // writer batch that owns children (copy-on-write marker)
	children []node
	leaves   []uint32
}

// bitset is a 256-bit set, one bit per slot.
type bitset [4]uint64

func (b *bitset) has(i uint8) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b *bitset) set(i uint8)      { b[i>>6] |= 1 << (i & 63) }
func (b *bitset) clear(i uint8)    { b[i>>6] &^= 1 << (i & 63) }

// rank returns the number of set bits at positions ≤ i.
func (b *bitset) rank(i uint8) int {
	w := i >> 6
	n := bits.OnesCount64(b[w&3] & (^uint64(0) >> (63 - i&63)))
	switch w {
	case 3:
		n += bits.OnesCount64(b[2])
		fallthrough
	case 2:
		n += bits.OnesCount64(b[1])
		fallthrough
	case 1:
		n += bits.OnesCount64(b[0])
	}
	return n
}

func (b *bitset) count() int {
	return bits.OnesCount64(b[0]) + bits.OnesCount64(b[1]) + bits.OnesCount64(b[2]) + bits.OnesCount64(b[3])
}

// key is an address as the trie sees it: one byte per level.
type key interface{ [4]byte | [16]byte }

// emptyLeaves is the leaf array of a node with no prefixes: one run of 0
// starting at slot 0. Shared, never written.
var emptyLeaves = []uint32{0}

// newEmptyNode returns a node with no prefix and no child. Generation 0 (a
// node no batch owns) shares emptyLeaves; a node made by a batch gets its
// own array, since the batch may write it in place.
func newEmptyNode(def, gen uint32) node {
	leaves := emptyLeaves
	if gen != 0 {
		leaves = []uint32{0}
	}
	return node{run: bitset{1}, def: def, gen: gen, leaves: leaves}
}

// lookup returns the packed value of the longest prefix matching k, or 0.
// It only reads, so any number of goroutines may run it on a published root.
func lookup[K key](root *node, k K) uint32 {
	best := root.def
	n := root
	for d := 0; d < len(k); d++ {
		b := k[d]
		if n.child.has(b) {
			n = &n.children[n.child.rank(b)-1]
			if n.def != 0 {
				best = n.def
			}
			continue
		}
		if v := n.leaves[n.run.rank(b)-1]; v != 0 {
			return v
		}
		break
	}
	return best
}
