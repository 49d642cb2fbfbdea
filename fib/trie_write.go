package fib

import (
	"math/bits"
	"slices"
	"sync"
)

// builder is the writer side of one family's forwarding trie. It mutates a
// working root in place wherever the memory is its own and copies whatever a
// published snapshot may still be reading, so publishing is a single pointer
// store and readers never see a half-applied batch.
//
// Ownership: a node's children array belongs to the batch whose generation is
// in node.gen. Arrays of older generations may be shared with published
// snapshots, so the builder copies them before the first write in a batch
// (path copying); arrays of the current generation were made by this batch
// and are written in place. Leaf arrays are never written in place: encoding
// always allocates a fresh, exactly sized one.
//
// To make bulk loads cheap the builder keeps a cursor: the path from the root
// to the node last written, each level optionally expanded into 256 plain
// slot values. Consecutive changes in the same node (file order puts the
// /24s of a /16 next to each other) cost a few slot writes; the node is
// re-encoded once, when the cursor leaves it or the batch is published.
//
// Not safe for concurrent use; the FIB serialises writers.
type builder[K key] struct {
	root node
	gen  uint32
	// c is the cursor of the batch in progress; nil between batches. It is
	// 16 KiB of scratch, so FIBs borrow one from a pool while they write
	// instead of each keeping its own: an idle FIB costs little memory.
	c *cursor
}

type cursor struct {
	path  [maxDepth]level
	depth int      // path[0..depth] are valid; path[0] is the root
	at    [16]byte // key bytes leading to path[depth]
}

var cursorPool = sync.Pool{New: func() any { return new(cursor) }}

// begin makes sure a batch is in progress and returns its cursor.
func (b *builder[K]) begin() *cursor {
	if b.c == nil {
		b.c = cursorPool.Get().(*cursor)
		b.c.depth = 0
		b.c.path[0] = level{n: &b.root}
	}
	return b.c
}

// end returns the cursor to the pool.
func (b *builder[K]) end() {
	if b.c == nil {
		return
	}
	for i := range b.c.path {
		b.c.path[i].n, b.c.path[i].expanded, b.c.path[i].dirty = nil, false, false
	}
	cursorPool.Put(b.c)
	b.c = nil
}

// inBatch reports whether the builder has unpublished changes.
func (b *builder[K]) inBatch() bool { return b.c != nil }

// maxDepth is the number of trie levels of the longest key (IPv6: 16).
const maxDepth = 16

type level struct {
	n        *node
	expanded bool
	dirty    bool
	vals     [256]uint32
}

func newBuilder[K key]() *builder[K] {
	return &builder[K]{gen: 1, root: newEmptyNode(0, 0)}
}

// own makes n's children array writable in the current batch.
func (b *builder[K]) own(n *node) {
	if n.gen == b.gen {
		return
	}
	if len(n.children) > 0 {
		n.children = slices.Clone(n.children)
	}
	n.gen = b.gen
}

// expand decodes a level's node into plain slot values.
func (l *level) expand() {
	if l.expanded {
		return
	}
	n := l.n
	li, ci := -1, 0
	for s := 0; s < 256; s++ {
		if n.child.has(uint8(s)) {
			l.vals[s] = n.children[ci].def
			ci++
			continue
		}
		if n.run.has(uint8(s)) {
			li++
		}
		l.vals[s] = n.leaves[li]
	}
	l.expanded = true
}

// encode writes a level's slot values back into its node: child slots into
// the children's def, leaf slots into a new run-length encoded leaf array.
func (l *level) encode() {
	n := l.n
	var run bitset
	runs, ci := 0, 0
	prev, first, allZero := uint32(0), true, true
	for s := 0; s < 256; s++ {
		v := l.vals[s]
		if n.child.has(uint8(s)) {
			n.children[ci].def = v
			ci++
			continue
		}
		if first || v != prev {
			run.set(uint8(s))
			runs++
			prev, first = v, false
			allZero = allZero && v == 0
		}
	}
	switch {
	case runs == 0:
		n.leaves = nil
	case allZero:
		n.leaves = emptyLeaves[:1:1]
	default:
		leaves := make([]uint32, 0, runs)
		for w, word := range run {
			for word != 0 {
				s := w<<6 | bits.TrailingZeros64(word)
				leaves = append(leaves, l.vals[s])
				word &= word - 1
			}
		}
		n.leaves = leaves
	}
	n.run = run
	l.dirty = false
}

// isEmpty reports whether a node holds no prefix and no child.
func (l *level) isEmpty() bool {
	n := l.n
	if n.child != (bitset{}) {
		return false
	}
	if l.expanded {
		for _, v := range l.vals {
			if v != 0 {
				return false
			}
		}
		return true
	}
	for _, v := range n.leaves {
		if v != 0 {
			return false
		}
	}
	return true
}

// flushTo re-encodes and pops cursor levels deeper than keep, removing nodes
// that became empty from their parents.
func (c *cursor) flushTo(keep int) {
	for ; c.depth > keep; c.depth-- {
		l := &c.path[c.depth]
		if l.dirty {
			l.encode()
		}
		if l.isEmpty() {
			c.removeChild(c.depth-1, c.at[c.depth-1])
		}
		l.expanded, l.dirty, l.n = false, false, nil
	}
	if keep == 0 {
		l := &c.path[0]
		if l.dirty {
			l.encode()
		}
	}
}

// removeChild drops the child at slot s of path[d]'s node. The slot's value
// (the child's def) stays in the parent's expanded values, and the parent is
// re-encoded so the slot becomes a leaf again.
func (c *cursor) removeChild(d int, s uint8) {
	p := &c.path[d]
	p.expand() // reads the child's def before it goes
	n := p.n
	i := n.child.rank(s) - 1
	n.children = slices.Delete(n.children, i, i+1)
	n.child.clear(s)
	p.dirty = true
}

// seek moves the cursor to the node at depth d on the way to k, creating
// nodes as needed, and returns its level.
func (b *builder[K]) seek(k K, d int) *level {
	c := b.begin()
	keep := 0
	for keep < c.depth && keep < d && c.at[keep] == k[keep] {
		keep++
	}
	c.flushTo(keep)
	b.own(c.path[0].n)
	for c.depth < d {
		p := &c.path[c.depth]
		s := k[c.depth]
		n := p.n
		if !n.child.has(s) {
			p.expand()
			i := n.child.rank(s) // children before s
			n.children = slices.Insert(n.children, i, newEmptyNode(p.vals[s], b.gen))
			n.child.set(s)
			p.dirty = true
		}
		child := &n.children[n.child.rank(s)-1]
		b.own(child)
		c.at[c.depth] = s
		c.depth++
		c.path[c.depth] = level{n: child}
	}
	return &c.path[d]
}

// span returns the node depth, relative length and first slot of a prefix
// of length l ≥ 1 on key k.
func span[K key](k K, l int) (d, r int, first int) {
	d = (l - 1) / 8
	r = l - 8*d
	first = int(k[d]) &^ (0xff >> r)
	return d, r, first
}

// set installs packed value v (without rlen; set adds it) for the prefix
// k/l: every slot of the prefix not held by a longer prefix of the same node
// takes v. It is also how a prefix's value is replaced.
func (b *builder[K]) set(k K, l int, fe uint32) {
	if l == 0 {
		b.begin()
		b.own(&b.root)
		b.root.def = fe << 4
		return
	}
	d, r, first := span(k, l)
	lv := b.seek(k, d)
	lv.expand()
	v := fe<<4 | uint32(r)
	for s := first; s < first+1<<(8-r); s++ {
		if lv.vals[s]&15 <= uint32(r) {
			lv.vals[s] = v
		}
	}
	lv.dirty = true
}

// clear removes the prefix k/l: its slots fall back to repl, the packed
// value (with its own rlen) of the longest prefix of the same node that
// covers k/l, or 0 when there is none. The caller finds repl in the
// authoritative tree.
func (b *builder[K]) clear(k K, l int, repl uint32) {
	if l == 0 {
		b.begin()
		b.own(&b.root)
		b.root.def = 0
		return
	}
	d, r, first := span(k, l)
	lv := b.seek(k, d)
	lv.expand()
	for s := first; s < first+1<<(8-r); s++ {
		if lv.vals[s]&15 == uint32(r) {
			lv.vals[s] = repl
		}
	}
	lv.dirty = true
}

// publish finishes the batch: every cursor level is encoded, and the root is
// returned by value for a snapshot. The next batch starts a new generation,
// so nothing the snapshot references is written again.
func (b *builder[K]) publish() node {
	if b.c != nil {
		b.c.flushTo(0)
		b.end()
	}
	b.gen++
	return b.root
}

// abort drops the current batch's changes by restoring the root published
// last; memory the batch allocated becomes garbage.
func (b *builder[K]) abort(last node) {
	b.end()
	b.root = last
	b.gen++
}
