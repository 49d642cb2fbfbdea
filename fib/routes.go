package fib

import (
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
	return RouteInfo{Route: Route{Prefix: p, Source: name, Preference: pref, Paths: n.Paths}, Next: n}, true
}

// Get returns source's route for exactly p.
func (f *FIB) Get(p netip.Prefix, source string) (RouteInfo, bool) {
	src, ok := f.reg.lookupSource(source)
	if !ok || !p.IsValid() {
		return RouteInfo{}, false
	}
	p = p.Masked()
	f.mu.Lock()
	defer f.mu.Unlock()
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
func (f *FIB) BeginResync(source string) {
	src := f.reg.internSource(source)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.stamps == nil {
		f.mu.stamps = map[uint16]uint32{}
	}
	f.mu.stamps[src]++
}

// EndResync removes, in one batch, the routes of source that were not
// pushed since BeginResync, and returns how many it removed.
func (f *FIB) EndResync(source string) (int, error) {
	src, ok := f.reg.lookupSource(source)
	if !ok {
		return 0, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
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
	if len(changes) == 0 {
		return 0, nil
	}
	res, err := f.applyLocked(changes)
	return res.Deleted, err
}

// PurgePort removes a port from this FIB: its addresses, and every route
// through it. ECMP routes lose only their members on the port.
func (f *FIB) PurgePort(p adj.PortID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// The walk runs before anything changes, while every entry still shows
	// the port it leads to; the connected and local routes of the port's
	// addresses go with the rest.
	var changes []Change
	purge := func(prefix netip.Prefix, src uint16, pref Preference, next uint32) {
		n := f.mu.nexts.get(next)
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
		// Cannot fail: deletes of existing routes and upserts of paths that
		// were valid before, minus some.
		_, _ = f.applyLocked(changes)
	}
	if _, ok := f.mu.addrs[p]; ok {
		delete(f.mu.addrs, p)
		f.publishAddrsLocked()
	}
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
	f.mu.v4, f.mu.v6 = nil, nil
	f.mu.addrs = nil
	f.mu.deleted = true
	f.publishAddrsLocked()
	f.snap.Store(emptySnapshot)
}
