package fib

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fibd/fibd/fib/adj"
)

// Route events: what changed in a FIB, batch by batch, for the daemons and
// admins that watch it — the changes clients make and the ones fibd makes
// itself (a port purged, a resync sweep, a FIB deleted, a next hop that
// resolves differently), so a daemon's view never drifts silently. Events
// carry the whole state after the change, so a consumer that applies one
// twice (the initial listing and an event for the same route) ends in the
// same place. Nothing is built when nobody watches.

// EventKind is what an event reports.
type EventKind uint8

const (
	EventAdded EventKind = iota + 1
	EventChanged
	EventRemoved
	// EventNextHop: a path set (or a group) resolves to other adjacencies;
	// the routes on it did not change, where their packets go did.
	EventNextHop
	EventGroupSet
	EventGroupDeleted
	// EventFIBDeleted: the FIB is gone, with every route in it.
	EventFIBDeleted
)

var eventKindNames = [...]string{EventAdded: "added", EventChanged: "changed", EventRemoved: "removed",
	EventNextHop: "next-hop", EventGroupSet: "group-set", EventGroupDeleted: "group-deleted", EventFIBDeleted: "fib-deleted"}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return "EventKind(?)"
}

// Cause is who made a change.
type Cause uint8

const (
	// CauseClient: a batch a client applied.
	CauseClient Cause = iota
	// CauseResync: the sweep of a resync (or a session's flush).
	CauseResync
	// CausePortPurge: a port left the FIB and routes through it went.
	CausePortPurge
	// CauseFIBDeleted: the FIB was deleted.
	CauseFIBDeleted
	// CauseResolution: a next hop resolves through other routes or
	// adjacencies than before.
	CauseResolution
)

var causeNames = [...]string{CauseClient: "client", CauseResync: "resync", CausePortPurge: "port-purge",
	CauseFIBDeleted: "fib-deleted", CauseResolution: "resolution"}

func (c Cause) String() string {
	if int(c) < len(causeNames) {
		return causeNames[c]
	}
	return "Cause(?)"
}

// Event is one change.
type Event struct {
	FIB     adj.FIBID
	Kind    EventKind
	Cause   Cause
	Version uint64    // the FIB version that made it visible
	Route   RouteInfo // route events: the route after (removed: before) the change
	Group   GroupInfo // group events
	// Next-hop events: the path set and what it resolves to now.
	Paths []Path
	Next  *Next
}

// Watcher receives a FIB's (or every FIB's) events, one slice per batch.
// A watcher that does not keep up is dropped, not waited for: Lost then
// reports it and Done is closed, and the consumer lists and watches again.
type Watcher struct {
	C    chan []Event
	fib  adj.FIBID
	all  bool
	r    *Registry
	lost atomic.Bool
	once sync.Once
	done chan struct{}
}

// Watch starts delivering the events of FIB id (nil: every FIB) into a
// channel holding up to buffer batches.
func (r *Registry) Watch(id *adj.FIBID, buffer int) *Watcher {
	w := &Watcher{C: make(chan []Event, max(1, buffer)), r: r, all: id == nil, done: make(chan struct{})}
	if id != nil {
		w.fib = *id
	}
	r.watchMu.Lock()
	next := slices.Clone(r.watchersLocked())
	next = append(next, w)
	r.watchers.Store(&next)
	r.watchMu.Unlock()
	return w
}

func (r *Registry) watchersLocked() []*Watcher {
	if p := r.watchers.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops the deliveries.
func (w *Watcher) Close() {
	r := w.r
	r.watchMu.Lock()
	next := slices.DeleteFunc(slices.Clone(r.watchersLocked()), func(x *Watcher) bool { return x == w })
	r.watchers.Store(&next)
	r.watchMu.Unlock()
	w.once.Do(func() { close(w.done) })
}

// Lost reports whether events were dropped because the watcher fell behind.
func (w *Watcher) Lost() bool { return w.lost.Load() }

// Done is closed when the watcher is closed or lost.
func (w *Watcher) Done() <-chan struct{} { return w.done }

func (w *Watcher) wants(id adj.FIBID) bool { return w.all || w.fib == id }

// watching reports whether anyone watches FIB id: events are built only
// then.
func (r *Registry) watching(id adj.FIBID) bool {
	for _, w := range r.watchersLocked() {
		if w.wants(id) {
			return true
		}
	}
	return false
}

// deliver hands a batch's events to the watchers of its FIB, dropping a
// watcher whose channel is full.
func (r *Registry) deliver(id adj.FIBID, evs []Event) {
	if len(evs) == 0 {
		return
	}
	for _, w := range r.watchersLocked() {
		if !w.wants(id) || w.lost.Load() {
			continue
		}
		select {
		case w.C <- evs:
		default:
			w.lost.Store(true)
			w.once.Do(func() { close(w.done) })
		}
	}
}

// noteResolutionLocked records that entry i resolves differently now.
func (f *FIB) noteResolutionLocked(i uint32, n *Next) {
	if !f.mu.watched {
		return
	}
	f.mu.events = append(f.mu.events, Event{FIB: f.id, Kind: EventNextHop, Cause: CauseResolution, Paths: n.Paths, Next: n})
}

// collectEventsLocked turns the running batch's undo logs into events,
// before commit forgets them.
func (f *FIB) collectEventsLocked() {
	if !f.mu.watched {
		return
	}
	if f.mu.v4 != nil {
		f.mu.events = familyEvents(f, f.mu.v4, f.mu.events)
	}
	if f.mu.v6 != nil {
		f.mu.events = familyEvents(f, f.mu.v6, f.mu.events)
	}
	t := &f.mu.nexts
	for _, u := range f.mu.groupUndo {
		switch u.kind {
		case groupDeleted:
			f.mu.events = append(f.mu.events, Event{FIB: f.id, Kind: EventGroupDeleted, Cause: f.mu.cause,
				Group: GroupInfo{Group: Group{ID: u.id, Source: f.reg.sourceName(u.old.src), Paths: u.old.paths, Backup: u.old.backup}}})
		default:
			g := f.mu.groups[u.id]
			if g == nil {
				continue
			}
			f.mu.events = append(f.mu.events, Event{FIB: f.id, Kind: EventGroupSet, Cause: f.mu.cause,
				Group: GroupInfo{Group: Group{ID: g.id, Source: f.reg.sourceName(g.src), Paths: g.paths, Backup: g.backup},
					Next: t.get(g.entry)}})
		}
	}
}

func familyEvents[K key](f *FIB, fam *family[K], out []Event) []Event {
	type seen struct {
		kind undoKind
		old  record[K]
	}
	first := make(map[uint32]seen, len(fam.undo))
	order := make([]uint32, 0, len(fam.undo))
	deleted := map[uint32]bool{}
	for _, u := range fam.undo {
		if _, ok := first[u.id]; !ok {
			first[u.id] = seen{u.kind, u.old}
			order = append(order, u.id)
		}
		if u.kind == undoDeleted {
			deleted[u.id] = true
		}
	}
	for _, id := range order {
		s := first[id]
		r := &fam.recs[id]
		switch {
		case s.kind == undoAdded && deleted[id]:
			continue // came and went within the batch
		case deleted[id]:
			out = append(out, routeEventOf(f, fam, id, EventRemoved))
		case s.kind == undoAdded:
			out = append(out, routeEventOf(f, fam, id, EventAdded))
		case s.old.next != r.next || s.old.pref != r.pref:
			out = append(out, routeEventOf(f, fam, id, EventChanged))
		}
	}
	return out
}

func routeEventOf[K key](f *FIB, fam *family[K], id uint32, kind EventKind) Event {
	r := &fam.recs[id]
	ri, _ := f.infoLocked(prefixOf(r), r.src, r.pref, r.next, nil)
	if kind != EventRemoved {
		ri.Best = fam.best(r.addr, int(r.bits)) == id
	}
	return Event{FIB: f.id, Kind: kind, Cause: f.mu.cause, Route: ri}
}
