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
// Everything else about a FIB's entries serialises on that FIB's own mutex
// (fibState.mu), which is only held for in-memory work: Env is never called
// with it held, and one FIB's ARP flood, scan or churn never waits on, or
// makes wait, another FIB's slow path. Timers fire on their own goroutines
// and take their FIB's mutex like any other event. The table's mutex (mu)
// guards what all FIBs share — defaults, subscribers, the random source,
// the creation of a FIB's state — and may be taken while a FIB's is held,
// never the other way round.
type Table struct {
	adjs  *adj.Table
	env   Env
	clock Clock
	log   *slog.Logger
	// seed randomises every FIB's index hash; immutable after New.
	seed uint64

	// fibs is a copy-on-write map so that the packet path finds a FIB's
	// state without a lock; it is replaced only with mu held.
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

// fibState is one FIB's entries, configuration, counters, LRU lists and
// queue totals.
type fibState struct {
	id  adj.FIBID
	ctr counters // lock-free
	// idx is read lock-free; its writers hold mu.
	idx index

	mu struct {
		sync.Mutex
		deleted bool
	}
	// Guarded by mu.
	cfg         FIBConfig
	lists       [numClasses]entryList
	queuedPkts  int
	queuedBytes int
	budget      solicitBudget
}

// dynamicLocked counts the FIB's entries that MaxEntries bounds.
func (f *fibState) dynamicLocked() int {
	n := 0
	for _, c := range evictionOrder {
		n += f.lists[c].n
	}
	return n
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
	t.seed = rand.Uint64()
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
func (t *Table) counters(fib adj.FIBID) *counters { return &t.fib(fib).ctr }

// lookupFIB returns fib's state, or nil. Lock-free.
func (t *Table) lookupFIB(fib adj.FIBID) *fibState { return (*t.fibs.Load())[fib] }

// fib returns fib's state, creating it with the default config.
func (t *Table) fib(fib adj.FIBID) *fibState {
	if f := t.lookupFIB(fib); f != nil {
		return f
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fibCreateLocked(fib)
}

// lockFIB returns fib's state with its mutex held, creating it if needed;
// it retries when it meets a state DeleteFIB has just retired.
func (t *Table) lockFIB(fib adj.FIBID) *fibState {
	for {
		f := t.fib(fib)
		f.mu.Lock()
		if !f.mu.deleted {
			return f
		}
		f.mu.Unlock()
	}
}

func (t *Table) fibCreateLocked(fib adj.FIBID) *fibState {
	old := *t.fibs.Load()
	if f, ok := old[fib]; ok {
		return f
	}
	f := &fibState{id: fib, cfg: t.mu.defaults}
	f.idx.seed = t.seed
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
	f := t.lookupFIB(k.FIB)
	if f == nil {
		return adj.MAC{}, adj.Incomplete, false
	}
	e := f.idx.find(k)
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
	if f := t.lookupFIB(k.FIB); f != nil {
		if e := f.idx.find(k); e != nil {
			if mac, s := e.load(); s.usable() {
				return mac, true
			}
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
		f := t.lockFIB(k.FIB)
		e := f.idx.find(k)
		if e == nil && !checked {
			f.mu.Unlock()
			if !t.onLink(k.FIB, k.Port, k.Addr) {
				f.ctr.inc(ResolveOffLink)
				return adj.MAC{}, false
			}
			checked = true
			continue
		}
		if e == nil {
			if e = t.createLocked(f, k, false); e == nil {
				f.mu.Unlock()
				return adj.MAC{}, false
			}
		}
		mac, ok := t.handlePacketQueuedLocked(e, pkt, &w)
		f.mu.Unlock()
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
	f := t.lookupFIB(k.FIB)
	if f == nil || f.idx.find(k) == nil {
		return
	}
	var w work
	f.mu.Lock()
	if e := f.idx.find(k); e != nil {
		t.handleUpperLayerConfirmationLocked(e, &w)
	}
	f.mu.Unlock()
	t.run(&w)
}
