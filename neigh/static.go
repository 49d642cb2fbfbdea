package neigh

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/fibd/fibd/fib/adj"
)

// Entry is a neighbour as the control plane sees it.
type Entry struct {
	Key   adj.Key
	MAC   adj.MAC
	State State
	// Router is the R flag of the last advertisement (IPv6 only).
	Router bool
	// Adj is the adjacency the entry writes its MAC to.
	Adj adj.ID
	// Queued counts packets waiting for resolution.
	Queued int
	// Updated is when the state or MAC last changed.
	Updated time.Time
}

// Static reports whether the entry was added by AddStatic.
func (e Entry) Static() bool { return e.State == Permanent }

// AddStatic adds or replaces a static (PERMANENT) neighbour. A dynamic entry
// for the same key becomes static; packets queued for it are sent. Static
// entries have no timers, do not count against MaxEntries, are never
// evicted and survive Flush.
func (t *Table) AddStatic(k adj.Key, mac adj.MAC) error {
	k = canon(k)
	if !validKey(k) {
		return fmt.Errorf("%w: %v", ErrInvalid, k)
	}
	if !unicastMAC(mac) {
		return fmt.Errorf("%w: %v is not a unicast MAC", ErrInvalid, mac)
	}
	var w work
	f := t.lockFIB(k.FIB)
	e := f.idx.find(k)
	if e == nil {
		e = t.createLocked(f, k, true)
	}
	e.mac = mac
	t.setStateLocked(e, Permanent, &w)
	f.mu.Unlock()
	t.run(&w)
	return nil
}

// DeleteStatic removes a static neighbour; ErrNotFound if k has none.
func (t *Table) DeleteStatic(k adj.Key) error {
	k = canon(k)
	f := t.lockFIB(k.FIB)
	defer f.mu.Unlock()
	e := f.idx.find(k)
	if e == nil || e.state != Permanent {
		return fmt.Errorf("%w: no static entry for %v", ErrNotFound, k)
	}
	t.removeLocked(e)
	return nil
}

// Delete removes any neighbour entry, static or dynamic (ip neigh del).
func (t *Table) Delete(k adj.Key) error {
	k = canon(k)
	f := t.lockFIB(k.FIB)
	defer f.mu.Unlock()
	e := f.idx.find(k)
	if e == nil {
		return fmt.Errorf("%w: %v", ErrNotFound, k)
	}
	t.removeLocked(e)
	return nil
}

// List calls fn for each entry of fib, in no particular order, until fn
// returns false. fn runs without neigh's lock held and may call back.
func (t *Table) List(fib adj.FIBID, fn func(Entry) bool) {
	var snap []Entry
	if f := t.lookupFIB(fib); f != nil {
		f.mu.Lock()
		for c := range f.lists {
			for e := f.lists[c].head; e != nil; e = e.next {
				if e.state != None {
					snap = append(snap, e.snapshotLocked())
				}
			}
		}
		f.mu.Unlock()
	}
	for _, e := range snap {
		if !fn(e) {
			return
		}
	}
}

// Flush removes the dynamic entries of fib on port p (every port when p is
// adj.NoPort), as on link down; static entries stay. It returns how many
// entries were removed.
func (t *Table) Flush(fib adj.FIBID, p adj.PortID) int {
	f := t.lookupFIB(fib)
	if f == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range evictionOrder {
		for e := f.lists[c].head; e != nil; {
			next := e.next
			if p == adj.NoPort || e.key.Port == p {
				t.removeLocked(e)
				n++
			}
			e = next
		}
	}
	return n
}

// DeleteFIB removes every entry of fib, static ones too, with its
// configuration and counters.
func (t *Table) DeleteFIB(fib adj.FIBID) {
	f := t.lookupFIB(fib)
	if f == nil {
		return
	}
	f.mu.Lock()
	for c := range f.lists {
		for e := f.lists[c].head; e != nil; {
			next := e.next
			t.removeLocked(e)
			e = next
		}
	}
	// Whoever holds f from before waits on its mutex and then sees it
	// retired (lockFIB looks again), so nothing is created in it.
	f.mu.deleted = true
	f.mu.Unlock()
	t.log.Info("neigh: FIB deleted", "fib", fib)
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.fibs.Load()
	next := make(map[adj.FIBID]*fibState, len(old))
	for k, v := range old {
		if k != fib {
			next[k] = v
		}
	}
	t.fibs.Store(&next)
}

// SetConfig sets fib's timers and limits; zero fields take the defaults.
// New timers apply from each entry's next transition. Lowering MaxEntries
// evicts down to the new bound at once.
func (t *Table) SetConfig(fib adj.FIBID, c FIBConfig) error {
	t.mu.Lock()
	def := t.mu.defaults
	t.mu.Unlock()
	c, err := c.withDefaults(def)
	if err != nil {
		return err
	}
	f := t.lockFIB(fib)
	defer f.mu.Unlock()
	f.cfg = c
	t.log.Info("neigh: FIB configured", "fib", fib, "base_reachable_time", c.BaseReachableTime,
		"retrans_timer", c.RetransTimer, "max_entries", c.MaxEntries)
	for f.dynamicLocked() > c.MaxEntries && t.evictLocked(f) {
	}
	return nil
}

// Config returns fib's effective configuration.
func (t *Table) Config(fib adj.FIBID) FIBConfig {
	if f := t.lookupFIB(fib); f != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.cfg
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.defaults
}

// Stats returns every FIB's counters and gauges.
func (t *Table) Stats() Stats {
	var s Stats
	for id, f := range *t.fibs.Load() {
		f.mu.Lock()
		fs := FIBStats{FIB: id, Counters: f.ctr.snapshot(), QueuedPackets: f.queuedPkts, QueuedBytes: f.queuedBytes}
		fs.Dynamic = f.dynamicLocked()
		fs.Static = f.lists[classStatic].n
		for c := range f.lists {
			for e := f.lists[c].head; e != nil; e = e.next {
				fs.ByState[e.state]++
			}
		}
		f.mu.Unlock()
		s.FIBs = append(s.FIBs, fs)
	}
	slices.SortFunc(s.FIBs, func(a, b FIBStats) int { return cmp.Compare(a.FIB, b.FIB) })
	t.mu.Lock()
	defer t.mu.Unlock()
	s.EventsDropped = t.mu.eventsDropped
	for sub := range t.mu.subs {
		s.EventsDropped += sub.dropped.Load()
	}
	return s
}
