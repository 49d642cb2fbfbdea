package fib

import (
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync/atomic"
)

// Result summarises an applied batch.
type Result struct {
	Added, Updated, Deleted int
	// Unresolved counts routes added or updated whose next hop resolves
	// to nothing yet (installed, dropping with host unreachable, until a
	// route covers their gateway).
	Unresolved int
	// Groups counts next-hop groups created, replaced or deleted.
	Groups int
	// Absent counts idempotent deletes that found nothing to delete.
	Absent int
	// Version is the FIB version that made the batch visible.
	Version uint64
}

// Apply applies a batch atomically: every entry is checked and applied to
// the authoritative tree and the working forwarding trie, then the result is
// published with one pointer store. If any entry is refused, everything the
// batch did is undone and a *BatchError names the entry; readers never saw
// any of it.
func (f *FIB) Apply(changes []Change) (Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applyLocked(changes)
}

// Outcome is what Apply did with one entry of a batch.
type Outcome uint8

const (
	OutcomeAdded   Outcome = iota + 1 // a new route
	OutcomeUpdated                    // the source's route for the prefix changed
	OutcomeDeleted
	// OutcomeAbsent: an idempotent delete found no route to delete.
	OutcomeAbsent
)

// ApplyOptions change how a batch is applied.
type ApplyOptions struct {
	// IdempotentDeletes makes deleting a route the source does not have a
	// no-op (OutcomeAbsent) instead of a failure of the batch, as gRIBI's
	// deletes are: a daemon that withdraws a route twice, or after a
	// restart, does not lose the rest of its batch.
	IdempotentDeletes bool
}

// ApplyOutcomes is Apply that also stores in out[i] what entry i did, for
// callers that report per-entry results (the control plane's
// ModifyRoutes). out must hold at least len(changes) entries; after an
// error its contents mean nothing.
func (f *FIB) ApplyOutcomes(changes []Change, out []Outcome) (Result, error) {
	return f.ApplyWith(changes, out, ApplyOptions{})
}

// ApplyWith is ApplyOutcomes with options; out may be nil.
func (f *FIB) ApplyWith(changes []Change, out []Outcome, o ApplyOptions) (Result, error) {
	if out != nil && len(out) < len(changes) {
		return Result{}, fmt.Errorf("%w: %d outcomes for %d changes", ErrInvalidRoute, len(out), len(changes))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.opts = o
	defer func() { f.mu.opts = ApplyOptions{} }()
	return f.applyOutcomesLocked(changes, out)
}

// Add installs a route (upsert) as a batch of one.
func (f *FIB) Add(r Route) error {
	_, err := f.Apply([]Change{{Op: OpAdd, Route: r}})
	return err
}

// Replace updates an existing route as a batch of one.
func (f *FIB) Replace(r Route) error {
	_, err := f.Apply([]Change{{Op: OpReplace, Route: r}})
	return err
}

// Delete removes source's route for p as a batch of one.
func (f *FIB) Delete(p netip.Prefix, source string) error {
	_, err := f.Apply([]Change{{Op: OpDelete, Route: Route{Prefix: p, Source: source}}})
	return err
}

type batchState struct {
	res Result
	// deltas counts, per source, the routes the batch added (or removed)
	// per family. A batch rarely has more than a few sources, so a short
	// list beats a map; it is the FIB's scratch, reused between batches.
	deltas *[]srcDelta
	last   int
}

type srcDelta struct {
	src uint16
	n   [2]int
}

func (f *FIB) applyLocked(changes []Change) (Result, error) {
	return f.applyOutcomesLocked(changes, nil)
}

// connectedChangedLocked reports whether the batch added, changed or
// removed a connected (attached) route, after which gateways resolved
// through connected routes must be resolved again. It reads the entries the
// batch referenced (new ones) and released (old ones), once the batch is
// applied, so the apply itself never reads the entry table — which the
// preparing goroutine is writing during a parallel batch.
func (f *FIB) connectedChangedLocked(changes []Change, pre []prepared) bool {
	t := &f.mu.nexts
	for _, i := range t.pending {
		if t.get(i).Kind == NextAttached {
			return true
		}
	}
	for i := range changes {
		if changes[i].Op != OpDelete && t.get(pre[i].next).Kind == NextAttached {
			return true
		}
	}
	return false
}

// parallelMin is the batch size from which Apply runs the forwarding-trie
// updates on a second goroutine, beside the authoritative tree's. Below it
// the handoff costs more than it saves; above it a bulk load uses two cores
// (the patricia tree is the bulk of the work, the trie runs alongside). A
// variable so that tests can push small batches down the parallel path.
var parallelMin = 512

// prepared is a batch entry checked and resolved before it is applied: its
// canonical prefix, source ID and, for additions, its forwarding entry.
type prepared struct {
	key  [16]byte
	bits uint8
	is4  bool
	src  uint16
	next uint32
	// absent: an idempotent delete of a source the FIB does not know;
	// nothing to do.
	absent bool
	// group: a group op, applied when prepared (it writes the entry
	// table, which only the preparing goroutine may).
	group bool
}

func isGroupOp(op Op) bool { return op == OpGroupSet || op == OpGroupDelete }

func (f *FIB) applyOutcomesLocked(changes []Change, out []Outcome) (Result, error) {
	if f.mu.deleted {
		return Result{}, fmt.Errorf("fib %d: %w", f.id, ErrNoSuchFIB)
	}
	f.mu.deltas = f.mu.deltas[:0]
	st := batchState{deltas: &f.mu.deltas}
	f.mu.watched = f.reg.watching(f.id)
	f.mu.events = f.mu.events[:0]
	if cap(f.mu.prep) < len(changes) {
		f.mu.prep = make([]prepared, len(changes))
	}
	pre := f.mu.prep[:len(changes)]
	var bad int
	var err error
	if len(changes) >= parallelMin && runtime.GOMAXPROCS(0) > 1 {
		bad, err = f.applyParallelLocked(changes, pre, out, &st)
	} else {
		for i := range changes {
			if err = f.prepareLocked(&changes[i], &pre[i]); err == nil {
				err = f.applyOneLocked(&changes[i], &pre[i], &st, out, i)
			}
			if err != nil {
				bad = i
				break
			}
		}
	}
	if err != nil {
		f.rollbackLocked()
		f.rollbackLeaksLocked()
		f.endBatchSourcesLocked()
		be := &BatchError{Index: bad, Change: changes[bad], Err: err}
		be.Failed = f.allFailuresLocked(changes, pre, bad, err)
		return Result{}, be
	}
	switch connected := f.connectedChangedLocked(changes, pre); {
	case connected || len(f.mu.nexts.recursive) > 0 && st.res.Added+st.res.Updated+st.res.Deleted > 0:
		// Connected routes changed, or routes that recursive next hops may
		// resolve through.
		f.reresolveLocked()
	case len(f.mu.groupUndo) > 0:
		f.refreshBackupsLocked()
	}
	f.settleLeaksLocked(changes, pre)
	st.res.Groups = len(f.mu.groupUndo)
	for i := range changes {
		if !pre[i].group && changes[i].Op != OpDelete && f.mu.nexts.get(pre[i].next).Kind == NextUnresolved {
			st.res.Unresolved++
		}
	}
	f.collectEventsLocked()
	fwd := f.collectForwardingLocked()
	f.commitLocked(&st)
	f.endBatchSourcesLocked()
	f.publishLocked()
	f.deliverForwardingLocked(fwd)
	st.res.Version = f.mu.version
	if f.mu.watched && len(f.mu.events) > 0 {
		for i := range f.mu.events {
			f.mu.events[i].Version = f.mu.version
		}
		// The slice goes to the watchers; the next batch starts a new one.
		evs := f.mu.events
		f.mu.events = nil
		f.reg.deliver(f.id, evs)
	}
	return st.res, nil
}

// allFailuresLocked finds every refused entry of a batch that failed at
// entry first: it applies the batch again, sequentially, leaving out each
// entry that fails, then rolls all of it back. A failing batch costs a
// second pass; an applied one nothing.
func (f *FIB) allFailuresLocked(changes []Change, pre []prepared, first int, firstErr error) []EntryFailure {
	failed := []EntryFailure{{Index: first, Err: firstErr}}
	f.mu.deltas = f.mu.deltas[:0]
	st := batchState{deltas: &f.mu.deltas}
	for i := range changes {
		if i == first {
			continue
		}
		err := f.prepareLocked(&changes[i], &pre[i])
		if err == nil {
			err = f.applyOneLocked(&changes[i], &pre[i], &st, nil, i)
		}
		if err != nil {
			failed = append(failed, EntryFailure{Index: i, Err: err})
		}
	}
	f.rollbackLocked()
	f.rollbackLeaksLocked()
	f.endBatchSourcesLocked()
	slices.SortFunc(failed, func(a, b EntryFailure) int { return a.Index - b.Index })
	return failed
}

// applyParallelLocked applies the authoritative-tree side of every entry on
// a second goroutine while this one writes the forwarding trie. The trie
// gets each addition's entry optimistically — right whenever the prefix has
// one route, the common case —, and the tree side lists the prefixes where
// that may be wrong (another source there, a deletion); once both are done
// those prefixes are recomputed from the tree. The two goroutines share no
// mutable state: the families' trees, records and logs on one side, their
// builders on the other.
func (f *FIB) applyParallelLocked(changes []Change, pre []prepared, out []Outcome, st *batchState) (int, error) {
	fams := [2]interface{ setDefer(bool) }{f.v4Locked(), f.v6Locked()}
	for _, fm := range fams {
		fm.setDefer(true)
	}
	// This goroutine prepares entries (validation, path-set interning) a
	// step ahead of the tree goroutine, which waits on ready; a failed
	// preparation sets stop. applied is how far the tree goroutine got.
	var ready, applied atomic.Int64
	var stop, exited atomic.Bool
	type result struct {
		bad int
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer exited.Store(true)
		for i := range changes {
			for int(ready.Load()) <= i {
				// stop is set after ready's last store, so once stop is
				// seen a second look at ready is final: every entry before
				// the one that failed preparation is still applied, and
				// an earlier failure of its own is found.
				if stop.Load() && int(ready.Load()) <= i {
					done <- result{-1, nil}
					return
				}
				runtime.Gosched()
			}
			if err := f.applyOneLocked(&changes[i], &pre[i], st, out, i); err != nil {
				done <- result{i, err}
				return
			}
			applied.Store(int64(i + 1))
		}
		done <- result{-1, nil}
	}()
	// Interning a new path set whose gateway is resolved through a
	// connected route reads the tree: first let the tree goroutine apply
	// every entry before this one (and wait for the next), so the read sees
	// exactly what a sequential batch would, and nothing else touches the
	// tree meanwhile.
	cur := 0
	f.mu.quiesce = func() {
		ready.Store(int64(cur))
		for applied.Load() < int64(cur) && !exited.Load() {
			runtime.Gosched()
		}
	}
	bad, err := -1, error(nil)
	for i := range changes {
		cur = i
		if err = f.prepareLocked(&changes[i], &pre[i]); err != nil {
			bad = i
			ready.Store(int64(i))
			stop.Store(true)
			break
		}
		if i&63 == 63 || i == len(changes)-1 {
			ready.Store(int64(i + 1))
		}
	}
	f.mu.quiesce = nil
	if err == nil {
		b4, b6 := f.mu.v4.b, f.mu.v6.b
		for i := range changes {
			if changes[i].Op == OpDelete {
				continue
			}
			p := &pre[i]
			if p.is4 {
				b4.set([4]byte(p.key[:4]), int(p.bits), p.next)
			} else {
				b6.set(p.key, int(p.bits), p.next)
			}
		}
	}
	r := <-done
	for _, fm := range fams {
		fm.setDefer(false)
	}
	// Both sides may have failed: the preparing side runs ahead, so the
	// tree side's failure can be the earlier entry. Report the first, as a
	// sequential batch would.
	if r.err != nil && (err == nil || r.bad < bad) {
		bad, err = r.bad, r.err
	}
	if err != nil {
		f.mu.v4.dirty, f.mu.v6.dirty = f.mu.v4.dirty[:0], f.mu.v6.dirty[:0]
		return bad, err
	}
	f.mu.v4.fixDirty()
	f.mu.v6.fixDirty()
	return -1, nil
}

// prepareLocked validates an entry and resolves what it needs: source ID
// and, for additions, the forwarding entry of its path set.
func (f *FIB) prepareLocked(c *Change, p *prepared) error {
	if isGroupOp(c.Op) {
		*p = prepared{group: true}
		return f.applyGroupLocked(c)
	}
	r := c.Route
	if c.Op == OpDelete {
		// Only the prefix and the source matter for a delete.
		r.Paths = deletePaths
	}
	if err := r.validate(f.id); err != nil {
		return err
	}
	var src uint16
	if c.Op == OpDelete {
		var ok bool
		if src, ok = f.existingSourceLocked(r.Source); !ok {
			if f.mu.opts.IdempotentDeletes {
				*p = prepared{absent: true}
				return nil
			}
			return fmt.Errorf("%w: %v from source %q (no such source)", ErrNotFound, r.Prefix, r.Source)
		}
	} else {
		var err error
		if src, err = f.sourceLocked(r.Source); err != nil {
			return err
		}
	}
	*p = prepared{bits: uint8(r.Prefix.Bits()), is4: r.Prefix.Addr().Is4(), src: src}
	if p.is4 {
		a := r.Prefix.Addr().As4()
		copy(p.key[:], a[:])
		f.v4Locked()
	} else {
		p.key = r.Prefix.Addr().As16()
		f.v6Locked()
	}
	switch c.Op {
	case OpAdd, OpReplace:
		for _, pa := range r.Paths {
			// A gateway inside the route's own prefix, on no connected
			// subnet, could only ever resolve through the route itself.
			if pa.Kind == PathGateway && pa.Port == 0 && r.Prefix.Contains(pa.Gateway.Unmap()) {
				if _, ok := f.resolveLocked(pa.Gateway.Unmap()); !ok {
					return fmt.Errorf("%w: %v via %v, inside the route itself", ErrRecursionLoop, r.Prefix, pa.Gateway)
				}
			}
		}
		next, err := f.internLocked(r.Paths)
		if err != nil {
			return err
		}
		p.next = next
		if err := f.noteLeakLocked(p, f.mu.nexts.get(next)); err != nil {
			return err
		}
	case OpDelete:
	default:
		return fmt.Errorf("%w: unknown operation %d", ErrInvalidRoute, c.Op)
	}
	return nil
}

var deletePaths = []Path{{Kind: PathBlackhole}}

// prefix returns the entry's canonical prefix.
func (p *prepared) prefix() netip.Prefix {
	if p.is4 {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte(p.key[:4])), int(p.bits))
	}
	return netip.PrefixFrom(netip.AddrFrom16(p.key), int(p.bits))
}

// applyOneLocked applies one prepared entry to the authoritative tree (and,
// unless the family defers it, to the forwarding trie).
func (f *FIB) applyOneLocked(c *Change, p *prepared, st *batchState, out []Outcome, i int) error {
	fam := 1
	if p.is4 {
		fam = 0
	}
	src := p.src
	if p.group {
		return nil
	}
	if p.absent {
		st.res.Absent++
		if out != nil {
			out[i] = OutcomeAbsent
		}
		return nil
	}
	switch c.Op {
	case OpAdd, OpReplace:
		next := p.next
		var added, ok bool
		var old uint32
		stamp := f.mu.stamps[src]
		if p.is4 {
			added, old, ok = f.mu.v4.upsert([4]byte(p.key[:4]), int(p.bits), src, c.Route.Preference, next, stamp, c.Op == OpReplace)
		} else {
			added, old, ok = f.mu.v6.upsert(p.key, int(p.bits), src, c.Route.Preference, next, stamp, c.Op == OpReplace)
		}
		if !ok {
			return fmt.Errorf("%w: %v from source %q", ErrNotFound, c.Route.Prefix, c.Route.Source)
		}
		if !added {
			f.mu.nexts.pending = append(f.mu.nexts.pending, old)
			st.res.Updated++
			if out != nil {
				out[i] = OutcomeUpdated
			}
			return nil
		}
		st.res.Added++
		if out != nil {
			out[i] = OutcomeAdded
		}
		d := st.delta(src)
		d[fam]++
		return f.checkLimitsLocked(p.is4, src, d[fam])
	case OpDelete:
		var next uint32
		var ok bool
		if p.is4 {
			next, ok = f.mu.v4.remove([4]byte(p.key[:4]), int(p.bits), src)
		} else {
			next, ok = f.mu.v6.remove(p.key, int(p.bits), src)
		}
		if !ok {
			if f.mu.opts.IdempotentDeletes {
				st.res.Absent++
				if out != nil {
					out[i] = OutcomeAbsent
				}
				return nil
			}
			return fmt.Errorf("%w: %v from source %q", ErrNotFound, c.Route.Prefix, c.Route.Source)
		}
		f.mu.nexts.pending = append(f.mu.nexts.pending, next)
		st.res.Deleted++
		st.delta(src)[fam]--
		if out != nil {
			out[i] = OutcomeDeleted
		}
		return nil
	}
	return fmt.Errorf("%w: unknown operation %d", ErrInvalidRoute, c.Op)
}

func (st *batchState) delta(src uint16) *[2]int {
	ds := *st.deltas
	if st.last < len(ds) && ds[st.last].src == src {
		return &ds[st.last].n
	}
	for i := range ds {
		if ds[i].src == src {
			st.last = i
			return &ds[i].n
		}
	}
	*st.deltas = append(ds, srcDelta{src: src})
	st.last = len(ds)
	return &(*st.deltas)[st.last].n
}

// checkLimitsLocked refuses an addition that takes the family or the source
// past its limit. added is how many routes the batch has added so far for
// src in this family.
func (f *FIB) checkLimitsLocked(is4 bool, src uint16, added int) error {
	l := f.mu.limits
	if is4 {
		if l.Routes4 > 0 && f.mu.v4.count > l.Routes4 {
			return fmt.Errorf("%w: FIB %d holds at most %d IPv4 routes", ErrLimit, f.id, l.Routes4)
		}
	} else if l.Routes6 > 0 && f.mu.v6.count > l.Routes6 {
		return fmt.Errorf("%w: FIB %d holds at most %d IPv6 routes", ErrLimit, f.id, l.Routes6)
	}
	if l.PerSource > 0 {
		fam := 1
		if is4 {
			fam = 0
		}
		have := 0
		if c := f.mu.bySource[src]; c != nil {
			have = c[fam]
		}
		if have+added > l.PerSource {
			return fmt.Errorf("%w: source %q holds at most %d routes per family in FIB %d",
				ErrLimit, f.reg.sourceName(src), l.PerSource, f.id)
		}
	}
	return nil
}

func (f *FIB) rollbackLocked() {
	last := f.snap.Load()
	if f.mu.v4 != nil {
		f.mu.v4.rollback()
		f.mu.v4.b.abort(last.v4)
	}
	if f.mu.v6 != nil {
		f.mu.v6.rollback()
		f.mu.v6.b.abort(last.v6)
	}
	// Route references first: a group created in the batch is destroyed
	// only after the routes that referenced it let go.
	f.mu.nexts.rollback(f)
	f.rollbackGroupsLocked()
	f.mu.nexts.memo = [16]pathMemo{}
}

func (f *FIB) commitLocked(st *batchState) {
	if f.mu.v4 != nil {
		f.mu.v4.commit()
	}
	if f.mu.v6 != nil {
		f.mu.v6.commit()
	}
	for _, sd := range *st.deltas {
		src, d := sd.src, sd.n
		if f.mu.bySource == nil {
			f.mu.bySource = make(map[uint16]*[2]int)
		}
		was := f.sourceUsedLocked(src)
		c := f.mu.bySource[src]
		if c == nil {
			c = new([2]int)
			f.mu.bySource[src] = c
		}
		c[0] += d[0]
		c[1] += d[1]
		if c[0] == 0 && c[1] == 0 {
			delete(f.mu.bySource, src)
		}
		f.sourceUseChangedLocked(src, was)
	}
	f.mu.nexts.commit(f)
	f.commitGroupsLocked()
	f.mu.nexts.memo = [16]pathMemo{}
}
