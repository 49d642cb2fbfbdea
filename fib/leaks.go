package fib

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/fibd/fibd/fib/adj"
)

// Route leaks (lookup-in-FIB routes) form a graph between FIBs: FIB A's
// route for P that looks up in FIB B is an edge A → B for the addresses of
// P. A cycle of edges whose prefixes all overlap sends some packet round
// and round, so the route that would close one is refused, naming it. Two
// FIBs may still leak to each other for disjoint prefixes (a shared-services
// FIB and a customer FIB, each reaching the other's servers): no address
// can travel that cycle. The dataplane's hop bound (MaxLeakHops) stays as
// a second guard.
//
// The registry keeps every FIB's leak routes under its mutex, so two FIBs
// adding the two halves of a cycle at the same time cannot both succeed.

// MaxLeakHops bounds how many lookup-in-FIB routes one lookup may follow
// (so at most MaxLeakHops+1 FIBs are searched); the dataplane drops a
// packet past it (DropLeakLoop), and LookupRoute calls it a loop. Route
// validation refuses cycles, so only a chain longer than this reaches it.
const MaxLeakHops = 4

// leakKey names one leak route: a prefix of one source in one FIB.
type leakKey struct {
	prefix netip.Prefix
	src    uint16
}

// leakUndo restores a leak route as it was before a batch changed it.
type leakUndo struct {
	key    leakKey
	to     adj.FIBID
	hadOld bool
}

// addLeak records that FIB from's route key looks up in FIB to, unless that
// closes a cycle, and returns what to restore on rollback.
func (r *Registry) addLeak(from adj.FIBID, key leakKey, to adj.FIBID) (leakUndo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, had := r.mu.leaks[from][key]
	u := leakUndo{key: key, to: old, hadOld: had}
	if had && old == to {
		return u, nil
	}
	if cycle := r.leakCycleLocked(from, key, to); cycle != nil {
		names := make([]string, len(cycle))
		for i, id := range cycle {
			names[i] = fmt.Sprint(id)
		}
		return u, fmt.Errorf("%w: %v: lookup in FIB %d closes the route-leak cycle %s for the addresses of %v",
			ErrInvalidRoute, key.prefix, to, strings.Join(names, " → "), key.prefix)
	}
	if r.mu.leaks == nil {
		r.mu.leaks = map[adj.FIBID]map[leakKey]adj.FIBID{}
	}
	if r.mu.leaks[from] == nil {
		r.mu.leaks[from] = map[leakKey]adj.FIBID{}
	}
	r.mu.leaks[from][key] = to
	return u, nil
}

// setLeak records (or, with ok false, forgets) a leak route without a
// cycle check: the batch checked it when it added the route.
func (r *Registry) setLeak(from adj.FIBID, key leakKey, to adj.FIBID, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		delete(r.mu.leaks[from], key)
		if len(r.mu.leaks[from]) == 0 {
			delete(r.mu.leaks, from)
		}
		return
	}
	if r.mu.leaks == nil {
		r.mu.leaks = map[adj.FIBID]map[leakKey]adj.FIBID{}
	}
	if r.mu.leaks[from] == nil {
		r.mu.leaks[from] = map[leakKey]adj.FIBID{}
	}
	r.mu.leaks[from][key] = to
}

// hasLeaks reports whether FIB id has any leak route.
func (r *Registry) hasLeaks(id adj.FIBID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.mu.leaks[id]) > 0
}

// dropLeaks forgets every leak route of a deleted FIB.
func (r *Registry) dropLeaks(id adj.FIBID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.mu.leaks, id)
}

// leakCycleLocked returns the FIBs of a cycle that from's route key → to
// would close (from first and last), or nil. It follows leak routes from
// to onwards whose prefixes overlap all the prefixes before them on the
// path: only then is there an address that travels the whole cycle.
func (r *Registry) leakCycleLocked(from adj.FIBID, key leakKey, to adj.FIBID) []adj.FIBID {
	path := []adj.FIBID{from, to}
	var walk func(at adj.FIBID, within netip.Prefix) []adj.FIBID
	walk = func(at adj.FIBID, within netip.Prefix) []adj.FIBID {
		if at == from {
			return path
		}
		for k, next := range r.mu.leaks[at] {
			if !k.prefix.Overlaps(within) {
				continue
			}
			narrower := within
			if k.prefix.Bits() > within.Bits() {
				narrower = k.prefix
			}
			if next != from && containsFIB(path, next) {
				continue // a cycle that does not come back to from: not this route's
			}
			path = append(path, next)
			if c := walk(next, narrower); c != nil {
				return c
			}
			path = path[:len(path)-1]
		}
		return nil
	}
	return walk(to, key.prefix)
}

func containsFIB(s []adj.FIBID, id adj.FIBID) bool {
	for _, x := range s {
		if x == id {
			return true
		}
	}
	return false
}

// FIB side: a batch records its lookup routes as it prepares them (so its
// later entries, and other FIBs, see them) and settles the final state of
// every leak route it touched before it commits.

// noteLeakLocked is called by prepareLocked for an addition whose entry is
// next.
func (f *FIB) noteLeakLocked(p *prepared, n *Next) error {
	if n.Kind != NextLookup {
		return nil
	}
	u, err := f.reg.addLeak(f.id, leakKey{p.prefix(), p.src}, n.FIB)
	if err != nil {
		return err
	}
	f.mu.leakUndo = append(f.mu.leakUndo, u)
	return nil
}

// settleLeaksLocked brings the registry's leak routes of this FIB to what
// the batch leaves, entry by entry in order, before the commit frees the
// batch's released entries.
func (f *FIB) settleLeaksLocked(changes []Change, pre []prepared) {
	if len(f.mu.leakUndo) == 0 && !f.reg.hasLeaks(f.id) {
		f.mu.leakUndo = f.mu.leakUndo[:0]
		return
	}
	for i := range changes {
		if pre[i].group {
			continue
		}
		key := leakKey{pre[i].prefix(), pre[i].src}
		if changes[i].Op == OpDelete {
			f.reg.setLeak(f.id, key, 0, false)
			continue
		}
		n := f.mu.nexts.get(pre[i].next)
		f.reg.setLeak(f.id, key, n.FIB, n.Kind == NextLookup)
	}
	f.mu.leakUndo = f.mu.leakUndo[:0]
}

// rollbackLeaksLocked undoes what the batch's preparation recorded.
func (f *FIB) rollbackLeaksLocked() {
	for i := len(f.mu.leakUndo) - 1; i >= 0; i-- {
		u := f.mu.leakUndo[i]
		f.reg.setLeak(f.id, u.key, u.to, u.hadOld)
	}
	f.mu.leakUndo = f.mu.leakUndo[:0]
}
