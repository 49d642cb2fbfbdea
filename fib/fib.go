package fib

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/fibd/fibd/fib/adj"
)

// snapshot is one published version of a FIB: both families' trie roots and
// the forwarding-entry table they index. Immutable once stored; readers load
// the pointer once per lookup and so always see one whole batch.
type snapshot struct {
	v4, v6  node
	nexts   [][]*Next
	version uint64
}

// FIB is one forwarding information base.
//
// Concurrency: Lookup, Version and the other read methods documented as
// lock-free never block and may run on any number of goroutines while a
// writer applies a batch; they see either the whole batch or none of it.
// Writers (Apply and everything that changes routes or addresses) serialise
// on the FIB's mutex. Old snapshots are reclaimed by the garbage collector
// once no reader holds them, so readers need no registration.
type FIB struct {
	id   adj.FIBID
	reg  *Registry
	snap atomic.Pointer[snapshot]
	// addrs is the published view of interface addresses, for the
	// dataplane (source selection, "is this mine").
	addrs atomic.Pointer[addrView]

	mu struct {
		sync.Mutex
		v4     *family[[4]byte]
		v6     *family[[16]byte]
		nexts  nextTable
		limits Limits
		// stamps is each source's current resync generation; resyncing
		// holds the sources whose resync is running.
		stamps    map[uint16]uint32
		resyncing map[uint16]struct{}
		// bySource counts routes per source and family, for limits and
		// listings.
		bySource map[uint16]*[2]int
		addrs    map[adj.PortID][]netip.Prefix
		version  uint64
		// lastSrc caches the last source the running batch pinned;
		// batchSrcs lists every source it pinned (sources.go).
		lastSrc   string
		lastSrcID uint16
		batchSrcs []uint16
		// leakUndo lists the leak routes the running batch recorded
		// (leaks.go).
		leakUndo []leakUndo
		deleted  bool
		// prep is the batch scratch of prepared entries, kept between
		// batches.
		prep []prepared
		opts ApplyOptions // of the batch being applied
		// groups are the next-hop groups by ID; groupUndo the running
		// batch's group changes (groups.go).
		groups    map[uint32]*group
		groupUndo []groupUndo
		// groupSrcs counts the groups each source owns: a group keeps its
		// source's ID alive as a route does (sourceUsedLocked).
		groupSrcs map[uint16]int
		// watched is set for a batch while someone watches the FIB; events
		// collects that batch's events, cause says who made it.
		watched bool
		events  []Event
		cause   Cause
		deltas  []srcDelta
		// quiesce, during a parallel batch, waits until the tree goroutine
		// has applied every entry prepared so far, before anything on the
		// preparing side reads the tree.
		quiesce func()
	}
}

// Limits bound one FIB. Zero means unlimited.
type Limits struct {
	Routes4   int // IPv4 routes (each source's route counts)
	Routes6   int // IPv6 routes
	PerSource int // routes of one source in one family
}

var emptySnapshot = &snapshot{
	v4:    newEmptyNode(0, 0),
	v6:    newEmptyNode(0, 0),
	nexts: [][]*Next{{missNext}},
}

func newFIB(id adj.FIBID, reg *Registry, l Limits) *FIB {
	f := &FIB{id: id, reg: reg}
	f.snap.Store(emptySnapshot)
	f.addrs.Store(&addrView{changed: make(chan struct{})})
	f.mu.nexts = newNextTable()
	f.mu.limits = l
	return f
}

// ID returns the FIB's ID.
func (f *FIB) ID() adj.FIBID { return f.id }

// Lookup returns the forwarding entry for a. It never returns nil: no
// matching route gives the NextMiss entry. An IPv4-mapped address is looked
// up as the IPv4 address it is, as LookupRoute does. Lock-free and
// allocation-free.
func (f *FIB) Lookup(a netip.Addr) *Next {
	s := f.snap.Load()
	var v uint32
	switch {
	case a.Is4():
		v = lookup(&s.v4, a.As4())
	case a.Is4In6():
		v = lookup(&s.v4, a.Unmap().As4())
	default:
		v = lookup(&s.v6, a.As16())
	}
	i := v >> 4
	return s.nexts[i>>nextChunkBits][i&(nextChunkSize-1)]
}

// Lookup4 is Lookup for an IPv4 address already in a [4]byte, as the packet
// path has it.
func (f *FIB) Lookup4(a [4]byte) *Next {
	s := f.snap.Load()
	i := lookup(&s.v4, a) >> 4
	return s.nexts[i>>nextChunkBits][i&(nextChunkSize-1)]
}

// Lookup6 is Lookup for an IPv6 address in a [16]byte.
func (f *FIB) Lookup6(a [16]byte) *Next {
	s := f.snap.Load()
	i := lookup(&s.v6, a) >> 4
	return s.nexts[i>>nextChunkBits][i&(nextChunkSize-1)]
}

// Version returns the number of batches published so far. Lock-free.
func (f *FIB) Version() uint64 { return f.snap.Load().version }

// Counts returns the number of IPv4 and IPv6 routes (each source's route
// counts once).
func (f *FIB) Counts() (v4, v6 int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.v4 != nil {
		v4 = f.mu.v4.count
	}
	if f.mu.v6 != nil {
		v6 = f.mu.v6.count
	}
	return v4, v6
}

// SetLimits changes the FIB's limits. Routes already installed stay even if
// they exceed the new limits; further additions are refused.
func (f *FIB) SetLimits(l Limits) {
	f.mu.Lock()
	f.mu.limits = l
	f.mu.Unlock()
}

// Limits returns the FIB's limits.
func (f *FIB) Limits() Limits {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.limits
}

func (f *FIB) v4Locked() *family[[4]byte] {
	if f.mu.v4 == nil {
		f.mu.v4 = newFamily(newTree4(), betterFunc[[4]byte](f.reg))
	}
	return f.mu.v4
}

func (f *FIB) v6Locked() *family[[16]byte] {
	if f.mu.v6 == nil {
		f.mu.v6 = newFamily(newTree6(), betterFunc[[16]byte](f.reg))
	}
	return f.mu.v6
}

// betterFunc orders two routes of one prefix: lower preference, then the
// source whose name sorts first.
func betterFunc[K key](reg *Registry) func(a, b *record[K]) bool {
	return func(a, b *record[K]) bool {
		if a.pref != b.pref {
			return a.pref < b.pref
		}
		return reg.sourceName(a.src) < reg.sourceName(b.src)
	}
}

// publishLocked stores a new snapshot holding everything applied so far.
func (f *FIB) publishLocked() {
	old := f.snap.Load()
	s := &snapshot{v4: old.v4, v6: old.v6, version: old.version + 1}
	if f.mu.v4 != nil && f.mu.v4.b.inBatch() {
		s.v4 = f.mu.v4.b.publish()
	}
	if f.mu.v6 != nil && f.mu.v6.b.inBatch() {
		s.v6 = f.mu.v6.b.publish()
	}
	s.nexts = f.mu.nexts.publish()
	f.mu.version = s.version
	f.snap.Store(s)
}
