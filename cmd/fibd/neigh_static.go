package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// staticNeighbors is the neighbour table of --dataplane=none: static
// entries only (nothing resolves without packets). It publishes a static
// entry's MAC into the adjacency of the same key, if routes use one, so
// LookupRoute shows what a dataplane would use. A packet-moving backend
// uses package neigh instead.
type staticNeighbors struct {
	reg *fib.Registry
	mu  struct {
		sync.Mutex
		entries map[adj.Key]control.NeighborInfo
		subs    map[int]func(control.NeighborEvent)
		next    int
	}
}

func newStaticNeighbors(reg *fib.Registry) *staticNeighbors {
	n := &staticNeighbors{reg: reg}
	n.mu.entries = map[adj.Key]control.NeighborInfo{}
	n.mu.subs = map[int]func(control.NeighborEvent){}
	return n
}

func (n *staticNeighbors) notifyLocked(ev control.NeighborEvent) {
	for _, fn := range n.mu.subs {
		fn(ev)
	}
}

func (n *staticNeighbors) AddStatic(k adj.Key, mac adj.MAC) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, existed := n.mu.entries[k]
	in := control.NeighborInfo{Key: k, MAC: mac, State: "permanent", Static: true, Updated: time.Now()}
	n.mu.entries[k] = in
	if id, ok := n.reg.Adjacencies().Lookup(k); ok {
		n.reg.Adjacencies().Get(id).SetLinkLayer(mac, adj.Valid)
	}
	typ := control.NeighborAdded
	if existed {
		typ = control.NeighborChanged
	}
	n.notifyLocked(control.NeighborEvent{Type: typ, Neighbor: in})
	return nil
}

func (n *staticNeighbors) DeleteStatic(k adj.Key) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	in, ok := n.mu.entries[k]
	if !ok {
		return fmt.Errorf("%w: %v", control.ErrNeighborNotFound, k)
	}
	delete(n.mu.entries, k)
	if id, ok := n.reg.Adjacencies().Lookup(k); ok {
		n.reg.Adjacencies().Get(id).SetLinkLayer(adj.MAC{}, adj.Incomplete)
	}
	n.notifyLocked(control.NeighborEvent{Type: control.NeighborRemoved, Neighbor: in})
	return nil
}

func (n *staticNeighbors) Get(k adj.Key) (control.NeighborInfo, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	in, ok := n.mu.entries[k]
	return in, ok
}

func (n *staticNeighbors) List(fib adj.FIBID, fn func(control.NeighborInfo) bool) {
	n.mu.Lock()
	var list []control.NeighborInfo
	for k, in := range n.mu.entries {
		if k.FIB == fib {
			list = append(list, in)
		}
	}
	n.mu.Unlock()
	for _, in := range list {
		if !fn(in) {
			return
		}
	}
}

// Subscribe calls fn under the table's mutex, so after cancel returns fn
// is not called again.
func (n *staticNeighbors) Subscribe(fn func(control.NeighborEvent)) func() {
	n.mu.Lock()
	id := n.mu.next
	n.mu.next++
	n.mu.subs[id] = fn
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		delete(n.mu.subs, id)
		n.mu.Unlock()
	}
}
