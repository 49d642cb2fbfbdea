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
// at least one leaf. Ranks are one popcount: cc and rc hold the count of set
// bits before each 64-bit word, so a step has no loop and no switch.
//
// Values are packed: fe<<4 | rlen, where fe is the forwarding-entry index
// (never 0 for a route) and rlen the relative length of the prefix that put
// it there (writers need it to know which slots a longer or shorter prefix
// may overwrite; readers shift it away). 0 means "no prefix here".
//
// Lookup cost bound: at most one node per address byte (4 for IPv4, 16 for
// IPv6) and one leaf. A node is 128 bytes in two cache lines: a step into a
// child reads the first (child bitset, counts, def, children) and the
// child pointer; a leaf read adds the second (run bitset, counts, leaves)
// and the leaf. So an IPv4 lookup reads at most 4×3 + 2 = 14 cache lines, an
// IPv6 lookup at most 16×3 + 2 = 50, whatever the table size; the real
// tables finish most IPv4 lookups at depth 2 (/24) and most IPv6 ones at
// depth 5 (/48).
//
// Children are held by pointer so that a single-route update copies only
// the nodes on its path and their pointer arrays (a few KiB), never a
// parent's whole array of nodes.
type node struct {
	// First cache line: what a step into a child reads.
	child bitset
	cc    [4]uint8 // set bits of child before each word
	def   uint32   // packed value pushed down from the parent's slot
	kids  []*node

	// Second cache line: what a leaf read adds.
	run    bitset
	rc     [4]uint8 // set bits of run before each word
	gen    uint32   // writer batch that owns this node and its arrays
	leaves []uint32
}

// recount refreshes the cumulative counts after the bitsets changed.
func (n *node) recount() {
	n.cc = n.child.prefixCounts()
	n.rc = n.run.prefixCounts()
}

// bitset is a 256-bit set, one bit per slot.
type bitset [4]uint64

func (b *bitset) has(i uint8) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b *bitset) set(i uint8)      { b[i>>6] |= 1 << (i & 63) }
func (b *bitset) clear(i uint8)    { b[i>>6] &^= 1 << (i & 63) }

// rank returns the number of set bits at positions ≤ i.
func (b *bitset) rank(i uint8) int {
	n := bits.OnesCount64(b[i>>6] & (^uint64(0) >> (63 - i&63)))
	for w := range i >> 6 {
		n += bits.OnesCount64(b[w])
	}
	return n
}

// prefixCounts returns, per word, the number of set bits in the words
// before it.
func (b *bitset) prefixCounts() [4]uint8 {
	c0 := bits.OnesCount64(b[0])
	c1 := c0 + bits.OnesCount64(b[1])
	c2 := c1 + bits.OnesCount64(b[2])
	return [4]uint8{0, uint8(c0), uint8(c1), uint8(c2)}
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
	return node{run: bitset{1}, rc: [4]uint8{0, 1, 1, 1}, def: def, gen: gen, leaves: leaves}
}

// lookup returns the packed value of the longest prefix matching k, or 0.
// It only reads, so any number of goroutines may run it on a published root.
func lookup[K key](root *node, k K) uint32 {
	best := root.def
	n := root
	for d := 0; d < len(k); d++ {
		b := k[d]
		w := b >> 6
		below := ^uint64(0) >> (63 - b&63) // bits ≤ b in its word
		if cw := n.child[w]; cw&(1<<(b&63)) != 0 {
			n = n.kids[int(n.cc[w])+bits.OnesCount64(cw&below)-1]
			if n.def != 0 {
				best = n.def
			}
			continue
		}
		if v := n.leaves[int(n.rc[w])+bits.OnesCount64(n.run[w]&below)-1]; v != 0 {
			return v
		}
		break
	}
	return best
}
