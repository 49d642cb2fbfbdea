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
		n, auto, err := f.buildNextLocked(canonicalPaths(paths))
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
		if auto {
			if t.auto == nil {
				t.auto = make(map[uint32]struct{})
			}
			t.auto[i] = struct{}{}
		}
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
	}
	return nil, false, fmt.Errorf("%w: unknown path kind %v", ErrInvalidRoute, p.Kind)
}

// buildGatewayLocked resolves every gateway to a port and an adjacency.
// When lenient is set (re-resolution after a connected route changed),
// unresolvable members are dropped instead of failing, and an entry with no
// member left becomes NextUnresolved. Paths that resolve to one adjacency
// ("via A" and "via A port P" when A is on P) are one member whose weight
// is their sum, holding one reference.
func (f *FIB) buildGatewayLocked(paths []Path, lenient bool) (*Next, bool, error) {
	members := make([]adj.ID, 0, len(paths))
	weights := make([]uint32, 0, len(paths))
	auto := false
	for _, p := range paths {
		pp := p.Port
		if pp == adj.NoPort {
			auto = true
			var ok bool
			pp, ok = f.resolveLocked(p.Gateway)
			if !ok {
				if lenient {
					continue
				}
				f.releaseAdjs(members)
				return nil, false, fmt.Errorf("%w: %v in FIB %d", ErrUnresolved, p.Gateway, f.id)
			}
		} else if err := f.checkPortLocked(pp); err != nil {
			if lenient {
				continue
			}
			f.releaseAdjs(members)
			return nil, false, err
		}
		id := f.reg.adjs.Acquire(adj.Key{FIB: f.id, Port: pp, Addr: p.Gateway})
		if j := slices.Index(members, id); j >= 0 {
			f.reg.adjs.Release(id)
			weights[j] += p.Weight
			continue
		}
		members = append(members, id)
		weights = append(weights, p.Weight)
	}
	var n *Next
	switch len(members) {
	case 0:
		return &Next{Kind: NextUnresolved, Paths: paths}, auto, nil
	case 1:
		n = &Next{Kind: NextGateway, Port: f.reg.adjs.Get(members[0]).Port(), Adj: members[0], Paths: paths}
	default:
		n = &Next{Kind: NextGateway, Group: buckets(members, weights), Paths: paths}
	}
	n.adjs = members
	f.holdAdjs(n)
	return n, auto, nil
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

// reresolveLocked re-resolves the gateways of every entry that depends on a
// connected route, after a batch added or removed one. It walks entries
// (path sets), never routes, and replaces only the entries whose ports
// changed.
func (f *FIB) reresolveLocked() {
	t := &f.mu.nexts
	for i := range t.auto {
		old := t.get(i)
		n, _, _ := f.buildGatewayLocked(old.Paths, true)
		if sameAdjs(old, n) {
			f.releaseAdjs(adjsOf(n))
			continue
		}
		t.put(i, n)
		f.releaseAdjs(adjsOf(old))
	}
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
