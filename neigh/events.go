package neigh

import "sync/atomic"

// EventKind says what happened to an entry.
type EventKind uint8

const (
	EventAdded   EventKind = iota + 1 // entered the state machine
	EventChanged                      // state or MAC changed
	EventRemoved                      // evicted, flushed, deleted or expired
)

func (k EventKind) String() string {
	switch k {
	case EventAdded:
		return "added"
	case EventChanged:
		return "changed"
	case EventRemoved:
		return "removed"
	}
	return "unknown"
}

// Event is one state change. For EventRemoved, Entry is the entry as it was
// just before removal.
type Event struct {
	Kind  EventKind
	Entry Entry
}

// Subscription receives events on C, in the order they happened. It is
// bounded: when C is full the event is dropped and counted, so a slow
// subscriber never blocks neigh — it sees Dropped grow and should re-List.
type Subscription struct {
	C <-chan Event

	ch      chan Event
	t       *Table
	dropped atomic.Uint64
}

// DefaultSubscriptionBuffer is the channel size Subscribe uses for 0.
const DefaultSubscriptionBuffer = 1024

// Subscribe starts a subscription to every FIB's neighbour events with a
// buffer of n events (DefaultSubscriptionBuffer if n <= 0).
func (t *Table) Subscribe(n int) *Subscription {
	if n <= 0 {
		n = DefaultSubscriptionBuffer
	}
	ch := make(chan Event, n)
	s := &Subscription{C: ch, ch: ch, t: t}
	t.mu.Lock()
	t.mu.subs[s] = struct{}{}
	t.mu.Unlock()
	return s
}

// Dropped counts the events this subscription lost because C was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes C. It is idempotent.
func (s *Subscription) Close() {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.mu.subs[s]; !ok {
		return
	}
	delete(t.mu.subs, s)
	t.mu.eventsDropped += s.dropped.Load()
	close(s.ch)
}

// emitLocked offers ev to every subscriber without blocking; the caller
// holds the entry's FIB mutex, so one FIB's events stay in order. It never
// waits, so it is not a callback in the sense of the Env rule.
func (t *Table) emitLocked(kind EventKind, e Entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for s := range t.mu.subs {
		select {
		case s.ch <- Event{Kind: kind, Entry: e}:
		default:
			s.dropped.Add(1)
		}
	}
}
