package dataplane

import (
	"sync"
	"time"

	"github.com/fibd/fibd/fib/adj"
)

// rateLimiters holds one token bucket per FIB for the ICMP errors the
// router sends (RFC 1812 §4.3.2.8): a flood of TTL-expired or unroutable
// packets must not turn the router into a flood source, and one customer's
// flood must not use up another customer's budget.
type rateLimiters struct {
	rate  float64 // tokens per second
	burst float64
	mu    struct {
		sync.Mutex
		buckets map[adj.FIBID]*bucket
	}
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (r *rateLimiters) init(rate float64, burst int) {
	if rate <= 0 {
		rate = 1000
	}
	if burst <= 0 {
		burst = 200
	}
	r.rate, r.burst = rate, float64(burst)
	r.mu.buckets = map[adj.FIBID]*bucket{}
}

// allow takes a token from the FIB's bucket.
func (r *rateLimiters) allow(id adj.FIBID) bool {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.mu.buckets[id]
	if b == nil {
		b = &bucket{tokens: r.burst, last: now}
		r.mu.buckets[id] = b
	}
	b.tokens = min(r.burst, b.tokens+now.Sub(b.last).Seconds()*r.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
