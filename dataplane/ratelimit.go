package dataplane

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/fibd/fibd/fib/adj"
)

// rateLimiters holds one token bucket per FIB for the ICMP errors the
// router sends (RFC 1812 §4.3.2.8): a flood of TTL-expired or unroutable
// packets must not turn the router into a flood source, and one customer's
// flood must not use up another customer's budget — nor slow it: each
// bucket has its own lock, found without one, so a FIB's flood contends
// only with itself.
type rateLimiters struct {
	rate  float64 // tokens per second
	burst float64
	// buckets is copy-on-write; mu serialises the rare additions.
	buckets atomic.Pointer[map[adj.FIBID]*bucket]
	mu      sync.Mutex
}

type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   int64 // ns
}

func (r *rateLimiters) init(rate float64, burst int) {
	if rate <= 0 {
		rate = 1000
	}
	if burst <= 0 {
		burst = 200
	}
	r.rate, r.burst = rate, float64(burst)
	m := map[adj.FIBID]*bucket{}
	r.buckets.Store(&m)
}

// allow takes a token from the FIB's bucket; now is the caller's clock in
// ns (a worker reads it once per batch, not per candidate error).
func (r *rateLimiters) allow(id adj.FIBID, now int64) bool {
	b := (*r.buckets.Load())[id]
	if b == nil {
		b = r.add(id, now)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if el := now - b.last; el > 0 {
		b.tokens = min(r.burst, b.tokens+float64(el)/1e9*r.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (r *rateLimiters) add(id adj.FIBID, now int64) *bucket {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.buckets.Load()
	if b, ok := old[id]; ok {
		return b
	}
	b := &bucket{tokens: r.burst, last: now}
	m := maps.Clone(old)
	m[id] = b
	r.buckets.Store(&m)
	return b
}
