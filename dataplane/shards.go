package dataplane

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// Counter shards: every port and every FIB keeps one block of counters per
// worker slot, so a worker only ever writes its own cache lines — two
// workers forwarding through one port never bounce a line between cores —
// and a reader sums the shards. The atomics stay (a reader runs beside
// the writer), but each is written by one worker only, so it never
// contends.
//
// Slot 0 is shared by the slow path: neigh's callbacks and the control
// plane's sends, which run on many goroutines but rarely.
const slowSlot = 0

// counterShard pads one slot's counters to whole cache lines of their own.
type counterShard struct {
	_ cpu.CacheLinePad
	counters
	_ cpu.CacheLinePad
}

// counterSet is one port's or one FIB's counters, by worker slot. The
// zero value is ready.
type counterSet struct {
	// shards[slot] is that slot's block, nil until it first counts;
	// copy-on-write under mu (in-memory only: a worker may take it the
	// first time it counts here).
	shards atomic.Pointer[[]*counterShard]
	mu     sync.Mutex
}

// shard returns the counters worker slot slot writes.
func (s *counterSet) shard(slot int) *counters {
	if sp := s.shards.Load(); sp != nil && slot < len(*sp) {
		if c := (*sp)[slot]; c != nil {
			return &c.counters
		}
	}
	return s.grow(slot)
}

func (s *counterSet) grow(slot int) *counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur []*counterShard
	if sp := s.shards.Load(); sp != nil {
		cur = *sp
	}
	if slot < len(cur) && cur[slot] != nil {
		return &cur[slot].counters
	}
	next := make([]*counterShard, max(len(cur), slot+1))
	copy(next, cur)
	next[slot] = new(counterShard)
	s.shards.Store(&next)
	return &next[slot].counters
}

// snapshot sums the shards.
func (s *counterSet) snapshot() Counters {
	var sum counters
	if sp := s.shards.Load(); sp != nil {
		for _, c := range *sp {
			if c != nil {
				sum.addFrom(&c.counters)
			}
		}
	}
	return sum.snapshot()
}

// addFrom adds c's values to s (s is a private sum, never shared).
func (s *counters) addFrom(c *counters) {
	s.rxPackets.Add(c.rxPackets.Load())
	s.rxBytes.Add(c.rxBytes.Load())
	s.txPackets.Add(c.txPackets.Load())
	s.txBytes.Add(c.txBytes.Load())
	s.forwarded.Add(c.forwarded.Load())
	s.local.Add(c.local.Load())
	s.icmpSent.Add(c.icmpSent.Load())
	s.icmpLimited.Add(c.icmpLimited.Load())
	s.queued.Add(c.queued.Load())
	for d := range c.drops {
		s.drops[d].Add(c.drops[d].Load())
	}
}

// slots hands out worker slots: small integers, reused once a worker
// ends, so the shards stay as many as the workers that ever ran at once.
// A slot's shards keep their counts when it is reused: the sums stay
// right.
type slots struct {
	mu   sync.Mutex
	free []int
	next int
}

func (s *slots) get() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		id := s.free[n-1]
		s.free = s.free[:n-1]
		return id
	}
	s.next++ // slot 0 is slowSlot
	return s.next
}

func (s *slots) put(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free = append(s.free, id)
}
