package neigh

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/fibd/fibd/fib/adj"
)

// Table holds the neighbour entries of every FIB.
//
// Concurrency: Lookup and the resolved path of Resolve are lock-free and
// allocation-free and may be called from any number of packet goroutines.
// Everything else serialises on mu, which is only held for in-memory work:
// Env is never called with mu held. Timers fire on their own goroutines and
// take mu like any other event.
type Table struct {
	adjs  *adj.Table
	env   Env
	clock Clock
	log   *slog.Logger

	// idx is read lock-free; its writers hold mu.
	idx index
	// fibs is a copy-on-write map so that counters can be bumped from the
	// packet path without mu; it is replaced only with mu held.
	fibs atomic.Pointer[map[adj.FIBID]*fibState]

	mu struct {
		sync.Mutex
		rand     Rand
		defaults FIBConfig
		subs     map[*Subscription]struct{}
		// eventsDropped sums Subscription.dropped of closed subscriptions.
		eventsDropped uint64
	}
}

// fibState is one FIB's configuration, counters, LRU lists and queue totals.
type fibState struct {
	id  adj.FIBID
	ctr counters // lock-free

	// Guarded by Table.mu.
	cfg         FIBConfig
	lists       [numClasses]entryList
	queuedPkts  int
	queuedBytes int
	tokens      float64 // solicitation token bucket
	refilled    int64   // clock time of the last refill, ns
}

// dynamicLocked counts the FIB's entries that MaxEntries bounds.
func (f *fibState) dynamicLocked() int {
	return f.lists[classFailed].n + f.lists[classStale].n + f.lists[classActive].n
}

// Sentinel errors of the control-path API; they are wrapped with details.
var (
	ErrNotFound = errors.New("neigh: no such neighbour")
	ErrInvalid  = errors.New("neigh: invalid neighbour")
)

// New returns an empty Table. cfg.Adj and cfg.Env are required.
func New(cfg Config) (*Table, error) {
	if cfg.Adj == nil || cfg.Env == nil {
		return nil, errors.New("neigh: Config.Adj and Config.Env are required")
	}
	def, err := cfg.Defaults.withDefaults(DefaultFIBConfig())
	if err != nil {
		return nil, err
	}
	t := &Table{adjs: cfg.Adj, env: cfg.Env, clock: cfg.Clock, log: cfg.Logger}
	if t.clock == nil {
		t.clock = RealClock{}
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	t.mu.rand = cfg.Rand
	if t.mu.rand == nil {
		t.mu.rand = newRand()
	}
	t.mu.defaults = def
	t.mu.subs = make(map[*Subscription]struct{})
	t.idx.seed = rand.Uint64()
	empty := map[adj.FIBID]*fibState{}
	t.fibs.Store(&empty)
	return t, nil
}

// canon is the key form used inside: IPv4 unmapped, no zone.
func canon(k adj.Key) adj.Key {
	k.Addr = k.Addr.Unmap().WithZone("")
	return k
}

// validKey reports whether k can be a neighbour: a unicast, non-loopback
// address on a real port.
func validKey(k adj.Key) bool {
	a := k.Addr
	return k.Port != adj.NoPort && a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() &&
		!a.IsLoopback() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// counters returns fib's counters, creating the FIB's state on first use.
func (t *Table) counters(fib adj.FIBID) *counters {
	if f, ok := (*t.fibs.Load())[fib]; ok {
		return &f.ctr
	}
	t.mu.Lock()
	f := t.fibLocked(fib)
	t.mu.Unlock()
	return &f.ctr
}

// fibLocked returns fib's state, creating it with the default config.
func (t *Table) fibLocked(fib adj.FIBID) *fibState {
	old := *t.fibs.Load()
	if f, ok := old[fib]; ok {
		return f
	}
	f := &fibState{id: fib, cfg: t.mu.defaults}
	next := make(map[adj.FIBID]*fibState, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[fib] = f
	t.fibs.Store(&next)
	return f
}

// Lookup returns the neighbour's MAC and the adjacency state it maps to.
// ok is false when there is no entry. Lock-free; allocates nothing.
func (t *Table) Lookup(k adj.Key) (mac adj.MAC, st adj.State, ok bool) {
	k = canon(k)
	e := t.idx.find(k)
	if e == nil {
		return adj.MAC{}, adj.Incomplete, false
	}
	mac, s := e.load()
	if s == None {
		return adj.MAC{}, adj.Incomplete, false
	}
	return mac, s.AdjState(), true
}

// Resolve returns the MAC to send pkt to k with. When the neighbour is
// resolved (REACHABLE, DELAY, PROBE, PERMANENT) it is lock-free and
// allocates nothing. Otherwise it runs the RFC 4861 "packet to send" event:
// a STALE entry moves to DELAY and its MAC is returned; an unresolved
// neighbour gets an INCOMPLETE entry (or a FAILED one is retried), a copy of
// pkt is queued and a solicitation is sent, and ok is false. The queued copy
// comes back through Env.Deliver or Env.Unreachable.
//
// The dataplane should call Resolve whenever the adjacency is not Valid
// (Incomplete or Failed). pkt is opaque to neigh.
func (t *Table) Resolve(k adj.Key, pkt []byte) (mac adj.MAC, ok bool) {
	k = canon(k)
	if e := t.idx.find(k); e != nil {
		if mac, s := e.load(); s.usable() {
			return mac, true
		}
	}
	return t.resolveSlow(k, pkt)
}

func (t *Table) resolveSlow(k adj.Key, pkt []byte) (adj.MAC, bool) {
	if !validKey(k) {
		t.counters(k.FIB).inc(ResolveInvalid)
		return adj.MAC{}, false
	}
	// OnLink is an Env call, so it cannot happen under mu; ask first, and
	// only when the entry would have to be created.
	checked := false
	for {
		var w work
		t.mu.Lock()
		f := t.fibLocked(k.FIB)
		e := t.idx.find(k)
		if e == nil && !checked {
			t.mu.Unlock()
			if !t.onLink(k.FIB, k.Port, k.Addr) {
				f.ctr.inc(ResolveOffLink)
				return adj.MAC{}, false
			}
			checked = true
			continue
		}
		if e == nil {
			if e = t.createLocked(f, k, false); e == nil {
				t.mu.Unlock()
				return adj.MAC{}, false
			}
		}
		mac, ok := t.handlePacketQueuedLocked(e, pkt, &w)
		t.mu.Unlock()
		t.run(&w)
		return mac, ok
	}
}

// onLink: link-local IPv6 is on every link (RFC 4861 §5.2); anything else
// must be inside a connected subnet of the port.
func (t *Table) onLink(fib adj.FIBID, p adj.PortID, a netip.Addr) bool {
	if a.Is6() && a.IsLinkLocalUnicast() {
		return true
	}
	return t.env.OnLink(fib, p, a)
}

// Confirm is an upper-layer reachability hint (RFC 4861 §7.3.1): forward
// progress was seen towards k, e.g. a TCP ACK for new data. It moves an
// entry with a MAC to REACHABLE without a probe.
func (t *Table) Confirm(k adj.Key) {
	k = canon(k)
	if t.idx.find(k) == nil {
		return
	}
	var w work
	t.mu.Lock()
	if e := t.idx.find(k); e != nil {
		t.handleUpperLayerConfirmationLocked(e, &w)
	}
	t.mu.Unlock()
	t.run(&w)
}
