package fib

import (
	"fmt"
	"net/netip"

	"github.com/fibd/fibd/fib/adj"
)

// RouteInfo is a route as stored, for listings.
type RouteInfo struct {
	Route
	// Best is set when this source's route is the one that forwards.
	Best bool
	// Next is the forwarding entry the route resolves to.
	Next *Next
}

// Filter selects routes for Routes. The zero value selects everything.
type Filter struct {
	Family int          // 4 or 6; 0 for both
	Within netip.Prefix // only prefixes equal to or inside this one
	Source string       // only this source
}

func (flt *Filter) match(p netip.Prefix, src string) bool {
	if flt.Source != "" && src != flt.Source {
		return false
	}
	if flt.Within.IsValid() && !(flt.Within.Bits() <= p.Bits() && flt.Within.Contains(p.Addr())) {
		return false
	}
	return true
}

// Routes calls fn for every route the filter selects, in address order
// (shorter prefixes first), stopping when fn returns false. The routes are
// copied out under the writer lock and fn runs after it is released, so a
// slow consumer does not hold up route updates.
func (f *FIB) Routes(flt Filter, fn func(RouteInfo) bool) {
	f.mu.Lock()
	var out []RouteInfo
	if f.mu.v4 != nil && flt.Family != 6 {
		out = collect(f, f.mu.v4, &flt, out)
	}
	if f.mu.v6 != nil && flt.Family != 4 {
		out = collect(f, f.mu.v6, &flt, out)
	}
	f.mu.Unlock()
	for _, ri := range out {
		if !fn(ri) {
			return
		}
	}
}

func collect[K key](f *FIB, fam *family[K], flt *Filter, out []RouteInfo) []RouteInfo {
	var buf []uint32
	fam.tree.walk(buf, func(_ K, _ int, tags []uint32) bool {
		var best uint32
		for _, id := range tags {
			if best == 0 || fam.better(&fam.recs[id], &fam.recs[best]) {
				best = id
			}
		}
		for _, id := range tags {
			ri, ok := f.infoLocked(prefixOf(&fam.recs[id]), fam.recs[id].src, fam.recs[id].pref, fam.recs[id].next, flt)
			if ok {
				ri.Best = id == best
				out = append(out, ri)
			}
		}
		return true
	})
	return out
}

func (f *FIB) infoLocked(p netip.Prefix, src uint16, pref Preference, next uint32, flt *Filter) (RouteInfo, bool) {
	name := f.reg.sourceName(src)
	if flt != nil && !flt.match(p, name) {
		return RouteInfo{}, false
	}
	n := f.mu.nexts.get(next)
	paths := n.Paths
	if n.GroupID != 0 {
		// The route names the group; the group has the paths.
		paths = []Path{{Kind: PathGroup, Group: n.GroupID}}
	}
	return RouteInfo{Route: Route{Prefix: p, Source: name, Preference: pref, Paths: paths}, Next: n}, true
}

// Get returns source's route for exactly p.
func (f *FIB) Get(p netip.Prefix, source string) (RouteInfo, bool) {
	if !p.IsValid() {
		return RouteInfo{}, false
	}
	p = p.Masked()
	f.mu.Lock()
	defer f.mu.Unlock()
	src, ok := f.reg.lookupSource(source)
	if !ok {
		return RouteInfo{}, false
	}
	if p.Addr().Is4() {
		return getIn(f, f.mu.v4, p.Addr().As4(), p.Bits(), src)
	}
	return getIn(f, f.mu.v6, p.Addr().As16(), p.Bits(), src)
}

func getIn[K key](f *FIB, fam *family[K], k K, l int, src uint16) (RouteInfo, bool) {
	if fam == nil {
		return RouteInfo{}, false
	}
	id, ok := fam.find(k, l, src)
	if !ok {
		return RouteInfo{}, false
	}
	r := &fam.recs[id]
	ri, _ := f.infoLocked(prefixOf(r), r.src, r.pref, r.next, nil)
	ri.Best = fam.best(k, l) == id
	return ri, true
}

// LookupRoute returns the route that forwards packets to a: the best source's
// route for the longest prefix that matches.
func (f *FIB) LookupRoute(a netip.Addr) (RouteInfo, bool) {
	a = a.Unmap()
	if !a.IsValid() {
		return RouteInfo{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if a.Is4() {
		return lookupRouteIn(f, f.mu.v4, a.As4(), 32)
	}
	return lookupRouteIn(f, f.mu.v6, a.As16(), 128)
}

func lookupRouteIn[K key](f *FIB, fam *family[K], k K, l int) (RouteInfo, bool) {
	if fam == nil {
		return RouteInfo{}, false
	}
	fam.buf = fam.tree.deepest(fam.buf[:0], k, l)
	var best uint32
	for _, id := range fam.buf {
		if best == 0 || fam.better(&fam.recs[id], &fam.recs[best]) {
			best = id
		}
	}
	if best == 0 {
		return RouteInfo{}, false
	}
	r := &fam.recs[best]
	ri, _ := f.infoLocked(prefixOf(r), r.src, r.pref, r.next, nil)
	ri.Best = true
	return ri, true
}

// BeginResync starts a mark-and-sweep resync of one source (a client that
// reconnected after a crash): every route the source pushes from now on is
// marked, and EndResync removes the source's routes that were not. Nothing
// is removed in between, so the source's surviving prefixes never stop
// forwarding while it re-sends its table.
//
// It fails only for a bad source name or a full source table.
func (f *FIB) BeginResync(source string) error {
	if err := CheckSourceName(source); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.deleted {
		return fmt.Errorf("fib %d: %w", f.id, ErrNoSuchFIB)
	}
	src, err := f.sourceLocked(source)
	if err != nil {
		return err
	}
	defer f.endBatchSourcesLocked()
	if f.mu.stamps == nil {
		f.mu.stamps = map[uint16]uint32{}
	}
	if f.mu.resyncing == nil {
		f.mu.resyncing = map[uint16]struct{}{}
	}
	was := f.sourceUsedLocked(src)
	f.mu.stamps[src]++
	f.mu.resyncing[src] = struct{}{}
	f.sourceUseChangedLocked(src, was)
	return nil
}

// EndResync removes, in one batch, the routes of source that were not
// pushed since BeginResync; then, in a batch of their own, the source's
// next-hop groups not set since BeginResync that no route or group uses
// any more. It returns how many routes and groups it removed.
func (f *FIB) EndResync(source string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	src, ok := f.reg.lookupSource(source)
	if !ok || !f.sourceUsedLocked(src) {
		return 0, nil // the source has nothing here: nothing to sweep
	}
	// Whatever the sweep does, the resync is over; the source stays alive
	// while the sweep runs because this FIB still uses it.
	defer func() {
		was := f.sourceUsedLocked(src)
		delete(f.mu.resyncing, src)
		f.sourceUseChangedLocked(src, was)
	}()
	stamp := f.mu.stamps[src]
	var changes []Change
	stale := func(p netip.Prefix) {
		changes = append(changes, Change{Op: OpDelete, Route: Route{Prefix: p, Source: source}})
	}
	if f.mu.v4 != nil {
		for i := range f.mu.v4.recs {
			if r := &f.mu.v4.recs[i]; r.src == src && r.stamp != stamp {
				stale(prefixOf(r))
			}
		}
	}
	if f.mu.v6 != nil {
		for i := range f.mu.v6.recs {
			if r := &f.mu.v6.recs[i]; r.src == src && r.stamp != stamp {
				stale(prefixOf(r))
			}
		}
	}
	f.mu.cause = CauseResync
	defer func() { f.mu.cause = CauseClient }()
	var deleted int
	if len(changes) > 0 {
		res, err := f.applyLocked(changes)
		if err != nil {
			return 0, err
		}
		deleted = res.Deleted
	}
	// Then the source's groups it did not set again, now that the routes
	// that used them are gone.
	groups, err := f.sweepGroupsLocked(src, source, stamp)
	return deleted + groups, err
}

// PurgePort removes a port from this FIB: its addresses, and every route
// through it. ECMP routes lose only their members on the port.
func (f *FIB) PurgePort(p adj.PortID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.deleted {
		return nil
	}
	// The walk runs before anything changes, while every entry still shows
	// the port it leads to; the connected and local routes of the port's
	// addresses go with the rest.
	// Groups through p lose their members there, in place: the routes on
	// them stay on them.
	f.purgeGroupsLocked(p)
	var changes []Change
	purge := func(prefix netip.Prefix, src uint16, pref Preference, next uint32) {
		n := f.mu.nexts.get(next)
		if n.GroupID != 0 {
			return
		}
		keep, hit := f.pathsAvoidingLocked(n, p)
		if !hit {
			return
		}
		name := f.reg.sourceName(src)
		if len(keep) == 0 {
			changes = append(changes, Change{Op: OpDelete, Route: Route{Prefix: prefix, Source: name}})
			return
		}
		changes = append(changes, Change{Op: OpAdd, Route: Route{Prefix: prefix, Source: name, Preference: pref, Paths: keep}})
	}
	if f.mu.v4 != nil {
		for i := range f.mu.v4.recs {
			if r := &f.mu.v4.recs[i]; r.src != 0 {
				purge(prefixOf(r), r.src, r.pref, r.next)
			}
		}
	}
	if f.mu.v6 != nil {
		for i := range f.mu.v6.recs {
			if r := &f.mu.v6.recs[i]; r.src != 0 {
				purge(prefixOf(r), r.src, r.pref, r.next)
			}
		}
	}
	if len(changes) > 0 {
		// Deletes of existing routes and upserts of paths that were valid
		// before, minus some: a failure is a bug, and the caller hears of
		// it (the routes through p stay, and the dataplane drops their
		// packets since p is no longer this FIB's).
		f.mu.cause = CausePortPurge
		_, err := f.applyLocked(changes)
		f.mu.cause = CauseClient
		if err != nil {
			return fmt.Errorf("fib %d: removing the routes through port %d: %w", f.id, p, err)
		}
	}
	if _, ok := f.mu.addrs[p]; ok {
		delete(f.mu.addrs, p)
		f.publishAddrsLocked()
	}
	return nil
}

// pathsAvoidingLocked returns the paths of n that do not leave through port
// p, and whether any did.
func (f *FIB) pathsAvoidingLocked(n *Next, p adj.PortID) (keep []Path, hit bool) {
	switch n.Kind {
	case NextAttached, NextLocal:
		return nil, n.Port == p
	case NextGateway:
		ports := map[netip.Addr]adj.PortID{}
		for _, id := range adjsOf(n) {
			k := f.reg.adjs.Get(id).Key()
			ports[k.Addr] = k.Port
		}
		for _, path := range n.Paths {
			if ports[path.Gateway] == p || path.Port == p {
				hit = true
				continue
			}
			keep = append(keep, path)
		}
		return keep, hit
	}
	return nil, false
}

// destroy releases everything a deleted FIB holds.
func (f *FIB) destroy() {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &f.mu.nexts
	for i := 1; i < len(t.refs); i++ {
		if t.refs[i] > 0 {
			t.refs[i] = 0
			t.destroy(f, uint32(i))
		}
	}
	for src := range f.mu.bySource {
		f.reg.unpinSource(src)
	}
	for src := range f.mu.resyncing {
		if _, routes := f.mu.bySource[src]; !routes {
			f.reg.unpinSource(src)
		}
	}
	for src := range f.mu.groupSrcs {
		_, routes := f.mu.bySource[src]
		if _, resync := f.mu.resyncing[src]; !routes && !resync {
			f.reg.unpinSource(src)
		}
	}
	f.mu.bySource, f.mu.resyncing, f.mu.stamps, f.mu.groupSrcs = nil, nil, nil, nil
	f.reg.dropLeaks(f.id)
	f.mu.v4, f.mu.v6 = nil, nil
	f.mu.addrs = nil
	f.mu.deleted = true
	f.deliverForwardingLocked(&Forwarding{FIB: f.id, Deleted: true})
	f.mu.nexts.touched = nil
	f.publishAddrsLocked()
	f.snap.Store(emptySnapshot)
}
