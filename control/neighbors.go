package control

import (
	"time"

	"github.com/fibd/fibd/fib/adj"
)

// Neighbors is what the control plane needs from the per-FIB ARP/ND tables
// (package neigh, adapted by the daemon; controltest.Neighbors fakes it).
// Methods may be called from any goroutine.
type Neighbors interface {
	// AddStatic installs a permanent neighbour, replacing a learned one.
	AddStatic(k adj.Key, mac adj.MAC) error
	// DeleteStatic removes a static neighbour; ErrNeighborNotFound when
	// there is none with that key.
	DeleteStatic(k adj.Key) error
	// Get returns the neighbour with key k.
	Get(k adj.Key) (NeighborInfo, bool)
	// List calls fn for every neighbour of a FIB, static and learned, until
	// fn returns false. fn must not call back into the table.
	List(fib adj.FIBID, fn func(NeighborInfo) bool)
	// Subscribe calls fn for every neighbour change until cancel is called.
	// fn runs on the table's goroutine and must not block; after cancel
	// returns fn is not called again. If the table had to drop events for
	// this subscriber (it fell behind), lost is called once, and the
	// subscriber's view can no longer be trusted: it should list again.
	Subscribe(fn func(NeighborEvent), lost func()) (cancel func())
	// Announce tells the link that k.Addr, an address of the router on
	// port k.Port of FIB k.FIB, is here (gratuitous ARP, unsolicited NA).
	Announce(k adj.Key)
	// Settings returns a FIB's effective neighbour settings, every field
	// set; SetSettings replaces them (nil fields: the defaults).
	Settings(fib adj.FIBID) NeighborSettings
	SetSettings(fib adj.FIBID, s NeighborSettings) error
}

// NeighborInfo is one neighbour.
type NeighborInfo struct {
	Key     adj.Key
	MAC     adj.MAC
	State   string // RFC 4861 state: "incomplete", "reachable", "stale", "delay", "probe", "failed", "permanent"
	Static  bool
	Updated time.Time
}

// NeighborEventType says what happened to a neighbour.
type NeighborEventType uint8

const (
	NeighborAdded NeighborEventType = iota + 1
	NeighborChanged
	NeighborRemoved
)

func (t NeighborEventType) String() string {
	switch t {
	case NeighborAdded:
		return "added"
	case NeighborChanged:
		return "changed"
	case NeighborRemoved:
		return "removed"
	}
	return "unknown"
}

// NeighborEvent is a change of one neighbour; for NeighborRemoved Neighbor
// is its last state.
type NeighborEvent struct {
	Type     NeighborEventType
	Neighbor NeighborInfo
}
