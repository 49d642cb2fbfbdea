// Package adj holds the identities that fib, neigh and dataplane share — FIB,
// port and adjacency IDs — and the adjacency table itself.
//
// An adjacency is the rewrite information for one next hop: (FIB, port,
// next-hop IP) → the neighbour's MAC, its resolution state and the path MTU.
// Every route through the same next hop references the same adjacency by a
// small integer ID, so a neighbour's MAC change or a path-MTU change is one
// atomic store on one adjacency: no route is touched and no route cache can
// drift (there is none). fib creates and releases adjacencies as routes come
// and go; neigh writes their link-layer state; the dataplane reads them on
// every packet.
//
// The package imports only the standard library, so every layer can use it.
package adj

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// FIBID names a forwarding information base (a VRF). 0 is the default FIB.
type FIBID uint32

// DefaultFIB is the FIB every port is bound to unless told otherwise.
const DefaultFIB FIBID = 0

// PortID names a dataplane port: an interface or an (interface, VLAN) pair.
// The dataplane assigns them; 0 means "no port".
type PortID uint32

// NoPort is the zero PortID.
const NoPort PortID = 0

// ID names an adjacency in a Table. 0 means "no adjacency".
type ID uint32

// None is the zero ID.
const None ID = 0

// MAC is an IEEE 802 MAC-48 address. A value type, so it is comparable and
// never allocates.
type MAC [6]byte

func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// ParseMAC parses the colon-separated form "aa:bb:cc:dd:ee:ff".
func ParseMAC(s string) (MAC, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return MAC{}, fmt.Errorf("adj: invalid MAC-48 address %q", s)
	}
	return MAC(hw), nil
}

func (m MAC) uint64() uint64 {
	return uint64(m[0])<<40 | uint64(m[1])<<32 | uint64(m[2])<<24 | uint64(m[3])<<16 | uint64(m[4])<<8 | uint64(m[5])
}

func macFrom(v uint64) MAC {
	return MAC{byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// State is what the dataplane needs to know about an adjacency's neighbour.
// neigh maps its RFC 4861 states onto these.
type State uint8

const (
	// Incomplete: no link-layer address yet. The dataplane hands the packet
	// to neigh, which queues it and solicits.
	Incomplete State = iota
	// Valid: the MAC may be used (REACHABLE, DELAY, PROBE, PERMANENT).
	Valid
	// Failed: resolution failed. The dataplane answers with ICMP
	// host/address unreachable until neigh tries again.
	Failed
	// Stale: the MAC may be used, but nothing has confirmed it lately (RFC
	// 4861 STALE). The dataplane hands the packet to neigh's Resolve, which
	// returns the MAC at once and starts the DELAY/PROBE check; neigh then
	// publishes Valid, so only the first packet after a quiet spell leaves
	// the fast path.
	Stale
)

func (s State) String() string {
	switch s {
	case Incomplete:
		return "incomplete"
	case Valid:
		return "valid"
	case Failed:
		return "failed"
	case Stale:
		return "stale"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Key identifies an adjacency and the neighbour behind it. The same IP in two
// FIBs, or the same link-local address on two ports, is two keys.
type Key struct {
	FIB  FIBID
	Port PortID
	Addr netip.Addr
}

func (k Key) String() string {
	return fmt.Sprintf("fib %d port %d %s", k.FIB, k.Port, k.Addr)
}

// Adjacency is the shared next-hop object. Its link-layer word and MTU are
// atomics: neigh and the control plane store, the dataplane loads, and a
// reader always sees a MAC together with the state it was stored with. Its
// key and port never change while anyone can hold its ID (see Table), so a
// reader sees the port and the MAC of one adjacency, never a mix of two.
type Adjacency struct {
	// key is replaced (not written) when a freed ID is reused.
	key  atomic.Pointer[Key]
	port atomic.Uint32
	// ll packs MAC (bits 0–47) and State (bits 48–55) so one load is
	// consistent.
	ll atomic.Uint64
	// mtu is the path MTU towards this next hop in bytes; 0 means "the egress
	// port's MTU".
	mtu atomic.Uint32
	// t and id let a store tell the table's watcher (Table.Watch).
	t  *Table
	id ID
}

// Key returns the adjacency's identity. It never changes while the ID is
// allocated.
func (a *Adjacency) Key() Key {
	if k := a.key.Load(); k != nil {
		return *k
	}
	return Key{}
}

// Port returns the port the next hop is on: the egress port. A single
// atomic load, for the packet path.
func (a *Adjacency) Port() PortID { return PortID(a.port.Load()) }

// LinkLayer returns the neighbour's MAC and the adjacency state.
func (a *Adjacency) LinkLayer() (MAC, State) {
	v := a.ll.Load()
	return macFrom(v & (1<<48 - 1)), State(v >> 48)
}

// SetLinkLayer publishes a new MAC and state; the dataplane sees it on its
// next packet.
func (a *Adjacency) SetLinkLayer(mac MAC, s State) {
	a.ll.Store(mac.uint64() | uint64(s)<<48)
	a.changed()
}

// changed tells the table's watcher, if any, that a's state was stored.
func (a *Adjacency) changed() {
	if a.t == nil {
		return
	}
	if fn := a.t.watch.Load(); fn != nil {
		(*fn)(a.id, a)
	}
}

// MTU returns the path MTU, or 0 for "use the port's MTU".
func (a *Adjacency) MTU() uint32 { return a.mtu.Load() }

// SetMTU sets the path MTU (0 restores the port's MTU).
func (a *Adjacency) SetMTU(mtu uint32) {
	a.mtu.Store(mtu)
	a.changed()
}

// chunkBits sizes the slab chunks: adjacencies never move once allocated, so
// a reader can hold *Adjacency across a writer's growth of the table.
const (
	chunkBits = 8
	chunkSize = 1 << chunkBits
)

type chunk [chunkSize]Adjacency

// Table allocates adjacencies by key and finds them by ID.
//
// An ID has two kinds of users. Owners (routes through the FIB's working
// state, neighbour entries) take references with Acquire and give them back
// with Release; the last Release ends the key: Lookup no longer finds it
// and the next Acquire of that key makes a new adjacency. Holders are
// readers that may still use the ID after its owners let go — a forwarding
// entry of a published FIB snapshot that a dataplane worker is halfway
// through, the in-kernel fast path's copy of the FIB — and mark that with
// Hold and Unhold. An ID is reused for another key only when it has neither
// owners nor holders, so whoever holds an ID keeps seeing the adjacency it
// was given: another FIB's neighbour can never appear behind it.
//
// Concurrency: Get is lock-free and safe from any goroutine, including the
// packet path. Acquire, Release, Hold, Unhold and Lookup serialise on an
// internal mutex and are meant for the control plane, neigh and the
// garbage collector's cleanups. The zero value is ready to use.
type Table struct {
	chunks atomic.Pointer[[]*chunk]
	// watch is told of every link-layer and MTU store (Watch).
	watch atomic.Pointer[func(ID, *Adjacency)]

	mu struct {
		sync.Mutex
		byKey map[Key]ID
		refs  []int32 // refs[id]: owners
		holds []int32 // holds[id]: holders
		live  []bool  // live[id]: allocated, not yet reusable
		free  []ID
		next  ID // next never-used ID; starts at 1 because 0 is None
	}
}

// Acquire returns the adjacency for k, creating it (Incomplete, MTU 0) if it
// does not exist, and takes a reference. Every Acquire needs a Release.
func (t *Table) Acquire(k Key) ID {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.mu.byKey[k]; ok {
		t.mu.refs[id]++
		return id
	}
	var id ID
	if n := len(t.mu.free); n > 0 {
		id = t.mu.free[n-1]
		t.mu.free = t.mu.free[:n-1]
	} else {
		if t.mu.next == None {
			t.mu.next = 1
		}
		id = t.mu.next
		t.mu.next++
		t.growLocked(id)
	}
	a := t.Get(id)
	a.key.Store(&k)
	a.port.Store(uint32(k.Port))
	a.ll.Store(uint64(Incomplete) << 48)
	a.mtu.Store(0)
	if t.mu.byKey == nil {
		t.mu.byKey = make(map[Key]ID)
	}
	t.mu.byKey[k] = id
	t.mu.refs[id] = 1
	t.mu.live[id] = true
	return id
}

// growLocked makes sure id has a slot in both the slab and the refcounts.
func (t *Table) growLocked(id ID) {
	for int(id) >= len(t.mu.refs) {
		t.mu.refs = append(t.mu.refs, make([]int32, chunkSize)...)
		t.mu.holds = append(t.mu.holds, make([]int32, chunkSize)...)
		t.mu.live = append(t.mu.live, make([]bool, chunkSize)...)
	}
	var cur []*chunk
	if p := t.chunks.Load(); p != nil {
		cur = *p
	}
	if int(id>>chunkBits) < len(cur) {
		return
	}
	next := make([]*chunk, len(cur)+1)
	copy(next, cur)
	c := new(chunk)
	for i := range c {
		c[i].t, c[i].id = t, ID(len(cur)<<chunkBits+i)
	}
	next[len(cur)] = c
	t.chunks.Store(&next)
}

// Release drops a reference taken by Acquire. The last one ends the key (it
// returns true): Lookup stops finding it, and the ID is reused once no
// holder is left either. Releasing an ID with no reference panics: it is a
// bookkeeping bug that would hand one adjacency to two keys.
func (t *Table) Release(id ID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id == None || int(id) >= len(t.mu.refs) || t.mu.refs[id] <= 0 {
		panic(fmt.Sprintf("adj: release of unreferenced adjacency %d", id))
	}
	t.mu.refs[id]--
	if t.mu.refs[id] > 0 {
		return false
	}
	a := t.Get(id)
	delete(t.mu.byKey, a.Key())
	t.freeIfUnusedLocked(id)
	return true
}

// Hold marks id as possibly in use by a reader that holds no reference:
// until the matching Unhold, the ID is not reused for another key (its
// adjacency may still lose its key, and its MAC go stale). The caller must
// hold a reference, or a hold, while calling Hold.
func (t *Table) Hold(ids ...ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		if id == None || int(id) >= len(t.mu.live) || !t.mu.live[id] {
			panic(fmt.Sprintf("adj: hold of free adjacency %d", id))
		}
		t.mu.holds[id]++
	}
}

// Unhold ends holds taken by Hold.
func (t *Table) Unhold(ids ...ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		if id == None || int(id) >= len(t.mu.holds) || t.mu.holds[id] <= 0 {
			panic(fmt.Sprintf("adj: unhold of unheld adjacency %d", id))
		}
		t.mu.holds[id]--
		t.freeIfUnusedLocked(id)
	}
}

func (t *Table) freeIfUnusedLocked(id ID) {
	if t.mu.refs[id] == 0 && t.mu.holds[id] == 0 && t.mu.live[id] {
		t.mu.live[id] = false
		t.mu.free = append(t.mu.free, id)
	}
}

// Reclaimable returns how many IDs are free for reuse.
func (t *Table) Reclaimable() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.mu.free)
}

// Held returns how many IDs have no owner left but are still held, so are
// not yet reusable.
func (t *Table) Held() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for id, live := range t.mu.live {
		if live && t.mu.refs[id] == 0 {
			n++
		}
	}
	return n
}

// Refs returns how many owners id has: neigh's entry and each FIB entry
// (route path set) through the neighbour. neigh uses it to tell a gateway
// routes depend on from a stranger.
func (t *Table) Refs(id ID) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if int(id) >= len(t.mu.refs) {
		return 0
	}
	return int(t.mu.refs[id])
}

// Lookup finds the adjacency for k without taking a reference.
func (t *Table) Lookup(k Key) (ID, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.mu.byKey[k]
	return id, ok
}

// Get returns the adjacency with the given ID. The pointer stays valid for the
// life of the table; once the ID has neither owners nor holders its contents
// may be reused for another key, which is why readers hold their IDs. Get
// of None or of an ID never allocated returns nil.
func (t *Table) Get(id ID) *Adjacency {
	p := t.chunks.Load()
	if p == nil || id == None {
		return nil
	}
	c := *p
	ci := int(id >> chunkBits)
	if ci >= len(c) {
		return nil
	}
	return &c[ci][id&(chunkSize-1)]
}

// Watch registers fn to be called after every SetLinkLayer and SetMTU, on
// the storing goroutine, with the adjacency's ID: a copy of the table kept
// elsewhere (the in-kernel fast path's) writes the change through at once
// rather than polling. fn runs concurrently with itself and must re-read
// the adjacency rather than trust the order calls arrive in. nil stops it.
func (t *Table) Watch(fn func(ID, *Adjacency)) {
	if fn == nil {
		t.watch.Store(nil)
		return
	}
	t.watch.Store(&fn)
}

// Len returns the number of live adjacencies.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.mu.byKey)
}

// Range calls fn for every live adjacency, under the table's mutex: fn must
// not call back into the table.
func (t *Table) Range(fn func(ID, *Adjacency) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range t.mu.byKey {
		if !fn(id, t.Get(id)) {
			return
		}
	}
}
