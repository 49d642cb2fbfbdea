package fib

import "slices"

// builder is the writer side of one family's forwarding trie. It mutates a
// working root in place wherever the memory is its own and copies whatever a
// published snapshot may still be reading, so publishing is a single pointer
// store and readers never see a half-applied batch.
//
// Ownership: a node (and its children and leaves arrays) belongs to the
// batch whose generation is in node.gen. Nodes of older generations may be
// shared with published snapshots, so the builder copies one before the
// first write in a batch (path copying) and points its owned parent at the
// copy; nodes of the current generation were made by this batch and are
// written in place, their arrays growing like append does. A single update
// therefore copies only the nodes on its path — each 128 bytes plus its
// pointer and leaf arrays — and a bulk load copies each node once per batch.
//
// Every change is a window operation on one node: decode the slot values of
// a small slot range, change them, and splice the re-encoded runs back into
// the leaf array. The cost is the window (one slot for a /8, /16, /24 or
// /32) plus one memmove of the node's leaves, never a walk of the table or
// of the node's 256 slots.
//
// Not safe for concurrent use; the FIB serialises writers.
type builder[K key] struct {
	root    node
	gen     uint32
	touched bool // changed since the last publish
	// w is scratch for window operations, kept here so that no operation
	// clears a kilobyte of stack.
	w window
}

// maxDepth is the number of trie levels of the longest key (IPv6: 16).
const maxDepth = 16

func newBuilder[K key]() *builder[K] {
	return &builder[K]{gen: 1, root: newEmptyNode(0, 0)}
}

// ownRoot makes the root writable in the current batch. The root is held
// by value, so only its arrays need copying.
func (b *builder[K]) ownRoot() {
	b.touched = true
	if b.root.gen == b.gen {
		return
	}
	b.root.kids = slices.Clone(b.root.kids)
	if b.root.leaves != nil {
		b.root.leaves = slices.Clone(b.root.leaves)
	}
	b.root.gen = b.gen
}

// ownKid makes child i of the owned node n writable, copying it (and its
// arrays) if a snapshot may share it, and returns it.
func (b *builder[K]) ownKid(n *node, i int) *node {
	c := n.kids[i]
	if c.gen == b.gen {
		return c
	}
	cp := new(node)
	*cp = *c
	cp.kids = slices.Clone(c.kids)
	if c.leaves != nil {
		cp.leaves = slices.Clone(c.leaves)
	}
	cp.gen = b.gen
	n.kids[i] = cp
	return cp
}

// window is the decoded state of the slot range [a, e) of one node.
type window struct {
	a, e   int
	i0, i1 int // leaf runs starting before a, and before e
	vals   [256]uint32
	runs   [257]uint32 // re-encoded runs of the window, and one after it
}

// decode reads the values of slots [a, e): leaf values, or the def of the
// children there.
func (w *window) decode(n *node, a, e int) {
	w.a, w.e = a, e
	w.i0 = 0
	if a > 0 {
		w.i0 = n.run.rank(uint8(a - 1))
	}
	ci := 0
	if a > 0 {
		ci = n.child.rank(uint8(a - 1))
	}
	li := w.i0
	cur := uint32(0)
	if li > 0 {
		cur = n.leaves[li-1]
	}
	for s := a; s < e; s++ {
		if n.child.has(uint8(s)) {
			w.vals[s-a] = n.kids[ci].def
			ci++
			continue
		}
		if n.run.has(uint8(s)) {
			cur = n.leaves[li]
			li++
		}
		w.vals[s-a] = cur
	}
	w.i1 = li
}

// encode writes the window's values back into the owned node n, whose
// child bitset may have changed since decode inside the window (never
// outside it): child slots take their value as def (children whose def
// changes are copied first), leaf slots are re-encoded into runs and spliced
// into n.leaves, and the run boundary after the window is fixed up.
func (b *builder[K]) encode(n *node) {
	w := &b.w
	a, e := w.a, w.e
	prev, have := uint32(0), false
	if w.i0 > 0 {
		prev, have = n.leaves[w.i0-1], true
	}
	// The value of the first leaf slot after the window, before the change.
	t := e
	for t < 256 && n.child.has(uint8(t)) {
		t++
	}
	var tOld uint32
	tStart := t < 256 && n.run.has(uint8(t))
	if t < 256 {
		if tStart {
			tOld = n.leaves[w.i1]
		} else {
			tOld = n.leaves[w.i1-1]
		}
	}
	nl := w.runs[:0]
	ci := 0
	if a > 0 {
		ci = n.child.rank(uint8(a - 1))
	}
	for s := a; s < e; s++ {
		n.run.clear(uint8(s))
		v := w.vals[s-a]
		if n.child.has(uint8(s)) {
			if n.kids[ci].def != v {
				b.ownKid(n, ci).def = v
			}
			ci++
			continue
		}
		if !have || v != prev {
			n.run.set(uint8(s))
			nl = append(nl, v)
			prev, have = v, true
		}
	}
	hi := w.i1
	if t < 256 {
		need := !have || tOld != prev
		switch {
		case tStart && !need:
			n.run.clear(uint8(t))
			hi++
		case !tStart && need:
			n.run.set(uint8(t))
			nl = append(nl, tOld)
		}
	}
	n.leaves = slices.Replace(n.leaves, w.i0, hi, nl...)
	n.recount()
}

// step returns the child at slot s of the owned node n, creating it if
// needed, and owns it.
func (b *builder[K]) step(n *node, s uint8) *node {
	if !n.child.has(s) {
		b.w.decode(n, int(s), int(s)+1)
		i := 0
		if s > 0 {
			i = n.child.rank(s - 1)
		}
		c := newEmptyNode(b.w.vals[0], b.gen)
		n.kids = slices.Insert(n.kids, i, &c)
		n.child.set(s)
		b.encode(n)
	}
	return b.ownKid(n, n.child.rank(s)-1)
}

// span returns the node depth, relative length and first slot of a prefix
// of length l ≥ 1 on key k.
func span[K key](k K, l int) (d, r int, first int) {
	d = (l - 1) / 8
	r = l - 8*d
	first = int(k[d]) &^ (0xff >> r)
	return d, r, first
}

// set installs forwarding entry fe for the prefix k/l: every slot of the
// prefix not held by a longer prefix of the same node takes it. It is also
// how a prefix's entry is replaced.
func (b *builder[K]) set(k K, l int, fe uint32) {
	b.ownRoot()
	if l == 0 {
		b.root.def = fe << 4
		return
	}
	d, r, first := span(k, l)
	n := &b.root
	for i := 0; i < d; i++ {
		n = b.step(n, k[i])
	}
	w := &b.w
	w.decode(n, first, first+1<<(8-r))
	v := fe<<4 | uint32(r)
	for j := range w.e - w.a {
		if w.vals[j]&15 <= uint32(r) {
			w.vals[j] = v
		}
	}
	b.encode(n)
}

// clear removes the prefix k/l: its slots fall back to repl, the packed
// value (with its own rlen) of the longest prefix of the same node that
// covers k/l, or 0 when there is none. The caller finds repl in the
// authoritative tree. Nodes left empty are removed.
func (b *builder[K]) clear(k K, l int, repl uint32) {
	b.ownRoot()
	if l == 0 {
		b.root.def = 0
		return
	}
	d, r, first := span(k, l)
	var path [maxDepth]*node
	n := &b.root
	for i := 0; i < d; i++ {
		if !n.child.has(k[i]) {
			return // nothing of k/l is in the trie
		}
		path[i] = n
		n = b.step(n, k[i])
	}
	w := &b.w
	w.decode(n, first, first+1<<(8-r))
	for j := range w.e - w.a {
		if w.vals[j]&15 == uint32(r) {
			w.vals[j] = repl
		}
	}
	b.encode(n)
	for i := d - 1; i >= 0 && isEmpty(n); i-- {
		n = path[i]
		b.removeChild(n, k[i])
	}
}

// isEmpty reports whether a node holds no prefix and no child.
func isEmpty(n *node) bool {
	if n.child != (bitset{}) {
		return false
	}
	for _, v := range n.leaves {
		if v != 0 {
			return false
		}
	}
	return true
}

// removeChild drops the child at slot s of the owned node n; the slot
// becomes a leaf holding the child's def.
func (b *builder[K]) removeChild(n *node, s uint8) {
	w := &b.w
	w.decode(n, int(s), int(s)+1)
	i := n.child.rank(s) - 1
	n.kids = slices.Delete(n.kids, i, i+1)
	n.child.clear(s)
	b.encode(n)
}

// inBatch reports whether the builder has unpublished changes.
func (b *builder[K]) inBatch() bool { return b.touched }

// publish finishes the batch and returns the root by value for a snapshot.
// The next batch starts a new generation, so nothing the snapshot
// references is written again.
func (b *builder[K]) publish() node {
	b.gen++
	b.touched = false
	return b.root
}

// abort drops the current batch's changes by restoring the root published
// last; memory the batch allocated becomes garbage.
func (b *builder[K]) abort(last node) {
	b.root = last
	b.gen++
	b.touched = false
}
