package fib

import "net/netip"

// record is one route of one source: the unit the authoritative tree tags.
// 16 bytes for IPv4, 28 for IPv6.
type record[K key] struct {
	addr  K
	bits  uint8
	pref  Preference
	src   uint16 // registry source ID; 0 marks a free record
	next  uint32 // forwarding-entry index
	stamp uint32 // resync generation of the source when last written
}

// family is one address family of one FIB: the authoritative tree, the
// route records it tags, and the builder of the forwarding trie. All of it
// is guarded by the FIB's writer mutex.
type family[K key] struct {
	tree  authTree[K]
	recs  []record[K]
	free  []uint32
	b     *builder[K]
	count int // live records (routes, counting each source)

	undo []undoEntry[K]
	dead []uint32 // records deleted in this batch, freed at commit

	buf []uint32
	// found/foundOK carry kentik's update callback result out of add; the
	// callbacks are made once per family so that no call allocates.
	found    uint32
	foundOK  bool
	matchSrc func(a, b uint32) bool
	update   func(a uint32) uint32

	// better orders two records of the same prefix; set by the FIB (it
	// needs source names).
	better func(a, b *record[K]) bool

	// deferTrie, during a parallel batch, leaves the forwarding trie to the
	// other goroutine: refresh only notes prefixes whose optimistic entry
	// may be wrong, in dirty, for fixDirty afterwards.
	deferTrie bool
	dirty     []dirtyPrefix[K]
}

type dirtyPrefix[K key] struct {
	k K
	l int
}

func (f *family[K]) setDefer(on bool) { f.deferTrie = on }

// fixDirty recomputes the forwarding trie for the prefixes a parallel batch
// noted, from the tree's final state.
func (f *family[K]) fixDirty() {
	for _, d := range f.dirty {
		f.refresh(d.k, d.l, 0)
	}
	f.dirty = f.dirty[:0]
}

type undoKind uint8

const (
	undoAdded undoKind = iota
	undoModified
	undoDeleted
)

type undoEntry[K key] struct {
	kind undoKind
	id   uint32
	old  record[K]
}

func newFamily[K key](tree authTree[K], better func(a, b *record[K]) bool) *family[K] {
	f := &family[K]{tree: tree, b: newBuilder[K](), recs: make([]record[K], 1), better: better}
	f.matchSrc = func(a, b uint32) bool { return f.recs[a].src == f.recs[b].src }
	f.update = func(a uint32) uint32 {
		f.found, f.foundOK = a, true
		return a
	}
	return f
}

func (f *family[K]) alloc() uint32 {
	if n := len(f.free); n > 0 {
		id := f.free[n-1]
		f.free = f.free[:n-1]
		return id
	}
	f.recs = append(f.recs, record[K]{})
	return uint32(len(f.recs) - 1)
}

// find returns the record of source src for exactly k/l.
func (f *family[K]) find(k K, l int, src uint16) (uint32, bool) {
	f.buf = f.tree.deepest(f.buf[:0], k, l)
	for _, id := range f.buf {
		r := &f.recs[id]
		if int(r.bits) == l && r.src == src {
			return id, true
		}
	}
	return 0, false
}

// upsert installs or updates src's route for k/l. With mustExist it fails
// (ok false) when src has no route there. It returns whether a record was
// added and, when one was updated, the entry it referenced before.
func (f *family[K]) upsert(k K, l int, src uint16, pref Preference, next, stamp uint32, mustExist bool) (added bool, oldNext uint32, ok bool) {
	if mustExist {
		id, found := f.find(k, l, src)
		if !found {
			return false, 0, false
		}
		alone := len(f.buf) == 1 // find left the prefix's tags in buf
		r := &f.recs[id]
		f.undo = append(f.undo, undoEntry[K]{kind: undoModified, id: id, old: *r})
		oldNext = r.next
		r.pref, r.next, r.stamp = pref, next, stamp
		only := uint32(0)
		if alone {
			only = id
		}
		f.refresh(k, l, only)
		return false, oldNext, true
	}
	id := f.alloc()
	f.recs[id] = record[K]{addr: k, bits: uint8(l), pref: pref, src: src, next: next, stamp: stamp}
	f.foundOK = false
	added, n := f.tree.add(k, l, id, f.matchSrc, f.update)
	if !added {
		f.recs[id] = record[K]{}
		f.free = append(f.free, id)
		id = f.found
		r := &f.recs[id]
		f.undo = append(f.undo, undoEntry[K]{kind: undoModified, id: id, old: *r})
		oldNext = r.next
		r.pref, r.next, r.stamp = pref, next, stamp
	} else {
		f.undo = append(f.undo, undoEntry[K]{kind: undoAdded, id: id})
		f.count++
	}
	only := uint32(0)
	if n == 1 {
		only = id
	}
	f.refresh(k, l, only)
	return added, oldNext, true
}

// remove deletes src's route for k/l, returning the entry it referenced.
// One walk of the tree finds both the route and, when it was the prefix's
// only one, the covering prefix its trie slots fall back to.
func (f *family[K]) remove(k K, l int, src uint16) (next uint32, ok bool) {
	f.buf = f.tree.all(f.buf[:0], k, l)
	var id uint32
	others := 0
	for _, t := range f.buf {
		r := &f.recs[t]
		if int(r.bits) != l {
			continue
		}
		if r.src == src {
			id = t
		} else {
			others++
		}
	}
	if id == 0 {
		return 0, false
	}
	repl := f.ancestorIn(f.buf, l)
	f.tree.remove(f.buf[:0], k, l, id)
	f.undo = append(f.undo, undoEntry[K]{kind: undoDeleted, id: id})
	f.dead = append(f.dead, id)
	f.count--
	switch {
	case others > 0:
		f.refresh(k, l, 0)
	case f.deferTrie:
		f.dirty = append(f.dirty, dirtyPrefix[K]{k, l})
	default:
		// The prefix's only route went: its slots fall back to the
		// longest covering prefix, with no search for another source.
		f.b.clear(k, l, repl)
	}
	return f.recs[id].next, true
}

// refresh puts the best remaining route of k/l into the forwarding trie.
// only, when not 0, is known to be k/l's only route, which lets the common
// single-source case skip the search.
func (f *family[K]) refresh(k K, l int, only uint32) {
	if f.deferTrie {
		if only == 0 {
			f.dirty = append(f.dirty, dirtyPrefix[K]{k, l})
		}
		return
	}
	if only != 0 {
		f.b.set(k, l, f.recs[only].next)
		return
	}
	best := f.best(k, l)
	if best == 0 {
		f.b.clear(k, l, f.ancestor(k, l))
		return
	}
	f.b.set(k, l, f.recs[best].next)
}

// best returns the preferred record for exactly k/l, or 0.
func (f *family[K]) best(k K, l int) uint32 {
	f.buf = f.tree.deepest(f.buf[:0], k, l)
	var best uint32
	for _, id := range f.buf {
		r := &f.recs[id]
		if int(r.bits) != l {
			continue
		}
		if best == 0 || f.better(r, &f.recs[best]) {
			best = id
		}
	}
	return best
}

// ancestor returns the packed trie value of the longest prefix that covers
// k/l within the same trie node (what k/l's slots fall back to), or 0.
func (f *family[K]) ancestor(k K, l int) uint32 {
	if l == 0 {
		return 0
	}
	f.buf = f.tree.all(f.buf[:0], k, l-1)
	return f.ancestorIn(f.buf, l)
}

// ancestorIn is ancestor over tags already collected along the path to
// k/l; tags of k/l itself and of longer prefixes are ignored.
func (f *family[K]) ancestorIn(tags []uint32, l int) uint32 {
	if l == 0 {
		return 0
	}
	floor := 8 * ((l - 1) / 8)
	var best uint32
	for _, id := range tags {
		r := &f.recs[id]
		if int(r.bits) <= floor || int(r.bits) >= l {
			continue
		}
		if best == 0 || r.bits > f.recs[best].bits || (r.bits == f.recs[best].bits && f.better(r, &f.recs[best])) {
			best = id
		}
	}
	if best == 0 {
		return 0
	}
	r := &f.recs[best]
	return r.next<<4 | uint32(int(r.bits)-floor)
}

// commit frees the records deleted in the batch and forgets the undo log.
func (f *family[K]) commit() {
	for _, id := range f.dead {
		f.recs[id] = record[K]{}
		f.free = append(f.free, id)
	}
	f.dead = f.dead[:0]
	f.undo = f.undo[:0]
}

// rollback undoes the batch in the tree and the records, in reverse order.
// The caller restores the trie from the last snapshot.
func (f *family[K]) rollback() {
	for i := len(f.undo) - 1; i >= 0; i-- {
		u := &f.undo[i]
		r := &f.recs[u.id]
		switch u.kind {
		case undoAdded:
			f.tree.remove(f.buf[:0], r.addr, int(r.bits), u.id)
			f.recs[u.id] = record[K]{}
			f.free = append(f.free, u.id)
			f.count--
		case undoModified:
			*r = u.old
		case undoDeleted:
			f.tree.add(r.addr, int(r.bits), u.id, nil, nil)
			f.count++
		}
	}
	f.undo = f.undo[:0]
	f.dead = f.dead[:0]
}

// prefixOf rebuilds a record's prefix.
func prefixOf[K key](r *record[K]) netip.Prefix {
	var a netip.Addr
	switch k := any(r.addr).(type) {
	case [4]byte:
		a = netip.AddrFrom4(k)
	case [16]byte:
		a = netip.AddrFrom16(k)
	}
	return netip.PrefixFrom(a, int(r.bits))
}
