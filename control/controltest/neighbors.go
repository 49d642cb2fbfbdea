package controltest

import (
	"fmt"
	"sync"
	"time"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/fib/adj"
)

// Neighbors is a fake control.Neighbors: a map of entries, with Learn and
// Forget to play the part of ARP/ND. Subscribers are called synchronously,
// under no lock, in the goroutine that made the change. Safe for
// concurrent use.
type Neighbors struct {
	// Now is the clock for Updated; nil means time.Now.
	Now func() time.Time

	mu struct {
		sync.Mutex
		entries   map[adj.Key]control.NeighborInfo
		subs      map[int]func(control.NeighborEvent)
		nextSub   int
		announced []adj.Key
		settings  map[adj.FIBID]control.NeighborSettings
	}
}

// NewNeighbors returns an empty fake table.
func NewNeighbors() *Neighbors {
	n := &Neighbors{}
	n.mu.entries = map[adj.Key]control.NeighborInfo{}
	n.mu.subs = map[int]func(control.NeighborEvent){}
	n.mu.settings = map[adj.FIBID]control.NeighborSettings{}
	return n
}

// Announce implements control.Neighbors: it records k.
func (n *Neighbors) Announce(k adj.Key) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mu.announced = append(n.mu.announced, k)
}

// Announced returns the keys Announce was called with, and forgets them.
func (n *Neighbors) Announced() []adj.Key {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.mu.announced
	n.mu.announced = nil
	return out
}

// DefaultSettings are what Settings reports for fields never set.
var DefaultSettings = func() control.NeighborSettings {
	i := func(v int) *int { return &v }
	d := func(v time.Duration) *time.Duration { return &v }
	f := false
	return control.NeighborSettings{MaxEntries: i(16384), ARPAccept: &f, GCStaleTime: d(time.Minute),
		BaseReachableTime: d(30 * time.Second), DelayFirstProbeTime: d(5 * time.Second), RetransTimer: d(time.Second),
		SolicitRate: i(200), SolicitBurst: i(100), ReservedSolicitRate: i(100), ReservedSolicitBurst: i(50)}
}()

// Settings implements control.Neighbors.
func (n *Neighbors) Settings(fib adj.FIBID) control.NeighborSettings {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.mu.settings[fib]
	out := DefaultSettings
	for _, f := range []struct{ dst, src **int }{{&out.MaxEntries, &s.MaxEntries}, {&out.SolicitRate, &s.SolicitRate},
		{&out.SolicitBurst, &s.SolicitBurst}, {&out.ReservedSolicitRate, &s.ReservedSolicitRate}, {&out.ReservedSolicitBurst, &s.ReservedSolicitBurst}} {
		if *f.src != nil {
			*f.dst = *f.src
		}
	}
	for _, f := range []struct{ dst, src **time.Duration }{{&out.GCStaleTime, &s.GCStaleTime}, {&out.BaseReachableTime, &s.BaseReachableTime},
		{&out.DelayFirstProbeTime, &s.DelayFirstProbeTime}, {&out.RetransTimer, &s.RetransTimer}} {
		if *f.src != nil {
			*f.dst = *f.src
		}
	}
	if s.ARPAccept != nil {
		out.ARPAccept = s.ARPAccept
	}
	return out
}

// SetSettings implements control.Neighbors.
func (n *Neighbors) SetSettings(fib adj.FIBID, s control.NeighborSettings) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mu.settings[fib] = s
	return nil
}

func (n *Neighbors) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// set stores an entry and tells the subscribers.
func (n *Neighbors) set(in control.NeighborInfo) {
	n.mu.Lock()
	_, existed := n.mu.entries[in.Key]
	n.mu.entries[in.Key] = in
	subs := n.subsLocked()
	n.mu.Unlock()
	typ := control.NeighborAdded
	if existed {
		typ = control.NeighborChanged
	}
	for _, fn := range subs {
		fn(control.NeighborEvent{Type: typ, Neighbor: in})
	}
}

func (n *Neighbors) subsLocked() []func(control.NeighborEvent) {
	out := make([]func(control.NeighborEvent), 0, len(n.mu.subs))
	for _, fn := range n.mu.subs {
		out = append(out, fn)
	}
	return out
}

// AddStatic implements control.Neighbors.
func (n *Neighbors) AddStatic(k adj.Key, mac adj.MAC) error {
	n.set(control.NeighborInfo{Key: k, MAC: mac, State: "permanent", Static: true, Updated: n.now()})
	return nil
}

// DeleteStatic implements control.Neighbors.
func (n *Neighbors) DeleteStatic(k adj.Key) error {
	n.mu.Lock()
	in, ok := n.mu.entries[k]
	if !ok || !in.Static {
		n.mu.Unlock()
		return fmt.Errorf("%w: %v", control.ErrNeighborNotFound, k)
	}
	delete(n.mu.entries, k)
	subs := n.subsLocked()
	n.mu.Unlock()
	for _, fn := range subs {
		fn(control.NeighborEvent{Type: control.NeighborRemoved, Neighbor: in})
	}
	return nil
}

// Learn adds or updates a dynamic entry, as ARP/ND would.
func (n *Neighbors) Learn(k adj.Key, mac adj.MAC, state string) {
	n.set(control.NeighborInfo{Key: k, MAC: mac, State: state, Updated: n.now()})
}

// Get implements control.Neighbors.
func (n *Neighbors) Get(k adj.Key) (control.NeighborInfo, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	in, ok := n.mu.entries[k]
	return in, ok
}

// List implements control.Neighbors.
func (n *Neighbors) List(fib adj.FIBID, fn func(control.NeighborInfo) bool) {
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

// Subscribe implements control.Neighbors. Subscribers are called
// synchronously, so none ever falls behind and lost is never called.
func (n *Neighbors) Subscribe(fn func(control.NeighborEvent), _ func()) func() {
	n.mu.Lock()
	id := n.mu.nextSub
	n.mu.nextSub++
	n.mu.subs[id] = fn
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		delete(n.mu.subs, id)
		n.mu.Unlock()
	}
}

var _ control.Neighbors = (*Neighbors)(nil)
