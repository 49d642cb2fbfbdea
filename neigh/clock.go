package neigh

import (
	"math/rand/v2"
	"time"
)

// Clock is the time source for every neigh timer. Tests inject a fake
// (neightest.Clock) and advance it by hand.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d, like time.AfterFunc.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer started by Clock.AfterFunc.
type Timer interface {
	// Stop prevents the timer from firing; it reports whether it did.
	// neigh does not rely on the result: a timer that already fired finds
	// its generation outdated and does nothing.
	Stop() bool
}

// Rand is the random source for REACHABLE_TIME jitter. It is only called
// with Table.mu held, so it need not be safe for concurrent use.
type Rand interface {
	Float64() float64
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// newRand returns a PCG seeded from the runtime's random source.
func newRand() Rand {
	return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
}
