package fib

import (
	"fmt"
	"slices"
	"strings"
)

// Route sources are named by clients ("static", "bgp", "frr-zebra") and
// stored in route records as 16-bit IDs. An ID stays taken while any FIB
// holds a route of the source or runs a resync for it, or a batch is in
// the middle of using it; then it is given back, so sources that come and
// go never exhaust the table, and a full table refuses a new source rather
// than letting two sources share an ID (one's delete would remove the
// other's routes).

// MaxSources is how many distinct sources can exist at once (IDs 1…65535).
const MaxSources = 1<<16 - 1

// MaxSourceName bounds a source name, in bytes.
const MaxSourceName = 64

// ErrSourcesFull refuses a new source when every source ID is in use; it
// is a limit (errors.Is(err, ErrLimit)).
var ErrSourcesFull = fmt.Errorf("%w: every one of the %d source IDs is in use", ErrLimit, MaxSources)

// CheckSourceName accepts a short printable word: ASCII letters, digits and
// - _ . : / @ +. Names appear in logs, metrics and state files, so nothing
// that needs quoting.
func CheckSourceName(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty source", ErrInvalidRoute)
	}
	if len(s) > MaxSourceName {
		return fmt.Errorf("%w: source name is %d bytes, at most %d", ErrInvalidRoute, len(s), MaxSourceName)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '/', c == '@', c == '+':
		default:
			return fmt.Errorf("%w: source %q: byte %d (%q) is not a letter, digit or one of - _ . : / @ +",
				ErrInvalidRoute, s, i, c)
		}
	}
	return nil
}

// pinSource returns the ID of a source name, allocating one if the name is
// new, and takes a use of it; unpinSource gives the use back. It fails with
// ErrSourcesFull when the name is new and no ID is free.
func (r *Registry) pinSource(name string) (uint16, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.mu.sources[name]; ok {
		r.mu.srcUses[id]++
		return id, nil
	}
	var id uint16
	if n := len(r.mu.srcFree); n > 0 {
		id = r.mu.srcFree[n-1]
		r.mu.srcFree = r.mu.srcFree[:n-1]
		// In place: no record anywhere names a freed ID, so no reader
		// looks at its slot until a route of the new source exists, and
		// that route's batch pinned it first (under this mutex).
		r.mu.names[id] = name
	} else {
		if len(r.mu.names) > MaxSources {
			return 0, ErrSourcesFull
		}
		id = uint16(len(r.mu.names))
		r.mu.names = append(r.mu.names, name)
		r.mu.srcUses = append(r.mu.srcUses, 0)
	}
	r.mu.sources[name] = id
	r.mu.srcUses[id] = 1
	names := slices.Clip(r.mu.names)
	r.names.Store(&names)
	return id, nil
}

// pinExistingSource is pinSource for a name that must exist already (a
// delete or a lookup names a source; it never creates one).
func (r *Registry) pinExistingSource(name string) (uint16, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.mu.sources[name]
	if ok {
		r.mu.srcUses[id]++
	}
	return id, ok
}

// unpinSource gives back a use taken by pinSource, pinExistingSource or
// useSource; the last one frees the ID.
func (r *Registry) unpinSource(id uint16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id == 0 || int(id) >= len(r.mu.srcUses) || r.mu.srcUses[id] <= 0 {
		panic(fmt.Sprintf("fib: unpin of unused source %d", id))
	}
	r.mu.srcUses[id]--
	if r.mu.srcUses[id] > 0 {
		return
	}
	delete(r.mu.sources, r.mu.names[id])
	r.mu.names[id] = ""
	r.mu.srcFree = append(r.mu.srcFree, id)
}

// useSource takes a lasting use of a pinned source: a FIB started holding
// its routes or a resync of it.
func (r *Registry) useSource(id uint16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.srcUses[id]++
}

// SourceCount returns how many sources exist: named by a route, a resync,
// or a batch in progress.
func (r *Registry) SourceCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.mu.sources)
}

func (r *Registry) sourceName(id uint16) string {
	names := *r.names.Load()
	if int(id) < len(names) {
		return names[id]
	}
	return ""
}

// lookupSource returns a source's ID without taking a use. The ID is only
// good while something else keeps the source alive (the caller's FIB holds
// its routes, under the FIB's mutex).
func (r *Registry) lookupSource(name string) (uint16, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.mu.sources[name]
	return id, ok
}

// Per-FIB side. A FIB uses a source while it has routes of it or a resync
// of it runs; a batch pins the sources it names until it commits or rolls
// back.

// sourceLocked pins a source for the running batch (allocating its ID if
// the name is new); consecutive routes of one source, the bulk case, skip
// the registry.
func (f *FIB) sourceLocked(name string) (uint16, error) {
	if f.mu.lastSrcID != 0 && name == f.mu.lastSrc {
		return f.mu.lastSrcID, nil
	}
	id, err := f.reg.pinSource(name) // the name was checked by Route.validate
	if err != nil {
		return 0, err
	}
	f.notePinLocked(name, id)
	return id, nil
}

// existingSourceLocked pins a source that must exist, for a delete.
func (f *FIB) existingSourceLocked(name string) (uint16, bool) {
	if f.mu.lastSrcID != 0 && name == f.mu.lastSrc {
		return f.mu.lastSrcID, true
	}
	id, ok := f.reg.pinExistingSource(name)
	if ok {
		f.notePinLocked(name, id)
	}
	return id, ok
}

func (f *FIB) notePinLocked(name string, id uint16) {
	if slices.Contains(f.mu.batchSrcs, id) {
		f.reg.unpinSource(id) // one pin per batch is enough
	} else {
		f.mu.batchSrcs = append(f.mu.batchSrcs, id)
	}
	f.mu.lastSrc, f.mu.lastSrcID = name, id
}

// endBatchSourcesLocked gives back the batch's pins, after its commit has
// taken lasting uses for the sources that now own routes here.
func (f *FIB) endBatchSourcesLocked() {
	for _, id := range f.mu.batchSrcs {
		f.reg.unpinSource(id)
	}
	f.mu.batchSrcs = f.mu.batchSrcs[:0]
	f.mu.lastSrc, f.mu.lastSrcID = "", 0
}

// sourceUsedLocked reports whether this FIB keeps src alive.
func (f *FIB) sourceUsedLocked(src uint16) bool {
	_, routes := f.mu.bySource[src]
	_, resync := f.mu.resyncing[src]
	return routes || resync || f.mu.groupSrcs[src] > 0
}

// sourceUseChangedLocked takes or gives back this FIB's lasting use of src
// after its routes, groups or resync state changed; was is sourceUsedLocked
// before.
func (f *FIB) sourceUseChangedLocked(src uint16, was bool) {
	switch now := f.sourceUsedLocked(src); {
	case now && !was:
		f.reg.useSource(src)
	case was && !now:
		// No record of src is left here, so its resync generation means
		// nothing any more either.
		delete(f.mu.stamps, src)
		f.reg.unpinSource(src)
	}
}

// SourceCount is one source's routes in a FIB, per family.
type SourceCount struct {
	Source           string
	Routes4, Routes6 int
}

// SourceCounts returns the routes of every source that has some in the
// FIB, by name.
func (f *FIB) SourceCounts() []SourceCount {
	f.mu.Lock()
	out := make([]SourceCount, 0, len(f.mu.bySource))
	for src, c := range f.mu.bySource {
		out = append(out, SourceCount{Source: f.reg.sourceName(src), Routes4: c[0], Routes6: c[1]})
	}
	f.mu.Unlock()
	slices.SortFunc(out, func(a, b SourceCount) int { return strings.Compare(a.Source, b.Source) })
	return out
}
