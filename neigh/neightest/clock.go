// Package neightest has fakes for testing neigh and its users without a
// network: a manual Clock and a recording Env.
package neightest

import (
	"container/heap"
	"sync"
	"time"

	"github.com/fibd/fibd/neigh"
)

// Clock is a manual neigh.Clock. Timers fire only inside Advance, in
// deadline order (ties in creation order), synchronously on the goroutine
// that calls Advance and without Clock's lock held, so callbacks may start
// or stop timers. The zero value is not usable; use NewClock.
type Clock struct {
	mu struct {
		sync.Mutex
		now    time.Time
		timers timerHeap
		seq    uint64
	}
}

// NewClock returns a Clock reading start.
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	c.mu.now = start
	return c
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.now
}

// AfterFunc schedules f at Now()+d.
func (c *Clock) AfterFunc(d time.Duration, f func()) neigh.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.seq++
	t := &timer{c: c, when: c.mu.now.Add(d), seq: c.mu.seq, f: f}
	heap.Push(&c.mu.timers, t)
	return t
}

// Advance moves time forward by d, firing every timer that falls due on
// the way, including ones the callbacks start.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.mu.now.Add(d)
	for {
		if len(c.mu.timers) == 0 || c.mu.timers[0].when.After(end) {
			break
		}
		t := heap.Pop(&c.mu.timers).(*timer)
		t.index = -1
		if t.when.After(c.mu.now) {
			c.mu.now = t.when
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.mu.now = end
	c.mu.Unlock()
}

// Pending returns how many timers are scheduled.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.timers)
}

// NextIn returns the delay until the earliest timer, and false if none.
func (c *Clock) NextIn() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.mu.timers) == 0 {
		return 0, false
	}
	return c.mu.timers[0].when.Sub(c.mu.now), true
}

type timer struct {
	c     *Clock
	when  time.Time
	seq   uint64
	f     func()
	index int
}

// Stop removes the timer; it reports whether it was still pending.
func (t *timer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&c.mu.timers, t.index)
	t.index = -1
	return true
}

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

// Rand is a neigh.Rand that always returns the same value, so that
// REACHABLE_TIME is predictable: 0.5 gives exactly BaseReachableTime.
type Rand float64

// Float64 returns r.
func (r Rand) Float64() float64 { return float64(r) }
