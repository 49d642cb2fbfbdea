package fib

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/fibd/fibd/fib/adj"
)

type netipPrefix = netip.Prefix

var (
	probe4 = netip.MustParsePrefix("192.0.2.0/24")
	probe6 = netip.MustParsePrefix("2001:db8::/32")
)

// Next-hop groups (Linux's nexthop objects, gRIBI's NHG entries, FRR's
// FPM next-hop groups): a set of paths with an ID that routes name instead
// of carrying paths of their own. A group is one forwarding entry; every
// route that uses it references that entry, so replacing the group is one
// store into the entry table, whatever the number of routes —
// prefix-independent convergence. A group may name a backup group, which
// the dataplane uses while every member of the group is unusable.

// Group is a next-hop group as the API sees it.
type Group struct {
	ID     uint32
	Source string
	Paths  []Path
	Backup uint32 // 0: none
}

// GroupInfo is a group as listed: with what it resolves to and how many
// routes use it.
type GroupInfo struct {
	Group
	Next   *Next
	Routes int
}

// MaxGroupPaths bounds the paths of one group.
const MaxGroupPaths = MaxPaths

// group is a group in the FIB's working state.
type group struct {
	id     uint32
	src    uint16
	paths  []Path // canonical
	backup uint32
	entry  uint32 // its forwarding entry
	// stamp is its source's resync generation when it was last set: a
	// resync's end deletes the source's groups not set again since it
	// began (sweepGroupsLocked), as it does routes.
	stamp uint32
}

type groupUndoKind uint8

const (
	groupCreated groupUndoKind = iota
	groupReplaced
	groupDeleted
)

// groupUndo is one group change of the running batch: undone on rollback,
// finished on commit.
type groupUndo struct {
	kind groupUndoKind
	old  group // as it was (replaced, deleted)
	id   uint32
	// prev is the entry the group had before a replace (its adjacencies
	// are released on commit, the new entry's on rollback); backups are
	// the groups whose entry was rebuilt to point at the new one.
	prev    *Next
	rebuilt []rebuiltEntry
}

type rebuiltEntry struct {
	entry uint32
	old   *Next
}

func groupKey(id uint32) []byte {
	return appendKey(nil, []Path{{Kind: PathGroup, Group: id}})
}

// applyGroupLocked applies one group op of a batch.
func (f *FIB) applyGroupLocked(c *Change) error {
	g := c.Group
	if g.ID == 0 {
		return fmt.Errorf("%w: group 0 (IDs start at 1)", ErrInvalidRoute)
	}
	if err := CheckSourceName(g.Source); err != nil {
		return err
	}
	if f.mu.groups == nil {
		f.mu.groups = map[uint32]*group{}
	}
	old := f.mu.groups[g.ID]
	if old != nil && f.reg.sourceName(old.src) != g.Source {
		return fmt.Errorf("%w: group %d is source %q's", ErrGroupOwned, g.ID, f.reg.sourceName(old.src))
	}
	switch c.Op {
	case OpGroupDelete:
		if old == nil {
			if f.mu.opts.IdempotentDeletes {
				return nil
			}
			return fmt.Errorf("%w: %d", ErrNoSuchGroup, g.ID)
		}
		t := &f.mu.nexts
		if f.mu.quiesce != nil {
			f.mu.quiesce() // the tree goroutine's releases of this batch first
		}
		if n := t.refs[old.entry] - 1 - t.pendingOf(old.entry); n > 0 {
			return fmt.Errorf("%w: group %d is used by %d routes", ErrGroupInUse, g.ID, n)
		}
		for _, o := range f.mu.groups {
			if o.backup == g.ID {
				return fmt.Errorf("%w: group %d is group %d's backup", ErrGroupInUse, g.ID, o.id)
			}
		}
		delete(f.mu.groups, g.ID)
		delete(t.byKey, t.keys[old.entry])
		f.mu.groupUndo = append(f.mu.groupUndo, groupUndo{kind: groupDeleted, old: *old, id: g.ID})
		return nil
	case OpGroupSet:
	default:
		return fmt.Errorf("%w: unknown group operation %d", ErrInvalidRoute, c.Op)
	}
	if err := f.checkGroupLocked(g); err != nil {
		return err
	}
	src, err := f.sourceLocked(g.Source)
	if err != nil {
		return err
	}
	paths := canonicalPaths(g.Paths)
	n, err := f.groupNextLocked(g.ID, paths, g.Backup)
	if err != nil {
		return err
	}
	t := &f.mu.nexts
	if old == nil {
		i := t.alloc()
		t.put(i, n)
		if t.byKey == nil {
			t.byKey = make(map[string]uint32)
		}
		key := string(groupKey(g.ID))
		t.byKey[key] = i
		t.keys[i] = key
		t.refs[i] = 1 // the group's own reference, while it exists
		f.trackResolutionLocked(i, n)
		f.mu.groups[g.ID] = &group{id: g.ID, src: src, paths: paths, backup: g.Backup, entry: i, stamp: f.mu.stamps[src]}
		f.mu.groupUndo = append(f.mu.groupUndo, groupUndo{kind: groupCreated, id: g.ID})
		return nil
	}
	u := groupUndo{kind: groupReplaced, old: *old, id: g.ID, prev: t.get(old.entry)}
	t.put(old.entry, n)
	f.trackResolutionLocked(old.entry, n)
	*old = group{id: g.ID, src: src, paths: paths, backup: g.Backup, entry: old.entry, stamp: f.mu.stamps[src]}
	// Groups that name this one as their backup point at its new entry.
	for _, o := range f.mu.groups {
		if o.backup == g.ID {
			prev := t.get(o.entry)
			u.rebuilt = append(u.rebuilt, rebuiltEntry{entry: o.entry, old: prev})
			t.put(o.entry, f.withBackup(prev, n))
		}
	}
	f.mu.groupUndo = append(f.mu.groupUndo, u)
	return nil
}

// pendingOf counts the references to entry i the running batch will drop
// at commit (routes it deleted or re-pointed).
func (t *nextTable) pendingOf(i uint32) int32 {
	var n int32
	for _, j := range t.pending {
		if j == i {
			n++
		}
	}
	return n
}

// refreshBackupsLocked points every group with a backup at its backup's
// current entry (after re-resolution replaced entries).
func (f *FIB) refreshBackupsLocked() {
	t := &f.mu.nexts
	for _, g := range f.mu.groups {
		if g.backup == 0 {
			continue
		}
		b := f.mu.groups[g.backup]
		if b == nil {
			continue
		}
		cur, want := t.get(g.entry), t.get(b.entry)
		if cur.Backup != want {
			t.put(g.entry, f.withBackup(cur, want))
		}
	}
}

// checkGroupLocked validates a group's paths and backup.
func (f *FIB) checkGroupLocked(g Group) error {
	if len(g.Paths) == 0 {
		return fmt.Errorf("%w: group %d has no path", ErrInvalidRoute, g.ID)
	}
	if len(g.Paths) > MaxGroupPaths {
		return fmt.Errorf("%w: group %d has %d paths, at most %d", ErrInvalidRoute, g.ID, len(g.Paths), MaxGroupPaths)
	}
	// The paths are checked as a route's would be (of the family of the
	// first gateway; a group of gateways is of one family).
	probe := Route{Prefix: groupProbe(g.Paths), Source: g.Source, Paths: g.Paths}
	if err := probe.validate(f.id); err != nil {
		return fmt.Errorf("group %d: %w", g.ID, err)
	}
	for _, p := range g.Paths {
		if p.Kind == PathGroup {
			return fmt.Errorf("%w: group %d: a group's path cannot be another group (name it as the backup)", ErrInvalidRoute, g.ID)
		}
	}
	if g.Backup != 0 {
		if g.Backup == g.ID {
			return fmt.Errorf("%w: group %d cannot be its own backup", ErrInvalidRoute, g.ID)
		}
		b := f.mu.groups[g.Backup]
		if b == nil {
			return fmt.Errorf("%w: backup %d of group %d", ErrNoSuchGroup, g.Backup, g.ID)
		}
		if b.backup != 0 {
			return fmt.Errorf("%w: group %d's backup %d has a backup of its own (one level only)", ErrInvalidRoute, g.ID, g.Backup)
		}
	}
	for _, o := range f.mu.groups {
		if o.backup == g.ID && g.Backup != 0 {
			return fmt.Errorf("%w: group %d is group %d's backup, so it cannot have one (one level only)", ErrInvalidRoute, g.ID, o.id)
		}
	}
	return nil
}

// groupProbe is a prefix of the family of the group's gateways, for
// validating its paths as a route's.
func groupProbe(paths []Path) netipPrefix {
	for _, p := range paths {
		if p.Kind == PathGateway && p.Gateway.Unmap().Is6() {
			return probe6
		}
	}
	return probe4
}

// groupNextLocked builds a group's forwarding entry.
func (f *FIB) groupNextLocked(id uint32, paths []Path, backup uint32) (*Next, error) {
	n, _, err := f.buildNextLocked(paths)
	if err != nil {
		return nil, fmt.Errorf("group %d: %w", id, err)
	}
	n.GroupID = id
	if backup != 0 {
		n.Backup = f.mu.nexts.get(f.mu.groups[backup].entry)
	}
	return n, nil
}

// withBackup returns a copy of a group's entry pointing at a new backup
// entry. It holds the same adjacencies as n (the FIB's references stay
// with the entry index), so it takes its own holds.
func (f *FIB) withBackup(n, backup *Next) *Next {
	c := *n
	c.Backup = backup
	c.adjs = slices.Clone(n.adjs)
	if c.Kind == NextGateway {
		f.holdAdjs(&c)
	}
	return &c
}

// rollbackGroupsLocked undoes the batch's group changes, newest first.
func (f *FIB) rollbackGroupsLocked() {
	t := &f.mu.nexts
	for j := len(f.mu.groupUndo) - 1; j >= 0; j-- {
		u := &f.mu.groupUndo[j]
		switch u.kind {
		case groupCreated:
			g := f.mu.groups[u.id]
			delete(f.mu.groups, u.id)
			t.refs[g.entry] = 0
			t.destroy(f, g.entry)
		case groupReplaced:
			g := f.mu.groups[u.id]
			for _, r := range u.rebuilt {
				t.put(r.entry, r.old)
			}
			cur := t.get(g.entry)
			f.releaseNextLocked(cur)
			t.put(g.entry, u.prev)
			f.trackResolutionLocked(g.entry, u.prev)
			*g = u.old
		case groupDeleted:
			g := u.old
			f.mu.groups[u.id] = &g
			t.byKey[t.keys[g.entry]] = g.entry
		}
	}
	f.mu.groupUndo = f.mu.groupUndo[:0]
}

// commitGroupsLocked finishes the batch's group changes: replaced entries
// give back their adjacencies, deleted groups their entries.
func (f *FIB) commitGroupsLocked() {
	t := &f.mu.nexts
	for _, u := range f.mu.groupUndo {
		switch u.kind {
		case groupCreated:
			// The group holds its source from now on (the batch's own pin
			// ends with the batch).
			f.groupSrcChangedLocked(f.mu.groups[u.id].src, +1)
		case groupReplaced:
			f.releaseNextLocked(u.prev)
		case groupDeleted:
			f.groupSrcChangedLocked(u.old.src, -1)
			t.refs[u.old.entry]--
			if t.refs[u.old.entry] == 0 {
				t.destroy(f, u.old.entry)
			}
		}
	}
	f.mu.groupUndo = f.mu.groupUndo[:0]
}

// groupSrcChangedLocked counts a group more or fewer for src, taking or
// giving back the FIB's lasting use of the source.
func (f *FIB) groupSrcChangedLocked(src uint16, d int) {
	was := f.sourceUsedLocked(src)
	if f.mu.groupSrcs == nil {
		f.mu.groupSrcs = map[uint16]int{}
	}
	if f.mu.groupSrcs[src] += d; f.mu.groupSrcs[src] <= 0 {
		delete(f.mu.groupSrcs, src)
	}
	f.sourceUseChangedLocked(src, was)
}

// releaseNextLocked gives back what an entry object took: its adjacency
// references and, for a leak, the leak reference.
func (f *FIB) releaseNextLocked(n *Next) {
	f.releaseAdjs(adjsOf(n))
	if n.Kind == NextLookup {
		f.reg.leakRelease(n.FIB)
	}
}

// Groups returns the FIB's next-hop groups, by ID.
func (f *FIB) Groups() []GroupInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]GroupInfo, 0, len(f.mu.groups))
	t := &f.mu.nexts
	for _, g := range f.mu.groups {
		out = append(out, GroupInfo{Group: Group{ID: g.id, Source: f.reg.sourceName(g.src), Paths: g.paths, Backup: g.backup},
			Next: t.get(g.entry), Routes: int(t.refs[g.entry] - 1)})
	}
	slices.SortFunc(out, func(a, b GroupInfo) int { return int(a.ID) - int(b.ID) })
	return out
}

// GetGroup returns one group.
func (f *FIB) GetGroup(id uint32) (GroupInfo, bool) {
	for _, g := range f.Groups() {
		if g.ID == id {
			return g, true
		}
	}
	return GroupInfo{}, false
}

// sweepGroupsLocked deletes, after a resync's routes were swept, the
// groups of src not set again since the resync began (stamp) that nothing
// uses any more: no route, and no other group as its backup. A stale group
// still in use (another source's route may name it) stays. Backups go in
// a second pass, once the groups naming them are gone. It returns how
// many it deleted.
func (f *FIB) sweepGroupsLocked(src uint16, source string, stamp uint32) (int, error) {
	n := 0
	for range 2 {
		var changes []Change
		for _, g := range f.mu.groups {
			if g.src != src || g.stamp == stamp || f.mu.nexts.refs[g.entry] > 1 || f.isBackupLocked(g.id) {
				continue
			}
			changes = append(changes, Change{Op: OpGroupDelete, Group: Group{ID: g.id, Source: source}})
		}
		if len(changes) == 0 {
			break
		}
		// Map order: sort, so the batch (and its events) are the same
		// every time.
		slices.SortFunc(changes, func(a, b Change) int { return int(a.Group.ID) - int(b.Group.ID) })
		res, err := f.applyLocked(changes)
		if err != nil {
			return n, err
		}
		n += res.Groups
	}
	return n, nil
}

// isBackupLocked reports whether a group names id as its backup.
func (f *FIB) isBackupLocked(id uint32) bool {
	for _, o := range f.mu.groups {
		if o.backup == id {
			return true
		}
	}
	return false
}

// SetGroup creates or replaces a group as a batch of one.
func (f *FIB) SetGroup(g Group) (Result, error) {
	return f.Apply([]Change{{Op: OpGroupSet, Group: g}})
}

// DeleteGroup deletes a group as a batch of one.
func (f *FIB) DeleteGroup(id uint32, source string) (Result, error) {
	return f.Apply([]Change{{Op: OpGroupDelete, Group: Group{ID: id, Source: source}}})
}

// purgeGroupsLocked rebuilds, without the members through port p (no
// longer this FIB's), every gateway group that had some; a group left with
// none is unresolved until it is replaced or the port comes back. It is
// published with the rest of the purge.
func (f *FIB) purgeGroupsLocked(p adj.PortID) {
	t := &f.mu.nexts
	changed := false
	for _, g := range f.mu.groups {
		n := t.get(g.entry)
		if n.Kind != NextGateway {
			continue
		}
		hit := false
		for _, id := range n.adjs {
			if f.reg.adjs.Get(id).Port() == p {
				hit = true
			}
		}
		if !hit {
			continue
		}
		m, _, _ := f.buildGatewayForLocked(n.Paths, true, g.entry)
		m.GroupID, m.Backup = n.GroupID, n.Backup
		t.put(g.entry, m)
		f.trackResolutionLocked(g.entry, m)
		f.releaseAdjs(adjsOf(n))
		changed = true
	}
	if changed {
		f.refreshBackupsLocked()
		fwd := f.collectForwardingLocked()
		f.publishLocked()
		f.deliverForwardingLocked(fwd)
	}
}
