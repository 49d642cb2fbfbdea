package neigh

import (
	"time"

	"github.com/fibd/fibd/fib/adj"
)

// entry is one neighbour: (FIB, port, IP) → MAC and NUD state.
type entry struct {
	// key never changes; the index compares it lock-free.
	key adj.Key
	// word packs the MAC (bits 0–47) and State (bits 48–55) so the packet
	// path reads both with one atomic load.
	word atomicWord

	// Everything below is guarded by Table.mu.
	fib    *fibState
	adjID  adj.ID
	state  State
	mac    adj.MAC
	router bool
	// probes counts solicitations sent in the current INCOMPLETE or PROBE
	// round.
	probes int
	// timer is the one pending timer; timerGen invalidates a timer that
	// fired while its state was being left.
	timer    Timer
	timerGen uint64
	updated  time.Time
	queue    pending
	// LRU links within fib.lists[class].
	class      class
	prev, next *entry

	// _ pads entry to 192 bytes, a size class whose objects start on
	// 64-byte boundaries, so key and word — all a lookup reads — share one
	// cache line. TestEntryHotFieldsShareACacheLine keeps it so.
	_ [16]byte
}

func (e *entry) load() (adj.MAC, State) {
	v := e.word.Load()
	return macFromWord(v), State(v >> 48)
}

// publishLocked makes e's MAC and state visible to the packet path: its own
// word for Lookup/Resolve, and the shared adjacency for fib's routes.
func (t *Table) publishLocked(e *entry) {
	// Only a usable MAC is published; a FAILED entry remembers its last
	// MAC for List but must not hand it to the packet path.
	mac, st := e.mac, e.state.AdjState()
	if st != adj.Valid && st != adj.Stale {
		mac = adj.MAC{}
	}
	e.word.Store(wordFrom(mac, e.state))
	if a := t.adjs.Get(e.adjID); a != nil {
		a.SetLinkLayer(mac, st)
	}
}

// snapshotLocked is e as the API shows it.
func (e *entry) snapshotLocked() Entry {
	return Entry{
		Key:     e.key,
		MAC:     e.mac,
		State:   e.state,
		Router:  e.router,
		Adj:     e.adjID,
		Queued:  len(e.queue.pkts),
		Updated: e.updated,
	}
}

// createLocked makes a new entry in state None and takes its adjacency
// reference. A dynamic entry beyond MaxEntries evicts the least useful one
// first; nil means the FIB is full of entries that may not be evicted.
func (t *Table) createLocked(f *fibState, k adj.Key, static bool) *entry {
	if !static && f.dynamicLocked() >= f.cfg.MaxEntries && !t.evictLocked(f) {
		f.ctr.inc(TableFull)
		return nil
	}
	e := &entry{key: k, fib: f, adjID: t.adjs.Acquire(k), updated: t.clock.Now()}
	e.class = classOf(None)
	if static {
		e.class = classStatic
	}
	f.lists[e.class].pushBack(e)
	f.idx.insertLocked(e)
	t.publishLocked(e)
	return e
}

// removeLocked takes e out of the table: timers stopped, queued packets
// dropped, the adjacency returned to Incomplete (fib may still hold it, and
// the dataplane must come back to Resolve) and released.
func (t *Table) removeLocked(e *entry) {
	if e.adjID == adj.None {
		return // already removed
	}
	t.stopTimerLocked(e)
	if n := len(e.queue.pkts); n > 0 {
		e.fib.ctr.add(QueueDropRemoved, n)
		t.takeQueueLocked(e)
	}
	last := e.snapshotLocked()
	e.state, e.mac = None, adj.MAC{}
	t.publishLocked(e)
	t.adjs.Release(e.adjID)
	e.adjID = adj.None
	e.fib.idx.deleteLocked(e)
	e.fib.idx.shrinkLocked()
	e.fib.lists[e.class].remove(e)
	if last.State != None {
		// An entry that never entered the machine was never announced.
		t.emitLocked(EventRemoved, last)
	}
}

// setStateLocked moves e to next and starts what the RFC 4861 §7.3.3 state
// requires on entry: the solicitation and retransmit timer of INCOMPLETE
// and PROBE, the timeouts of REACHABLE and DELAY, the hand-back of queued
// packets when a MAC becomes usable or resolution fails. The caller has set
// e.mac already where it changes.
func (t *Table) setStateLocked(e *entry, next State, w *work) {
	prev := e.state
	t.stopTimerLocked(e)
	e.state = next
	e.updated = t.clock.Now()
	t.publishLocked(e)
	t.moveLocked(e)
	cfg := &e.fib.cfg

	switch next {
	case Incomplete:
		e.probes = 0
		t.solicitLocked(e, false, w)
		t.armLocked(e, cfg.RetransTimer)
	case Reachable:
		t.armLocked(e, t.reachableTimeLocked(cfg))
	case Delay:
		t.armLocked(e, cfg.DelayFirstProbeTime)
	case Probe:
		e.probes = 0
		t.solicitLocked(e, true, w)
		t.armLocked(e, cfg.RetransTimer)
	case Failed:
		e.fib.ctr.inc(ResolutionFailed)
		if pkts := t.takeQueueLocked(e); pkts != nil {
			e.fib.ctr.add(QueueUnreachable, len(pkts))
			w.handoffs = append(w.handoffs, handoff{key: e.key, pkts: pkts, failed: true})
		}
		t.armLocked(e, cfg.FailedLifetime)
	case Stale:
		// STALE waits for traffic, and is collected if none comes.
		t.armLocked(e, cfg.GCStaleTime)
	case Permanent, None:
		// No timer: PERMANENT waits for an operator.
	}
	if next != Failed && next != Incomplete && next != None {
		if pkts := t.takeQueueLocked(e); pkts != nil {
			e.fib.ctr.add(QueueDelivered, len(pkts))
			w.handoffs = append(w.handoffs, handoff{key: e.key, mac: e.mac, pkts: pkts})
		}
	}
	kind := EventChanged
	if prev == None {
		kind = EventAdded
	}
	t.emitLocked(kind, e.snapshotLocked())
}

// setMACLocked changes the MAC without a state change (a STALE entry
// learning a new address): one atomic store reaches every route.
func (t *Table) setMACLocked(e *entry, mac adj.MAC) {
	e.mac = mac
	e.updated = t.clock.Now()
	t.publishLocked(e)
	t.moveLocked(e)
	t.emitLocked(EventChanged, e.snapshotLocked())
}

// reachableTimeLocked is BaseReachableTime scaled by a uniform random
// factor in [MIN_RANDOM_FACTOR, MAX_RANDOM_FACTOR) (RFC 4861 §6.3.2), drawn
// per transition so that entries learned together do not expire together.
func (t *Table) reachableTimeLocked(cfg *FIBConfig) time.Duration {
	t.mu.Lock()
	r := t.mu.rand.Float64()
	t.mu.Unlock()
	f := MinRandomFactor + (MaxRandomFactor-MinRandomFactor)*r
	return time.Duration(float64(cfg.BaseReachableTime) * f)
}

// armLocked starts e's one timer. A timer that fires after e changed state
// sees a newer generation and does nothing.
func (t *Table) armLocked(e *entry, d time.Duration) {
	t.stopTimerLocked(e)
	gen := e.timerGen
	e.timer = t.clock.AfterFunc(d, func() { t.fire(e, gen) })
}

func (t *Table) stopTimerLocked(e *entry) {
	e.timerGen++
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
}

// fire runs e's timer event unless the timer was superseded.
func (t *Table) fire(e *entry, gen uint64) {
	var w work
	e.fib.mu.Lock()
	if e.timerGen != gen || e.adjID == adj.None {
		e.fib.mu.Unlock()
		return
	}
	e.timer = nil
	t.handleTimerLocked(e, &w)
	e.fib.mu.Unlock()
	t.run(&w)
}
