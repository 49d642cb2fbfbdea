package fib

import (
	"net/netip"
	"slices"

	"github.com/fibd/fibd/fib/adj"
)

// Forwarding observation: what a copy of the forwarding state kept outside
// the process (the in-kernel fast path's BPF maps) needs to stay equal to
// the published snapshots, batch by batch. Unlike route events it speaks
// in forwarding terms — the winning entry of each changed prefix, the
// forwarding entries that changed — so the copy never re-runs route
// selection, and a path-set change is one entry however many routes use it.

// FwdRoute is a prefix and the forwarding entry its best route references
// now; Entry 0 means the prefix has no route any more.
type FwdRoute struct {
	Prefix netip.Prefix
	Entry  uint32
}

// FwdEntry is forwarding entry Entry's content now; Next is nil when the
// entry was freed.
type FwdEntry struct {
	Entry uint32
	Next  *Next
}

// Forwarding is one published change of one FIB, or (Full) its whole
// forwarding state. Values are absolute, so applying one twice is harmless.
type Forwarding struct {
	FIB     adj.FIBID
	Version uint64
	Full    bool // Routes and Entries list everything; nothing else exists
	Deleted bool // the FIB is gone
	Routes  []FwdRoute
	Entries []FwdEntry
}

// ForwardingObserver receives every FIB's forwarding changes. It is called
// with the FIB's writer mutex held, in publication order, so it must be
// quick and must not call back into the FIB: queue and return.
type ForwardingObserver func(*Forwarding)

// ObserveForwarding registers fn, delivers every FIB's current state to it
// (Full), and returns a function that stops the deliveries. One observer at
// a time: a second registration replaces the first.
func (r *Registry) ObserveForwarding(fn ForwardingObserver) (stop func()) {
	r.fwdObs.Store(&fn)
	for _, f := range r.List() {
		f.mu.Lock()
		if !f.mu.deleted {
			fn(f.fullForwardingLocked())
		}
		f.mu.Unlock()
	}
	return func() { r.fwdObs.CompareAndSwap(&fn, nil) }
}

func (r *Registry) forwardingObserver() ForwardingObserver {
	if p := r.fwdObs.Load(); p != nil {
		return *p
	}
	return nil
}

// fullForwardingLocked lists every prefix's winning entry and every live
// forwarding entry.
func (f *FIB) fullForwardingLocked() *Forwarding {
	d := &Forwarding{FIB: f.id, Version: f.mu.version, Full: true}
	if f.mu.v4 != nil {
		d.Routes = bestRoutes(f.mu.v4, d.Routes)
	}
	if f.mu.v6 != nil {
		d.Routes = bestRoutes(f.mu.v6, d.Routes)
	}
	t := &f.mu.nexts
	for i := 1; i < len(t.refs); i++ {
		if n := t.get(uint32(i)); n != nil && t.refs[i] > 0 {
			d.Entries = append(d.Entries, FwdEntry{Entry: uint32(i), Next: n})
		}
	}
	t.touched = t.touched[:0]
	return d
}

func bestRoutes[K key](fam *family[K], out []FwdRoute) []FwdRoute {
	var buf []uint32
	fam.tree.walk(buf, func(_ K, _ int, tags []uint32) bool {
		var best uint32
		for _, id := range tags {
			if best == 0 || fam.better(&fam.recs[id], &fam.recs[best]) {
				best = id
			}
		}
		if best != 0 {
			out = append(out, FwdRoute{Prefix: prefixOf(&fam.recs[best]), Entry: fam.recs[best].next})
		}
		return true
	})
	return out
}

// collectForwardingLocked builds the running batch's change from its undo
// logs and the entries it wrote, before commit forgets them; nil when
// nobody observes.
func (f *FIB) collectForwardingLocked() *Forwarding {
	if f.reg.forwardingObserver() == nil {
		f.mu.nexts.touched = f.mu.nexts.touched[:0]
		return nil
	}
	d := &Forwarding{FIB: f.id}
	if f.mu.v4 != nil {
		d.Routes = changedRoutes(f.mu.v4, d.Routes)
	}
	if f.mu.v6 != nil {
		d.Routes = changedRoutes(f.mu.v6, d.Routes)
	}
	d.Entries = f.touchedEntriesLocked(d.Entries)
	return d
}

// touchedEntriesLocked reports every entry written since the last
// publication, once, with its content now.
func (f *FIB) touchedEntriesLocked(out []FwdEntry) []FwdEntry {
	t := &f.mu.nexts
	slices.Sort(t.touched)
	for _, i := range slices.Compact(t.touched) {
		n := t.get(i)
		if int(i) < len(t.refs) && t.refs[i] <= 0 {
			n = nil
		}
		out = append(out, FwdEntry{Entry: i, Next: n})
	}
	t.touched = t.touched[:0]
	return out
}

func changedRoutes[K key](fam *family[K], out []FwdRoute) []FwdRoute {
	type pfx struct {
		k K
		l uint8
	}
	seen := make(map[pfx]struct{}, len(fam.undo))
	for _, u := range fam.undo {
		r := &fam.recs[u.id]
		if u.kind == undoModified {
			r = &u.old
		}
		p := pfx{r.addr, r.bits}
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		var entry uint32
		if best := fam.best(p.k, int(p.l)); best != 0 {
			entry = fam.recs[best].next
		}
		out = append(out, FwdRoute{Prefix: prefixOf(r), Entry: entry})
	}
	return out
}

// deliverForwardingLocked hands a publication's change to the observer.
func (f *FIB) deliverForwardingLocked(d *Forwarding) {
	// An empty change is delivered too: it says the copy is current at
	// this version.
	if d == nil {
		return
	}
	if fn := f.reg.forwardingObserver(); fn != nil {
		d.Version = f.mu.version
		fn(d)
	}
}
