package fib

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/fibd/fibd/fib/adj"
)

// NextKind is what the dataplane does with a packet whose lookup ended on a
// forwarding entry.
type NextKind uint8

const (
	// NextMiss: no route. ICMP destination unreachable (net / no route).
	NextMiss NextKind = iota
	// NextGateway: send to the adjacency Adj, or to Group[…] for ECMP.
	NextGateway
	// NextAttached: the destination is on Port's subnet; resolve it there.
	NextAttached
	// NextLocal: the router's own address.
	NextLocal
	// NextBlackhole: drop silently.
	NextBlackhole
	// NextUnreachable: drop, ICMP destination unreachable.
	NextUnreachable
	// NextProhibit: drop, ICMP administratively prohibited.
	NextProhibit
	// NextLookup: look up again in FIB.
	NextLookup
	// NextUnresolved: a gateway route whose gateway is on no connected
	// subnet any more (the address was removed). ICMP host unreachable
	// until a connected route covers it again.
	NextUnresolved
)

var nextKindNames = [...]string{
	NextMiss: "miss", NextGateway: "gateway", NextAttached: "attached", NextLocal: "local",
	NextBlackhole: "blackhole", NextUnreachable: "unreachable", NextProhibit: "prohibit",
	NextLookup: "lookup", NextUnresolved: "unresolved",
}

func (k NextKind) String() string {
	if int(k) < len(nextKindNames) {
		return nextKindNames[k]
	}
	return fmt.Sprintf("NextKind(%d)", uint8(k))
}

// Next is a forwarding entry: what every route with the same path set
// resolves to. Routes reference Nexts by index and Nexts reference
// adjacencies by ID, so a neighbour or MTU change never touches a route and
// a path-set change touches one Next.
//
// A published Next is immutable; the writer replaces it rather than
// modifying it. The dataplane may keep the pointer for the packet's life.
type Next struct {
	Kind NextKind
	// Port is the egress port of NextAttached and NextLocal, and of a
	// single-path NextGateway.
	Port adj.PortID
	// Adj is the adjacency of a single-path NextGateway.
	Adj adj.ID
	// FIB is the FIB of NextLookup.
	FIB adj.FIBID
	// Group holds an ECMP NextGateway's adjacencies, each repeated in
	// proportion to its path's weight. nil for a single path.
	Group []adj.ID
	// Paths are the route's paths as configured (gateways unmapped, weights
	// defaulted), for the control plane; a next-hop group's entry has the
	// group's paths.
	Paths []Path
	// Group is the next-hop group this entry is, 0 if none.
	GroupID uint32
	// Backup is the backup group's entry: the dataplane uses it when every
	// member's neighbour has failed or its port is down. nil if none.
	Backup *Next

	// adjs are the distinct adjacencies of a NextGateway: the FIB holds one
	// reference on each while the entry is in its working table, and the
	// entry object holds each ID while it lives (holdAdjs).
	adjs []adj.ID
	// auto: a gateway was resolved through a connected route, or not
	// resolved at all; recursive: a gateway was resolved through another
	// route, or not at all. Either way the entry is re-resolved when the
	// routes it depends on change. via are the entries it resolved
	// through (for loop detection).
	auto, recursive bool
	via             []uint32
}

// Adjacencies returns the distinct adjacencies of a gateway entry. The
// slice must not be modified.
func (n *Next) Adjacencies() []adj.ID { return n.adjs }

// Pick returns the adjacency a flow with the given hash takes. The hash is
// mapped onto the group by multiply-shift, which keeps every flow on one
// member as long as the group does not change.
func (n *Next) Pick(hash uint32) adj.ID {
	if n.Group == nil {
		return n.Adj
	}
	return n.Group[uint64(hash)*uint64(len(n.Group))>>32]
}

// missNext is entry 0 of every FIB: what a lookup that matches nothing
// returns.
var missNext = &Next{Kind: NextMiss}

// nextChunkBits sizes the copy-on-write chunks of the forwarding-entry
// table: a batch that changes one entry copies 64 pointers, not the table.
const (
	nextChunkBits = 6
	nextChunkSize = 1 << nextChunkBits
)

// maxBuckets bounds an ECMP group's bucket table; weights are scaled down
// to fit.
const maxBuckets = 512

// nextTable interns path sets into forwarding entries and publishes them
// copy-on-write. Guarded by the FIB's writer mutex.
type nextTable struct {
	byKey  map[string]uint32
	keys   []string // keys[i] is entry i's key, for removal
	chunks [][]*Next
	// owned marks chunks (and, in ownedAll, the chunk slice) already copied
	// in the current batch, so they can be written in place.
	owned    []bool
	ownedAll bool
	refs     []int32
	// auto lists entries with a gateway resolved through a connected route:
	// they are re-resolved when connected routes change; recursive lists
	// those resolved through other routes (or not yet), re-resolved when
	// any route changes.
	auto      map[uint32]struct{}
	recursive map[uint32]struct{}
	free      []uint32
	// acquired lists the references taken in this batch (undone by
	// rollback); pending the references to drop at commit.
	acquired []uint32
	pending  []uint32
	keyBuf   []byte
	// touched lists the entries written since the last publication, for
	// the forwarding observer (observe.go).
	touched []uint32
	// memo remembers the entries of the path-set slices seen in this batch:
	// bulk loads share one Paths slice per next hop, and recognising the
	// slice by address skips encoding and hashing its key. Cleared at the
	// end of every batch, since the caller may reuse its slices afterwards.
	memo [16]pathMemo
}

type pathMemo struct {
	first *Path
	n     int
	next  uint32
}

func newNextTable() nextTable {
	return nextTable{
		chunks: [][]*Next{{missNext}},
		owned:  []bool{false},
		refs:   []int32{1 << 30}, // entry 0 is never freed
		keys:   []string{""},
	}
}

// get returns entry i of the working table.
func (t *nextTable) get(i uint32) *Next {
	return t.chunks[i>>nextChunkBits][i&(nextChunkSize-1)]
}

// put stores entry i, copying its chunk first if a snapshot may share it.
func (t *nextTable) put(i uint32, n *Next) {
	c := int(i >> nextChunkBits)
	if !t.ownedAll {
		t.chunks = slices.Clone(t.chunks)
		t.ownedAll = true
	}
	for c >= len(t.chunks) {
		t.chunks = append(t.chunks, make([]*Next, 0, nextChunkSize))
		t.owned = append(t.owned, true)
	}
	if !t.owned[c] {
		t.chunks[c] = slices.Clone(t.chunks[c])
		t.owned[c] = true
	}
	ch := t.chunks[c]
	off := int(i & (nextChunkSize - 1))
	if off >= len(ch) {
		// Grow within the chunk's own capacity: it is owned, and readers of
		// older snapshots only see their own (shorter) slice header.
		if off >= cap(ch) {
			ch = slices.Grow(ch, nextChunkSize-len(ch))
		}
		ch = ch[:off+1]
		t.chunks[c] = ch
	}
	ch[off] = n
	t.touched = append(t.touched, i)
}

// publish returns the chunk table for a snapshot and starts sharing it.
func (t *nextTable) publish() [][]*Next {
	t.ownedAll = false
	clear(t.owned)
	return t.chunks
}

// alloc returns a free index.
func (t *nextTable) alloc() uint32 {
	if n := len(t.free); n > 0 {
		i := t.free[n-1]
		t.free = t.free[:n-1]
		return i
	}
	i := uint32(len(t.refs))
	t.refs = append(t.refs, 0)
	t.keys = append(t.keys, "")
	return i
}

// appendKey encodes a canonical path set: paths sorted so that ECMP member
// order does not matter, gateways unmapped, weights defaulted.
func appendKey(b []byte, paths []Path) []byte {
	for _, p := range sortedPaths(paths) {
		gw := p.Gateway.Unmap().As16()
		w := p.Weight
		if p.Kind == PathGateway && w == 0 {
			w = 1
		}
		if p.Kind != PathGateway {
			w = 0
			gw = [16]byte{}
		}
		b = append(b, byte(p.Kind))
		b = append(b, gw[:]...)
		b = binary.BigEndian.AppendUint32(b, uint32(p.Port))
		b = binary.BigEndian.AppendUint32(b, uint32(p.FIB)|p.Group)
		b = binary.BigEndian.AppendUint32(b, w)
	}
	return b
}

// sortedPaths returns paths in canonical order; a single path is returned as
// is, without allocating.
func sortedPaths(paths []Path) []Path {
	if len(paths) < 2 {
		return paths
	}
	out := slices.Clone(paths)
	slices.SortFunc(out, func(a, b Path) int {
		if c := a.Gateway.Unmap().Compare(b.Gateway.Unmap()); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
	return out
}

// canonicalPaths copies paths with gateways unmapped and weights defaulted.
func canonicalPaths(paths []Path) []Path {
	out := sortedPaths(paths)
	if len(paths) < 2 {
		out = slices.Clone(paths)
	}
	for i := range out {
		if out[i].Kind == PathGateway {
			out[i].Gateway = out[i].Gateway.Unmap()
			if out[i].Weight == 0 {
				out[i].Weight = 1
			}
		} else {
			out[i].Weight = 0
			out[i].Gateway = netipZero
		}
	}
	return out
}

// buckets spreads ECMP members over a bucket table in proportion to their
// weights, interleaved so that neighbouring hash values hit different
// members.
func buckets(members []adj.ID, weights []uint32) []adj.ID {
	g := uint32(0)
	for _, w := range weights {
		g = gcd(g, w)
	}
	total := 0
	scaled := make([]int, len(weights))
	for i, w := range weights {
		scaled[i] = int(w / g)
		total += scaled[i]
	}
	if total > maxBuckets {
		t := 0
		for i := range scaled {
			scaled[i] = max(1, scaled[i]*maxBuckets/total)
			t += scaled[i]
		}
		total = t
	}
	out := make([]adj.ID, 0, total)
	left := slices.Clone(scaled)
	for len(out) < total {
		for i := range left {
			if left[i] > 0 {
				out = append(out, members[i])
				left[i]--
			}
		}
	}
	return out
}

func gcd(a, b uint32) uint32 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
