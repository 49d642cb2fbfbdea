package fib

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fibd/fibd/fib/adj"
)

// Registry holds every FIB by ID, the binding of ports to FIBs, the route
// sources, and the adjacency table all FIBs share.
//
// Concurrency: Get and PortFIB are lock-free (the packet path may call
// them); everything else serialises on the registry's mutex. Lock order: a
// FIB's mutex may be held while taking the registry's, never the reverse.
type Registry struct {
	adjs *adj.Table
	fibs atomic.Pointer[map[adj.FIBID]*FIB]
	// ports is the published port → FIB binding.
	ports atomic.Pointer[map[adj.PortID]adj.FIBID]

	mu struct {
		sync.Mutex
		limits   Limits
		leakRefs map[adj.FIBID]int
		// leaks holds every FIB's lookup-in-FIB routes (leaks.go).
		leaks map[adj.FIBID]map[leakKey]adj.FIBID
		// Route sources (sources.go): name → ID, ID → name, uses per ID,
		// freed IDs.
		sources map[string]uint16
		names   []string // names[id]; names[0] is unused
		srcUses []int32
		srcFree []uint16
	}
	// names is published for betterFunc, which runs under FIB mutexes.
	names atomic.Pointer[[]string]

	// watchers receive route events (events.go); watchMu serialises
	// their registration.
	watchers atomic.Pointer[[]*Watcher]
	watchMu  sync.Mutex

	// fwdObs receives forwarding changes (observe.go).
	fwdObs atomic.Pointer[ForwardingObserver]
}

// Options configure a Registry.
type Options struct {
	// Adjacencies is the shared adjacency table; nil makes a new one.
	Adjacencies *adj.Table
	// Limits are given to every FIB created without its own.
	Limits Limits
}

// NewRegistry returns a registry holding the default FIB 0.
func NewRegistry(o Options) *Registry {
	r := &Registry{adjs: o.Adjacencies}
	if r.adjs == nil {
		r.adjs = new(adj.Table)
	}
	r.mu.limits = o.Limits
	r.mu.sources = map[string]uint16{}
	r.mu.names = []string{""}
	r.mu.srcUses = []int32{0}
	names := r.mu.names
	r.names.Store(&names)
	fibs := map[adj.FIBID]*FIB{adj.DefaultFIB: newFIB(adj.DefaultFIB, r, o.Limits)}
	r.fibs.Store(&fibs)
	ports := map[adj.PortID]adj.FIBID{}
	r.ports.Store(&ports)
	return r
}

// Adjacencies returns the adjacency table shared by every FIB.
func (r *Registry) Adjacencies() *adj.Table { return r.adjs }

// Get returns the FIB with the given ID. Lock-free.
func (r *Registry) Get(id adj.FIBID) (*FIB, bool) {
	f, ok := (*r.fibs.Load())[id]
	return f, ok
}

// List returns every FIB, by ascending ID.
func (r *Registry) List() []*FIB {
	m := *r.fibs.Load()
	out := make([]*FIB, 0, len(m))
	for _, id := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[id])
	}
	return out
}

// Create makes a new, empty FIB with the registry's default limits.
func (r *Registry) Create(id adj.FIBID) (*FIB, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.fibs.Load()
	if _, ok := old[id]; ok {
		return nil, fmt.Errorf("fib %d: %w", id, ErrFIBExists)
	}
	f := newFIB(id, r, r.mu.limits)
	m := maps.Clone(old)
	m[id] = f
	r.fibs.Store(&m)
	return f, nil
}

// Delete removes a FIB. It is refused with ErrFIBInUse while a port is bound
// to it or another FIB's routes leak into it, and with ErrDefaultFIB for FIB
// 0. Its routes and the references they hold are released.
func (r *Registry) Delete(id adj.FIBID) error {
	if id == adj.DefaultFIB {
		return ErrDefaultFIB
	}
	r.mu.Lock()
	old := *r.fibs.Load()
	f, ok := old[id]
	if !ok {
		r.mu.Unlock()
		return fmt.Errorf("fib %d: %w", id, ErrNoSuchFIB)
	}
	var bound []adj.PortID
	for p, fid := range *r.ports.Load() {
		if fid == id {
			bound = append(bound, p)
		}
	}
	if len(bound) > 0 {
		r.mu.Unlock()
		slices.Sort(bound)
		return fmt.Errorf("fib %d: %w: ports %v are bound to it", id, ErrFIBInUse, bound)
	}
	if n := r.mu.leakRefs[id]; n > 0 {
		r.mu.Unlock()
		return fmt.Errorf("fib %d: %w: %d lookup routes in other FIBs lead into it", id, ErrFIBInUse, n)
	}
	m := maps.Clone(old)
	delete(m, id)
	r.fibs.Store(&m)
	r.mu.Unlock()
	f.destroy()
	r.deliver(id, []Event{{FIB: id, Kind: EventFIBDeleted, Cause: CauseFIBDeleted}})
	return nil
}

// BindPort binds a port to a FIB. A port already bound elsewhere moves: its
// addresses and every route through it are removed from the old FIB (they
// are not carried over). An error after the binding changed (the old FIB's
// purge failed) says so; the port is bound to id then.
func (r *Registry) BindPort(p adj.PortID, id adj.FIBID) error {
	if p == adj.NoPort {
		return fmt.Errorf("%w: port 0", ErrPortNotBound)
	}
	r.mu.Lock()
	if _, ok := (*r.fibs.Load())[id]; !ok {
		r.mu.Unlock()
		return fmt.Errorf("fib %d: %w", id, ErrNoSuchFIB)
	}
	ports := maps.Clone(*r.ports.Load())
	prev, had := ports[p]
	ports[p] = id
	r.ports.Store(&ports)
	r.mu.Unlock()
	if had && prev != id {
		if f, ok := r.Get(prev); ok {
			if err := f.PurgePort(p); err != nil {
				return fmt.Errorf("port %d moved to fib %d: %w", p, id, err)
			}
		}
	}
	return nil
}

// UnbindPort removes a port's binding, and its addresses and routes from its
// FIB.
func (r *Registry) UnbindPort(p adj.PortID) error {
	r.mu.Lock()
	ports := maps.Clone(*r.ports.Load())
	prev, had := ports[p]
	if !had {
		r.mu.Unlock()
		return fmt.Errorf("%w: port %d is not bound", ErrPortNotBound, p)
	}
	delete(ports, p)
	r.ports.Store(&ports)
	r.mu.Unlock()
	if f, ok := r.Get(prev); ok {
		if err := f.PurgePort(p); err != nil {
			return fmt.Errorf("port %d unbound: %w", p, err)
		}
	}
	return nil
}

// PortFIB returns the FIB a port is bound to. Lock-free.
func (r *Registry) PortFIB(p adj.PortID) (adj.FIBID, bool) {
	id, ok := (*r.ports.Load())[p]
	return id, ok
}

// Ports returns the ports bound to a FIB, ascending.
func (r *Registry) Ports(id adj.FIBID) []adj.PortID {
	var out []adj.PortID
	for p, fid := range *r.ports.Load() {
		if fid == id {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func (r *Registry) leakAcquire(id adj.FIBID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := (*r.fibs.Load())[id]; !ok {
		return fmt.Errorf("lookup in fib %d: %w", id, ErrNoSuchFIB)
	}
	if r.mu.leakRefs == nil {
		r.mu.leakRefs = map[adj.FIBID]int{}
	}
	r.mu.leakRefs[id]++
	return nil
}

func (r *Registry) leakRelease(id adj.FIBID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.leakRefs[id]--
	if r.mu.leakRefs[id] <= 0 {
		delete(r.mu.leakRefs, id)
	}
}
