package fib

import (
	"fmt"
	"net/netip"
)

// Result summarises an applied batch.
type Result struct {
	Added, Updated, Deleted int
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
)

// ApplyOutcomes is Apply that also stores in out[i] what entry i did, for
// callers that report per-entry results (the control plane's
// ModifyRoutes). out must hold at least len(changes) entries; after an
// error its contents mean nothing.
func (f *FIB) ApplyOutcomes(changes []Change, out []Outcome) (Result, error) {
	if len(out) < len(changes) {
		return Result{}, fmt.Errorf("%w: %d outcomes for %d changes", ErrInvalidRoute, len(out), len(changes))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
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
	res         Result
	connChanged bool
	srcDelta    map[uint16]*[2]int
	lastSrc     uint16
	lastDelta   *[2]int
}

func (f *FIB) applyLocked(changes []Change) (Result, error) {
	return f.applyOutcomesLocked(changes, nil)
}

func (f *FIB) applyOutcomesLocked(changes []Change, out []Outcome) (Result, error) {
	if f.mu.deleted {
		return Result{}, fmt.Errorf("fib %d: %w", f.id, ErrNoSuchFIB)
	}
	var st batchState
	for i := range changes {
		before := st.res
		if err := f.applyOneLocked(&changes[i], &st); err != nil {
			f.rollbackLocked()
			return Result{}, &BatchError{Index: i, Change: changes[i], Err: err}
		}
		if out != nil {
			// Each applied entry bumps exactly one counter.
			switch {
			case st.res.Added != before.Added:
				out[i] = OutcomeAdded
			case st.res.Updated != before.Updated:
				out[i] = OutcomeUpdated
			default:
				out[i] = OutcomeDeleted
			}
		}
	}
	if st.connChanged {
		f.reresolveLocked()
	}
	f.commitLocked(&st)
	f.publishLocked()
	st.res.Version = f.mu.version
	return st.res, nil
}

func (f *FIB) applyOneLocked(c *Change, st *batchState) error {
	r := c.Route
	if c.Op == OpDelete {
		// Only the prefix and the source matter for a delete.
		r.Paths = []Path{{Kind: PathBlackhole}}
	}
	if err := r.validate(f.id); err != nil {
		return err
	}
	src := f.sourceLocked(r.Source)
	is4 := r.Prefix.Addr().Is4()
	fam := 1
	if is4 {
		fam = 0
	}
	switch c.Op {
	case OpAdd, OpReplace:
		next, err := f.internLocked(r.Paths)
		if err != nil {
			return err
		}
		var added, ok bool
		var old uint32
		stamp := f.mu.stamps[src]
		if is4 {
			added, old, ok = f.v4Locked().upsert(r.Prefix.Addr().As4(), r.Prefix.Bits(), src, r.Preference, next, stamp, c.Op == OpReplace)
		} else {
			added, old, ok = f.v6Locked().upsert(r.Prefix.Addr().As16(), r.Prefix.Bits(), src, r.Preference, next, stamp, c.Op == OpReplace)
		}
		if !ok {
			return fmt.Errorf("%w: %v from source %q", ErrNotFound, r.Prefix, r.Source)
		}
		if f.mu.nexts.get(next).Kind == NextAttached {
			st.connChanged = true
		}
		if !added {
			if f.mu.nexts.get(old).Kind == NextAttached {
				st.connChanged = true
			}
			f.mu.nexts.pending = append(f.mu.nexts.pending, old)
			st.res.Updated++
			return nil
		}
		st.res.Added++
		d := st.delta(src)
		d[fam]++
		return f.checkLimitsLocked(is4, src, d[fam])
	case OpDelete:
		var next uint32
		var ok bool
		if is4 {
			if f.mu.v4 != nil {
				next, ok = f.mu.v4.remove(r.Prefix.Addr().As4(), r.Prefix.Bits(), src)
			}
		} else if f.mu.v6 != nil {
			next, ok = f.mu.v6.remove(r.Prefix.Addr().As16(), r.Prefix.Bits(), src)
		}
		if !ok {
			return fmt.Errorf("%w: %v from source %q", ErrNotFound, r.Prefix, r.Source)
		}
		if f.mu.nexts.get(next).Kind == NextAttached {
			st.connChanged = true
		}
		f.mu.nexts.pending = append(f.mu.nexts.pending, next)
		st.res.Deleted++
		st.delta(src)[fam]--
		return nil
	}
	return fmt.Errorf("%w: unknown operation %d", ErrInvalidRoute, c.Op)
}

func (st *batchState) delta(src uint16) *[2]int {
	if st.lastDelta != nil && st.lastSrc == src {
		return st.lastDelta
	}
	if st.srcDelta == nil {
		st.srcDelta = make(map[uint16]*[2]int, 1)
	}
	d := st.srcDelta[src]
	if d == nil {
		d = new([2]int)
		st.srcDelta[src] = d
	}
	st.lastSrc, st.lastDelta = src, d
	return d
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
	f.mu.nexts.rollback(f)
	f.mu.nexts.memo = [16]pathMemo{}
}

func (f *FIB) commitLocked(st *batchState) {
	if f.mu.v4 != nil {
		f.mu.v4.commit()
	}
	if f.mu.v6 != nil {
		f.mu.v6.commit()
	}
	for src, d := range st.srcDelta {
		if f.mu.bySource == nil {
			f.mu.bySource = make(map[uint16]*[2]int)
		}
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
	}
	f.mu.nexts.commit(f)
	f.mu.nexts.memo = [16]pathMemo{}
}

// sourceLocked interns a source name; consecutive routes of one source (the
// bulk case) skip the registry.
func (f *FIB) sourceLocked(name string) uint16 {
	if f.mu.lastSrcID != 0 && name == f.mu.lastSrc {
		return f.mu.lastSrcID
	}
	id := f.reg.internSource(name)
	f.mu.lastSrc, f.mu.lastSrcID = name, id
	return id
}
