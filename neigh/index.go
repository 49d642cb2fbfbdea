package neigh

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/fibd/fibd/fib/adj"
)

// index finds entries by key without a lock: an open-addressing hash with
// linear probing whose slot array is published through an atomic pointer.
//
// Readers load the array and probe it; they never wait. Writers hold
// Table.mu: an insert stores the entry into a free slot (a reader sees the
// slot either empty or filled), a delete stores the tombstone, and growth or
// a tombstone purge builds a new array and swaps the pointer, leaving the
// old one intact for readers still walking it. A reader holding an old
// array may find an entry that was just removed; removal marks the entry's
// state word None first, so such a hit reads as a miss.
type index struct {
	tab atomic.Pointer[slots]
	// seed randomises the hash so that addresses an attacker picks do not
	// collide on every router. Immutable after New.
	seed uint64

	// Guarded by Table.mu.
	live int // entries in the current array
	used int // live + tombstones in the current array
}

type slots struct {
	s    []atomic.Pointer[entry]
	mask uint64
}

// tombstone marks a deleted slot so probe chains through it stay intact.
var tombstone = new(entry)

const minSlots = 64

// hash mixes the whole key; the zone is ignored because keys never carry one.
func (ix *index) hash(k adj.Key) uint64 {
	a := k.Addr.As16()
	h := ix.seed ^ (uint64(k.FIB)<<32 | uint64(k.Port))
	h = mix64(h ^ binary.BigEndian.Uint64(a[:8]))
	return mix64(h ^ binary.BigEndian.Uint64(a[8:]))
}

// mix64 is the MurmurHash3 finaliser: every input bit affects every output
// bit, so linear probing on the low bits stays short.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// find returns the entry for k, or nil. Safe without any lock.
func (ix *index) find(k adj.Key) *entry {
	t := ix.tab.Load()
	if t == nil {
		return nil
	}
	for i := ix.hash(k) & t.mask; ; i = (i + 1) & t.mask {
		e := t.s[i].Load()
		if e == nil {
			return nil
		}
		if e != tombstone && e.key == k {
			return e
		}
	}
}

// insertLocked adds e, whose key must not be present.
func (ix *index) insertLocked(e *entry) {
	t := ix.tab.Load()
	// Keep at most half the slots used so probe chains stay short and a
	// reader always reaches an empty slot.
	if t == nil || 2*(ix.used+1) > len(t.s) {
		t = ix.rebuildLocked(ix.live + 1)
	}
	for i := ix.hash(e.key) & t.mask; ; i = (i + 1) & t.mask {
		switch t.s[i].Load() {
		case nil:
			ix.used++
			fallthrough
		case tombstone:
			t.s[i].Store(e)
			ix.live++
			return
		}
	}
}

// deleteLocked removes e if it is present.
func (ix *index) deleteLocked(e *entry) {
	t := ix.tab.Load()
	if t == nil {
		return
	}
	for i := ix.hash(e.key) & t.mask; ; i = (i + 1) & t.mask {
		switch t.s[i].Load() {
		case nil:
			return
		case e:
			t.s[i].Store(tombstone)
			ix.live--
			return
		}
	}
}

// rebuildLocked publishes a fresh array sized for want live entries (a
// quarter full, so the table can double before the next rebuild) holding
// the current entries and no tombstones.
func (ix *index) rebuildLocked(want int) *slots {
	n := minSlots
	for n < 4*want {
		n <<= 1
	}
	nt := &slots{s: make([]atomic.Pointer[entry], n), mask: uint64(n - 1)}
	live := 0
	if old := ix.tab.Load(); old != nil {
		for i := range old.s {
			e := old.s[i].Load()
			if e == nil || e == tombstone {
				continue
			}
			for j := ix.hash(e.key) & nt.mask; ; j = (j + 1) & nt.mask {
				if nt.s[j].Load() == nil {
					nt.s[j].Store(e)
					break
				}
			}
			live++
		}
	}
	ix.tab.Store(nt)
	ix.live, ix.used = live, live
	return nt
}

// shrinkLocked drops the array to a quarter-full size when deletions have
// left it mostly empty, so a FIB that once held many entries gives the
// memory back.
func (ix *index) shrinkLocked() {
	t := ix.tab.Load()
	if t != nil && len(t.s) > minSlots && 16*ix.live < len(t.s) {
		ix.rebuildLocked(ix.live)
	}
}
