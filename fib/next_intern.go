package fib

import (
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"unsafe"

	"github.com/fibd/fibd/fib/adj"
)

var netipZero netip.Addr

// internLocked returns the forwarding entry for a path set, creating it if
// no route uses that path set yet, and takes a reference for the caller's
// route. References taken in a batch are undone by rollback.
func (f *FIB) internLocked(paths []Path) (uint32, error) {
	t := &f.mu.nexts
	var i uint32
	memo := &t.memo[0]
	if len(paths) > 0 {
		memo = &t.memo[uintptr(unsafe.Pointer(&paths[0]))/unsafe.Sizeof(Path{})%uintptr(len(t.memo))]
	}
	switch {
	case len(paths) > 0 && memo.first == &paths[0] && memo.n == len(paths):
		i = memo.next
	default:
		t.keyBuf = appendKey(t.keyBuf[:0], paths)
		if j, ok := t.byKey[string(t.keyBuf)]; ok {
			i = j
			break
		}
		n, _, err := f.buildNextLocked(canonicalPaths(paths))
		if err != nil {
			return 0, err
		}
		i = t.alloc()
		t.put(i, n)
		if t.byKey == nil {
			t.byKey = make(map[string]uint32)
		}
		key := string(t.keyBuf)
		t.byKey[key] = i
		t.keys[i] = key
		f.trackResolutionLocked(i, n)
	}
	t.refs[i]++
	t.acquired = append(t.acquired, i)
	if len(paths) > 0 {
		*memo = pathMemo{first: &paths[0], n: len(paths), next: i}
	}
	return i, nil
}

// buildNextLocked makes the forwarding entry of a canonical path set,
// taking the adjacency and leak references it needs. auto reports whether a
// gateway was resolved through a connected route.
func (f *FIB) buildNextLocked(paths []Path) (n *Next, auto bool, err error) {
	p := paths[0]
	switch p.Kind {
	case PathGateway:
		return f.buildGatewayLocked(paths, false)
	case PathAttached:
		if err := f.checkPortLocked(p.Port); err != nil {
			return nil, false, err
		}
		return &Next{Kind: NextAttached, Port: p.Port, Paths: paths}, false, nil
	case PathLocal:
		if p.Port != adj.NoPort {
			if err := f.checkPortLocked(p.Port); err != nil {
				return nil, false, err
			}
		}
		return &Next{Kind: NextLocal, Port: p.Port, Paths: paths}, false, nil
	case PathBlackhole:
		return &Next{Kind: NextBlackhole, Paths: paths}, false, nil
	case PathUnreachable:
		return &Next{Kind: NextUnreachable, Paths: paths}, false, nil
	case PathProhibit:
		return &Next{Kind: NextProhibit, Paths: paths}, false, nil
	case PathLookup:
		if err := f.reg.leakAcquire(p.FIB); err != nil {
			return nil, false, err
		}
		return &Next{Kind: NextLookup, FIB: p.FIB, Paths: paths}, false, nil
	case PathGroup:
		// A group's key is registered when the group is made: reaching
		// here means there is none.
		return nil, false, fmt.Errorf("%w: %d in FIB %d", ErrNoSuchGroup, p.Group, f.id)
	}
	return nil, false, fmt.Errorf("%w: unknown path kind %v", ErrInvalidRoute, p.Kind)
}

// buildGatewayLocked resolves every gateway to a port and an adjacency:
// through the connected route that covers it or, failing that,
// recursively, through the route that covers it (a BGP next hop), whose
// adjacencies it then shares. A gateway nothing covers yet is left out,
// and an entry with no member becomes NextUnresolved: installed, and
// resolved when a route covers its gateway. Paths that resolve to one
// adjacency ("via A" and "via A port P" when A is on P) are one member
// whose weight is their sum, holding one reference. self is the entry
// being rebuilt (0 for a new one): resolving through it, or through
// anything that resolves through it, is a loop, as is a chain deeper than
// MaxRecursion; lenient (re-resolution) leaves such a gateway out, strict
// (a new route) refuses it.
func (f *FIB) buildGatewayLocked(paths []Path, lenient bool) (*Next, bool, error) {
	return f.buildGatewayForLocked(paths, lenient, 0)
}

func (f *FIB) buildGatewayForLocked(paths []Path, lenient bool, self uint32) (*Next, bool, error) {
	members := make([]adj.ID, 0, len(paths))
	weights := make([]uint32, 0, len(paths))
	auto, recursive := false, false
	var via []uint32
	add := func(k adj.Key, w uint32) {
		id := f.reg.adjs.Acquire(k)
		if j := slices.Index(members, id); j >= 0 {
			f.reg.adjs.Release(id)
			weights[j] += w
			return
		}
		members = append(members, id)
		weights = append(weights, w)
	}
	for _, p := range paths {
		pp := p.Port
		if pp != adj.NoPort {
			if err := f.checkPortLocked(pp); err != nil {
				if lenient {
					continue
				}
				f.releaseAdjs(members)
				return nil, false, err
			}
			add(adj.Key{FIB: f.id, Port: pp, Addr: p.Gateway}, p.Weight)
			continue
		}
		auto = true
		if port, ok := f.resolveLocked(p.Gateway); ok {
			add(adj.Key{FIB: f.id, Port: port, Addr: p.Gateway}, p.Weight)
			continue
		}
		recursive = true
		cover, c, err := f.resolveRecursiveLocked(p.Gateway, self)
		if err != nil {
			if lenient {
				continue
			}
			f.releaseAdjs(members)
			return nil, false, err
		}
		switch {
		case cover == nil:
			// Nothing covers it yet: unresolved until something does.
		case cover.Kind == NextAttached:
			add(adj.Key{FIB: f.id, Port: cover.Port, Addr: p.Gateway}, p.Weight)
			via = append(via, c)
		case cover.Kind == NextGateway:
			for _, id := range cover.adjs {
				add(f.reg.adjs.Get(id).Key(), p.Weight)
			}
			via = append(via, c)
		}
	}
	var n *Next
	switch len(members) {
	case 0:
		n = &Next{Kind: NextUnresolved, Paths: paths}
	case 1:
		n = &Next{Kind: NextGateway, Port: f.reg.adjs.Get(members[0]).Port(), Adj: members[0], Paths: paths}
	default:
		n = &Next{Kind: NextGateway, Group: buckets(members, weights), Paths: paths}
	}
	n.adjs, n.auto, n.recursive, n.via = members, auto, recursive, via
	if len(members) > 0 {
		f.holdAdjs(n)
	}
	return n, auto, nil
}

// MaxRecursion bounds how many routes deep a recursive next hop may
// resolve.
const MaxRecursion = 8

// resolveRecursiveLocked finds the route a recursive gateway resolves
// through: the best route of the longest prefix covering it, but never a
// default route (as FRR does unless told to resolve via the default) and
// never entry self. It returns nil when nothing covers gw, or covers it
// with something that forwards nowhere (blackhole, unreachable, another
// unresolved route). Following the chain of entries back to self, or
// deeper than MaxRecursion, is ErrRecursionLoop.
func (f *FIB) resolveRecursiveLocked(gw netip.Addr, self uint32) (*Next, uint32, error) {
	if f.mu.quiesce != nil {
		f.mu.quiesce()
	}
	var e uint32
	var ok bool
	if gw.Is4() {
		if f.mu.v4 == nil {
			return nil, 0, nil
		}
		e, ok = coverIn(f.mu.v4, gw.As4(), 32, self)
	} else {
		if f.mu.v6 == nil {
			return nil, 0, nil
		}
		e, ok = coverIn(f.mu.v6, gw.As16(), 128, self)
	}
	if !ok {
		return nil, 0, nil
	}
	t := &f.mu.nexts
	if err := f.checkChainLocked(e, self, 1); err != nil {
		return nil, 0, err
	}
	n := t.get(e)
	if n.Kind != NextGateway && n.Kind != NextAttached {
		return nil, 0, nil
	}
	return n, e, nil
}

// checkChainLocked follows the entries e resolves through, refusing a
// chain that reaches self or goes deeper than MaxRecursion.
func (f *FIB) checkChainLocked(e, self uint32, depth int) error {
	if self != 0 && e == self {
		return fmt.Errorf("%w: the next hop resolves through itself", ErrRecursionLoop)
	}
	if depth > MaxRecursion {
		return fmt.Errorf("%w: deeper than %d routes", ErrRecursionLoop, MaxRecursion)
	}
	n := f.mu.nexts.get(e)
	if n == nil {
		return nil
	}
	for _, v := range n.via {
		if err := f.checkChainLocked(v, self, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// coverIn returns the entry of the best route of the longest non-default
// prefix covering k, skipping routes on entry self.
func coverIn[K key](fam *family[K], k K, bits int, self uint32) (uint32, bool) {
	fam.buf = fam.tree.all(fam.buf[:0], k, bits)
	var best *record[K]
	for _, id := range fam.buf {
		r := &fam.recs[id]
		if r.bits == 0 || (self != 0 && r.next == self) {
			continue
		}
		if best == nil || r.bits > best.bits || (r.bits == best.bits && fam.better(r, best)) {
			best = r
		}
	}
	if best == nil {
		return 0, false
	}
	return best.next, true
}

// trackResolutionLocked files entry i under the re-resolution sets its
// Next needs.
func (f *FIB) trackResolutionLocked(i uint32, n *Next) {
	t := &f.mu.nexts
	if n.auto {
		if t.auto == nil {
			t.auto = make(map[uint32]struct{})
		}
		t.auto[i] = struct{}{}
	} else {
		delete(t.auto, i)
	}
	if n.recursive {
		if t.recursive == nil {
			t.recursive = make(map[uint32]struct{})
		}
		t.recursive[i] = struct{}{}
	} else {
		delete(t.recursive, i)
	}
}

// holdAdjs marks the adjacencies of a new forwarding entry as held for as
// long as the entry object lives. A published snapshot, or a reader that
// loaded the entry from one, keeps them from being reused for another key
// even after the FIB has released them (a re-point, a purge, a deleted
// FIB); the garbage collector ends the holds once the last of them lets go,
// which no reader can outrun.
func (f *FIB) holdAdjs(n *Next) {
	t := f.reg.adjs
	t.Hold(n.adjs...)
	runtime.AddCleanup(n, func(ids []adj.ID) { t.Unhold(ids...) }, n.adjs)
}

func (f *FIB) releaseAdjs(ids []adj.ID) {
	for _, id := range ids {
		f.reg.adjs.Release(id)
	}
}

// adjsOf lists the distinct adjacencies an entry holds references on.
func adjsOf(n *Next) []adj.ID {
	if n.Kind != NextGateway {
		return nil
	}
	return n.adjs
}

func (f *FIB) checkPortLocked(p adj.PortID) error {
	if id, ok := f.reg.PortFIB(p); !ok || id != f.id {
		return fmt.Errorf("%w: port %d, FIB %d", ErrPortNotBound, p, f.id)
	}
	return nil
}

// resolveLocked finds the port of the longest connected route covering gw
// in this FIB's working state.
func (f *FIB) resolveLocked(gw netip.Addr) (adj.PortID, bool) {
	if f.mu.quiesce != nil {
		f.mu.quiesce()
	}
	if gw.Is4() {
		if f.mu.v4 == nil {
			return 0, false
		}
		return resolveIn(f.mu.v4, &f.mu.nexts, gw.As4(), 32)
	}
	if f.mu.v6 == nil {
		return 0, false
	}
	return resolveIn(f.mu.v6, &f.mu.nexts, gw.As16(), 128)
}

func resolveIn[K key](fam *family[K], t *nextTable, k K, bits int) (adj.PortID, bool) {
	fam.buf = fam.tree.all(fam.buf[:0], k, bits)
	var best *record[K]
	var port adj.PortID
	for _, id := range fam.buf {
		r := &fam.recs[id]
		n := t.get(r.next)
		if n.Kind != NextAttached {
			continue
		}
		if best == nil || r.bits > best.bits || (r.bits == best.bits && fam.better(r, best)) {
			best, port = r, n.Port
		}
	}
	return port, best != nil
}

// reresolveLocked re-resolves the gateways of every entry that depends on
// other routes — connected ones, or any route for recursive next hops —
// after a batch changed some. It walks entries (path sets, groups), never
// routes, and replaces only the entries whose adjacencies changed: every
// route on an entry follows at once. Recursive entries may resolve
// through each other, so it repeats until nothing changes (at most
// MaxRecursion+1 passes).
func (f *FIB) reresolveLocked() {
	t := &f.mu.nexts
	for pass := 0; pass <= MaxRecursion; pass++ {
		changed := false
		for _, set := range []map[uint32]struct{}{t.auto, t.recursive} {
			for i := range set {
				old := t.get(i)
				if old == nil || old.Kind == NextLookup {
					continue
				}
				n, _, _ := f.buildGatewayForLocked(old.Paths, true, i)
				n.GroupID, n.Backup = old.GroupID, old.Backup
				if sameAdjs(old, n) {
					f.releaseAdjs(adjsOf(n))
					// Keep what it resolves through up to date for loop checks.
					if !slices.Equal(old.via, n.via) {
						c := *old
						c.via = n.via
						c.adjs = slices.Clone(old.adjs)
						if len(c.adjs) > 0 {
							f.holdAdjs(&c)
						}
						t.put(i, &c)
					}
					continue
				}
				t.put(i, n)
				f.trackResolutionLocked(i, n)
				f.releaseAdjs(adjsOf(old))
				f.noteResolutionLocked(i, n)
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	f.refreshBackupsLocked()
}

func sameAdjs(a, b *Next) bool {
	if a.Kind != b.Kind || a.Adj != b.Adj || len(a.Group) != len(b.Group) {
		return false
	}
	for i := range a.Group {
		if a.Group[i] != b.Group[i] {
			return false
		}
	}
	return true
}

// rollback undoes the batch's references and destroys the entries that
// were created for it.
func (t *nextTable) rollback(f *FIB) {
	for j := len(t.acquired) - 1; j >= 0; j-- {
		i := t.acquired[j]
		t.refs[i]--
		if t.refs[i] == 0 {
			t.destroy(f, i)
		}
	}
	t.acquired = t.acquired[:0]
	t.pending = t.pending[:0]
}

// commit drops the references of routes the batch deleted or repointed and
// destroys entries no route uses any more.
func (t *nextTable) commit(f *FIB) {
	for _, i := range t.pending {
		t.refs[i]--
		if t.refs[i] == 0 {
			t.destroy(f, i)
		}
	}
	t.pending = t.pending[:0]
	t.acquired = t.acquired[:0]
}

func (t *nextTable) destroy(f *FIB, i uint32) {
	n := t.get(i)
	f.releaseAdjs(adjsOf(n))
	if n.Kind == NextLookup {
		f.reg.leakRelease(n.FIB)
	}
	delete(t.byKey, t.keys[i])
	t.keys[i] = ""
	delete(t.auto, i)
	t.put(i, nil)
	t.free = append(t.free, i)
}
