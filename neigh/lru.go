package neigh

// Eviction. Each FIB keeps its entries on one of five intrusive lists by
// how useful they are, each in order of last change (oldest first). When
// MaxEntries dynamic entries exist, a new one evicts the oldest entry of
// the first list in this order that has one nothing else depends on:
// FAILED (known useless), INCOMPLETE (never answered: what a scan leaves),
// STALE (unused since its last confirmation — an entry in use moves on to
// DELAY), then the rest. An entry a route uses (a gateway: its adjacency
// has owners besides neigh) is never evicted, whatever its state, as
// Linux's forced garbage collection skips referenced entries; static
// entries have their own list and are never evicted either.

type class uint8

const (
	classFailed class = iota
	classIncomplete
	classStale
	classActive
	classStatic
	numClasses
)

// evictionOrder lists the classes eviction takes from, first to last.
var evictionOrder = [...]class{classFailed, classIncomplete, classStale, classActive}

func classOf(s State) class {
	switch s {
	case Failed:
		return classFailed
	case None, Incomplete:
		return classIncomplete
	case Stale:
		return classStale
	case Permanent:
		return classStatic
	case Reachable, Delay, Probe:
		return classActive
	}
	return classActive
}

// entryList is a doubly linked list through entry.prev/next.
type entryList struct {
	head, tail *entry
	n          int
}

func (l *entryList) pushBack(e *entry) {
	e.prev, e.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
}

func (l *entryList) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
	l.n--
}

// moveLocked puts e at the back of the list its state belongs to: it has
// just changed, so it is the most recently useful of its class.
func (t *Table) moveLocked(e *entry) {
	lists := &e.fib.lists
	lists[e.class].remove(e)
	e.class = classOf(e.state)
	lists[e.class].pushBack(e)
}

// evictLocked removes the FIB's least useful dynamic entry that no route
// uses; false if there is none.
func (t *Table) evictLocked(f *fibState) bool {
	for _, c := range evictionOrder {
		for e := f.lists[c].head; e != nil; e = e.next {
			if t.referencedLocked(e) {
				continue
			}
			f.ctr.inc(Evictions)
			t.removeLocked(e)
			return true
		}
	}
	return false
}
