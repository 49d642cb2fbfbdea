// Package fastpath is the contract between fibd's engine and an in-kernel
// fast path that forwards the common case before frames reach user space
// (the xdp backend's program): the tables the engine's mirror writes and
// the counters it reads back. It imports nothing of fibd's, so a backend
// can implement it without importing the engine.
//
// The tables mirror one published FIB snapshot per FIB, with two
// generations: a batch is written into the FIB's inactive generation (its
// forwarding entries, and a copy-on-write version of its route trie),
// SetGeneration flips packets to it, and the batch's entries are replayed
// into the other. A packet reads the generation once, so it sees one whole
// batch or none of it. Forwarding entries live in slots the mirror
// allocates; adjacencies are written by adjacency ID.
package fastpath

import "net/netip"

// Limits of the tables; the mirror punts (never writes) beyond them.
const (
	MaxFIBs     = 4096 // FIB slots: the mirror numbers the FIBs it serves
	MaxPorts    = 4096
	MaxAdjs     = 65536
	MaxSlots    = 65536   // forwarding-entry slots per generation
	TrieChunks  = 1 << 18 // route trie chunks (trie.go) for all FIBs: 2 KiB each
	ECMPBuckets = 32      // buckets an entry carries; a larger group is punted
	RPFPorts    = 4       // egress ports an entry lists for strict uRPF
)

// PortKey is how a received frame finds its port: interface and tags.
type PortKey struct {
	Ifindex uint32
	TPID    uint16 // outer tag's TPID; 0 with no tag
	VID     uint16
	Inner   uint16 // inner VID of a QinQ port
	Tags    uint16 // 0, 1 or 2
}

// Port is a port as the fast path sees it on ingress.
type Port struct {
	ID      uint32
	FIB     uint32
	FIBSlot uint32 // the FIB's slot (SetGeneration)
	Fast    bool   // interface up: the fast path may forward
	MAC     [6]byte
	// RPF is the port's reverse-path check, which the program applies
	// where it can decide it and punts otherwise.
	RPF RPF
}

// RPF is a port's unicast reverse-path check, as the engine's RPFMode.
type RPF uint8

const (
	RPFOff    RPF = iota
	RPFLoose      // the source needs a route that forwards
	RPFStrict     // ... through the port the packet arrived on
)

// Egress is a port as the fast path sees it on egress.
type Egress struct {
	Ifindex uint32 // 0: not reachable by redirect (not on the fast path)
	FIB     uint32
	MTU     uint32
	Up      bool
	MAC     [6]byte
	TPID    uint16 // outer tag's TPID, 0 for 802.1Q
	Outer   uint16 // outer TCI; 0 untagged
	Inner   uint16
}

// Entry is a forwarding entry: a gateway (one adjacency, or ECMP buckets),
// an attached subnet on Port (the destination's own neighbour, SetNeighbor),
// or anything else (both false: punted).
type Entry struct {
	Gateway  bool
	Attached bool
	Adj      uint32
	Port     uint32
	Buckets  []uint32 // ECMP; nil for a single path
	// Ports are the distinct ports the entry leaves through (the attached
	// port, the gateway's, the ECMP members'), for strict uRPF; more than
	// RPFPorts are punted.
	Ports []uint32
}

// Adj is an adjacency's rewrite state.
type Adj struct {
	MAC   [6]byte
	State uint8 // fib/adj.State
	Live  bool  // false: the ID is not held, never use it
	Port  uint32
	MTU   uint32
}

// Counters are what the fast path did for one port, summed over CPUs.
type Counters struct {
	RxPackets, RxBytes uint64 // received and forwarded here (ingress)
	Forwarded          uint64 // ingress
	TxPackets, TxBytes uint64 // sent here (egress)
}

// Punt reasons, in the program's order.
var PuntReasons = []string{
	"no-port", "port-slow-path", "not-for-us", "not-ip", "bad-header", "options",
	"fragment", "special-address", "ttl", "partial-checksum", "no-fib", "no-route",
	"not-gateway", "big-group", "neighbour", "egress", "mtu", "headroom", "own-source", "rpf",
}

// Tables is what the engine's mirror writes. Writes are synchronous
// system calls; none is atomic with another, which is why routes and
// entries go through generations.
type Tables interface {
	SetConfig(seed [4]uint64, guessCsum bool) error
	SetPort(k PortKey, p Port) error
	DeletePort(k PortKey) error
	SetEgress(port uint32, e Egress) error
	// SetRoute and DeleteRoute edit the working version of the routes of
	// the FIB in fibSlot; SetGeneration publishes it. A repeated write of
	// what the version holds is a no-op. After an error the working
	// version is incomplete: the FIB must be deleted, not published.
	SetRoute(fibSlot uint32, p netip.Prefix, slot uint32) error
	DeleteRoute(fibSlot uint32, p netip.Prefix) error
	SetEntry(gen uint8, slot uint32, e Entry) error
	SetAdj(id uint32, a Adj) error
	// SetNeighbor lists a VALID neighbour (FIB, port, address) by its
	// adjacency, for attached destinations; DeleteNeighbor unlists it.
	SetNeighbor(fib, port uint32, a netip.Addr, adj uint32) error
	DeleteNeighbor(fib, port uint32, a netip.Addr) error
	// SetGeneration makes the FIB in slot live, its packets reading
	// generation gen: the routes as edited so far and the entries written
	// to gen. DeleteFIB makes the slot's FIB punted, drops its routes and
	// zeroes its counter (before a slot is used again).
	SetGeneration(slot uint32, gen uint8) error
	DeleteFIB(slot uint32) error
	// Synchronize returns once every program run that began before the
	// call has ended: nothing a packet read before it (a generation, its
	// roots and entries, an adjacency) is still in use. The mirror calls
	// it between flipping generations and rewriting or releasing what
	// the old ones named; route chunks retired before it become
	// reusable.
	Synchronize() error
	SetOwn(fib, slot uint32, a netip.Addr, own bool) error

	// PortCounters, FIBForwarded and Punts read the per-CPU counters.
	PortCounters(port uint32) (Counters, error)
	ResetPortCounters(port uint32) error
	FIBForwarded(slot uint32) (uint64, error)
	Punts() ([]uint64, error)
	// Redirectable reports whether ifindex can be an egress: the program
	// runs there and it is in the redirect map.
	Redirectable(ifindex uint32) bool
}
