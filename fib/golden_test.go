package fib

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/race"
)

// golden is the slow, obviously correct reference: a slice of routes and a
// linear scan, with the FIB's limits.
type golden struct {
	routes []Route
	limits Limits
	// fixed are routes the golden run never touches (its interface
	// addresses): the generator's changes must not delete them.
	fixed int
}

// goldenError is the refusal golden expects: which entry, and why.
type goldenError struct {
	index int
	err   error
}

func (e *goldenError) Error() string { return fmt.Sprintf("entry %d: %v", e.index, e.err) }

func (g *golden) index(p netip.Prefix, src string) int {
	return slices.IndexFunc(g.routes, func(r Route) bool { return r.Prefix == p && r.Source == src })
}

// apply mirrors FIB.Apply: all or nothing, entries checked in order, each
// first for itself (duplicate gateway paths), then against the table (a
// missing route, a limit passed).
func (g *golden) apply(changes []Change) error {
	next := slices.Clone(g.routes)
	for i, c := range changes {
		if c.Op != OpDelete && hasDuplicatePaths(c.Route.Paths) {
			return &goldenError{i, ErrInvalidRoute}
		}
		j := slices.IndexFunc(next, func(r Route) bool { return r.Prefix == c.Route.Prefix && r.Source == c.Route.Source })
		switch c.Op {
		case OpAdd:
			if j >= 0 {
				next[j] = c.Route
				continue
			}
			next = append(next, c.Route)
			if g.overLimit(next, c.Route) {
				return &goldenError{i, ErrLimit}
			}
		case OpReplace:
			if j < 0 {
				return &goldenError{i, ErrNotFound}
			}
			next[j] = c.Route
		case OpDelete:
			if j < 0 {
				return &goldenError{i, ErrNotFound}
			}
			next = slices.Delete(next, j, j+1)
		}
	}
	g.routes = next
	return nil
}

func hasDuplicatePaths(ps []Path) bool {
	for i := range ps {
		for j := range i {
			if ps[i].Kind == PathGateway && ps[j].Kind == PathGateway &&
				ps[i].Gateway.Unmap() == ps[j].Gateway.Unmap() && ps[i].Port == ps[j].Port {
				return true
			}
		}
	}
	return false
}

// overLimit reports whether adding r (the last of routes) passed a limit:
// the family's routes, or the source's in the family.
func (g *golden) overLimit(routes []Route, r Route) bool {
	fam, src := 0, 0
	for _, o := range routes {
		if o.Prefix.Addr().Is4() == r.Prefix.Addr().Is4() {
			fam++
			if o.Source == r.Source {
				src++
			}
		}
	}
	famLimit := g.limits.Routes6
	if r.Prefix.Addr().Is4() {
		famLimit = g.limits.Routes4
	}
	return (famLimit > 0 && fam > famLimit) || (g.limits.PerSource > 0 && src > g.limits.PerSource)
}

// lookup returns the paths of the route that should forward a, or nil.
func (g *golden) lookup(a netip.Addr) []Path {
	var best *Route
	for i := range g.routes {
		r := &g.routes[i]
		if !r.Prefix.Contains(a) {
			continue
		}
		if best == nil || r.Prefix.Bits() > best.Prefix.Bits() ||
			(r.Prefix.Bits() == best.Prefix.Bits() && (r.Preference < best.Preference ||
				(r.Preference == best.Preference && r.Source < best.Source))) {
			best = r
		}
	}
	if best == nil {
		return nil
	}
	return canonicalPaths(best.Paths)
}

// fixture is a FIB with two ports bound, ready for random routes.
type fixture struct {
	reg *Registry
	f   *FIB
}

func newFixture(t testing.TB) *fixture {
	reg := NewRegistry(Options{})
	f, err := reg.Create(10)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []adj.PortID{1, 2} {
		if err := reg.BindPort(p, 10); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{reg: reg, f: f}
}

// goldenLimits are low enough that random batches hit them.
var goldenLimits = Limits{Routes4: 120, Routes6: 120, PerSource: 60}

// newGoldenFixture is newFixture with what the generator needs around
// FIB 10: interface addresses whose connected routes resolve gateways
// given without a port, FIB 20 to leak into, and goldenLimits. It returns
// the golden table holding the addresses' routes.
func newGoldenFixture(t testing.TB) (*fixture, *golden) {
	fx := newFixture(t)
	if _, err := fx.reg.Create(20); err != nil {
		t.Fatal(err)
	}
	g := &golden{limits: goldenLimits}
	for _, a := range []string{"192.0.2.254/24", "2001:db8::fe/64"} {
		p := mustPrefix(a)
		if err := fx.f.AddAddress(1, p); err != nil {
			t.Fatal(err)
		}
		g.routes = append(g.routes,
			Route{Prefix: p.Masked(), Source: SourceConnected, Preference: PrefConnected, Paths: []Path{{Kind: PathAttached, Port: 1}}},
			Route{Prefix: netip.PrefixFrom(p.Addr(), p.Addr().BitLen()), Source: SourceLocal, Preference: PrefConnected, Paths: []Path{{Kind: PathLocal, Port: 1}}})
	}
	g.fixed = len(g.routes)
	fx.f.SetLimits(goldenLimits)
	return fx, g
}

var sources = []string{"bgp", "ospf", "static"}

func randPaths(r *rand.Rand, v6 bool) []Path {
	gw := func() netip.Addr {
		if v6 {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(1 + r.IntN(8))})
		}
		return netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + r.IntN(8))})
	}
	// Port 0 leaves the gateway to be resolved through the connected
	// routes of newGoldenFixture's addresses, which hold every gateway.
	port := func() adj.PortID { return adj.PortID(r.IntN(3)) }
	switch x := r.IntN(20); {
	case x < 12:
		return []Path{{Kind: PathGateway, Gateway: gw(), Port: port()}}
	case x < 14:
		n := 2 + r.IntN(3)
		var ps []Path
		seen := map[netip.Addr]bool{}
		dupOK := r.IntN(6) == 0 // now and then a duplicate, which is refused
		for len(ps) < n {
			g := gw()
			if seen[g] && !dupOK {
				continue
			}
			seen[g] = true
			ps = append(ps, Path{Kind: PathGateway, Gateway: g, Port: 1, Weight: uint32(r.IntN(4))})
		}
		return ps
	case x < 15:
		return []Path{{Kind: PathBlackhole}}
	case x < 16:
		return []Path{{Kind: PathUnreachable}}
	case x < 17:
		return []Path{{Kind: PathProhibit}}
	case x < 18:
		return []Path{{Kind: PathLocal, Port: 2}}
	case x < 19:
		return []Path{{Kind: PathAttached, Port: adj.PortID(1 + r.IntN(2))}}
	}
	if r.IntN(2) == 0 {
		return []Path{{Kind: PathLookup, FIB: 20}}
	}
	return []Path{{Kind: PathLookup, FIB: 0}}
}

func randRoute(r *rand.Rand, v6 bool) Route {
	return Route{
		Prefix:     randPrefix(r, v6),
		Source:     sources[r.IntN(len(sources))],
		Preference: Preference(r.IntN(3)),
		Paths:      randPaths(r, v6),
	}
}

func (fx *fixture) check(t testing.TB, g *golden, probes []netip.Addr) {
	t.Helper()
	batch := make([]*Next, len(probes))
	fx.f.LookupBatch(probes, batch)
	for i, a := range probes {
		n := fx.f.Lookup(a)
		if batch[i] != n {
			t.Fatalf("LookupBatch %s = %v %v, Lookup = %v %v", a, batch[i].Kind, batch[i].Paths, n.Kind, n.Paths)
		}
		want := g.lookup(a)
		if want == nil {
			if n.Kind != NextMiss {
				t.Fatalf("lookup %s: got %v %v, want miss", a, n.Kind, n.Paths)
			}
			continue
		}
		if !slices.Equal(n.Paths, want) {
			t.Fatalf("lookup %s: got %v %v, want %v", a, n.Kind, n.Paths, want)
		}
	}
}

func goldenProbes(r *rand.Rand, g *golden, v6 bool, n int) []netip.Addr {
	m := map[netip.Prefix]uint32{}
	for _, rt := range g.routes {
		if rt.Prefix.Addr().Is6() == v6 {
			m[rt.Prefix] = 0
		}
	}
	return probesFor(r, m, v6, n)
}

// runGolden applies a seeded random sequence of adds, replaces, deletes and
// batches (some with a bad entry, which must change nothing) and compares
// the FIB with the golden table after every step.
func runGolden(t testing.TB, seed uint64, steps int) {
	r := rand.New(rand.NewPCG(seed, 2))
	fx, g := newGoldenFixture(t)
	// pick returns one of the routes the generator may change.
	pick := func() Route { return g.routes[g.fixed+r.IntN(len(g.routes)-g.fixed)] }
	for step := 0; step < steps; step++ {
		v6 := r.IntN(2) == 0
		var changes []Change
		n := 1
		if r.IntN(4) == 0 {
			n = 2 + r.IntN(30)
		}
		for i := 0; i < n; i++ {
			switch x := r.IntN(10); {
			case x < 6 || len(g.routes) == g.fixed:
				changes = append(changes, Change{Op: OpAdd, Route: randRoute(r, v6)})
			case x < 8:
				old := pick()
				nr := randRoute(r, old.Prefix.Addr().Is6())
				nr.Prefix, nr.Source = old.Prefix, old.Source
				op := OpReplace
				if r.IntN(5) == 0 {
					nr.Source = "nobody" // replace of a route that does not exist
				}
				changes = append(changes, Change{Op: op, Route: nr})
			default:
				old := pick()
				if r.IntN(8) == 0 {
					old.Source = "nobody"
				}
				changes = append(changes, Change{Op: OpDelete, Route: Route{Prefix: old.Prefix, Source: old.Source}})
			}
		}
		before := fx.f.Version()
		wantErr := g.apply(changes)
		_, err := fx.f.Apply(changes)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("step %d: Apply error %v, golden error %v", step, err, wantErr)
		}
		if err != nil {
			want := wantErr.(*goldenError)
			var be *BatchError
			if !errors.As(err, &be) || be.Index != want.index || !errors.Is(err, want.err) {
				t.Fatalf("step %d: error %v, want a BatchError for entry %d wrapping %v", step, err, want.index, want.err)
			}
			if fx.f.Version() != before {
				t.Fatalf("step %d: a refused batch published a new version", step)
			}
		}
		fx.check(t, g, goldenProbes(r, g, v6, 20))
	}
	fx.check(t, g, goldenProbes(r, g, false, 100))
	fx.check(t, g, goldenProbes(r, g, true, 100))
	// Remove everything; the FIB must release every entry and adjacency.
	var all []Change
	for _, rt := range g.routes[g.fixed:] {
		all = append(all, Change{Op: OpDelete, Route: Route{Prefix: rt.Prefix, Source: rt.Source}})
	}
	if _, err := fx.f.Apply(all); err != nil {
		t.Fatal(err)
	}
	if n := fx.reg.Adjacencies().Len(); n != 0 {
		t.Fatalf("%d adjacencies left after deleting every route", n)
	}
	if v4, v6 := fx.f.Counts(); v4 != 2 || v6 != 2 {
		t.Fatalf("counts %d/%d after deleting every route but the addresses'", v4, v6)
	}
	for _, id := range []adj.FIBID{0, 20} {
		if fx.reg.mu.leakRefs[id] != 0 {
			t.Fatalf("leak references to FIB %d left: %d", id, fx.reg.mu.leakRefs[id])
		}
	}
	if fx.reg.hasLeaks(10) {
		t.Fatal("leak routes of FIB 10 still recorded")
	}
	if n := fx.reg.SourceCount(); n != 2 {
		t.Fatalf("%d sources left, want the addresses' connected and local", n)
	}
}

// goldenSeeds is how many seeds the golden tests run: all of them without
// the race detector (make unit's second pass), a few under it, where what
// counts is the concurrency of the parallel batches, not more sequences.
func goldenSeeds(n int) uint64 {
	if race.Enabled {
		return uint64(max(1, n/5))
	}
	return uint64(n)
}

func TestGoldenRandom(t *testing.T) {
	for seed := uint64(1); seed <= goldenSeeds(30); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runGolden(t, seed, 300) })
	}
}

// The same sequences with every batch of two or more entries on the
// parallel path (tree and trie on two goroutines, fixed up afterwards).
func TestGoldenRandomParallel(t *testing.T) {
	defer func(n int) { parallelMin = n }(parallelMin)
	parallelMin = 2
	for seed := uint64(31); seed <= 30+goldenSeeds(20); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runGolden(t, seed, 300) })
	}
}

// fuzzsmoke: 300x
func FuzzGoldenSeed(f *testing.F) {
	f.Add(uint64(1))
	f.Add(uint64(42))
	f.Fuzz(func(t *testing.T, seed uint64) { runGolden(t, seed, 60) })
}

// A parallel batch resolves gateways through connected routes exactly as a
// sequential one: each new path set sees the connected routes the entries
// before it added, and nothing else touches the tree meanwhile.
func TestParallelBatchResolvesLikeSequential(t *testing.T) {
	build := func(min int) *fixture {
		defer func(n int) { parallelMin = n }(parallelMin)
		parallelMin = min
		fx := newFixture(t)
		var ch []Change
		attached := func(p string, port adj.PortID) {
			ch = append(ch, Change{Op: OpAdd, Route: Route{Prefix: mustPrefix(p), Source: "static", Paths: []Path{{Kind: PathAttached, Port: port}}}})
		}
		attached("192.0.2.0/24", 1)
		for i := 0; i < 3000; i++ {
			gw := netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%200)})
			if i >= 1500 {
				gw = netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + i%200)})
			}
			if i == 1500 {
				attached("203.0.113.0/24", 2)
			}
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 32)
			ch = append(ch, Change{Op: OpAdd, Route: Route{Prefix: p, Source: "bgp", Paths: []Path{{Kind: PathGateway, Gateway: gw}}}})
		}
		if _, err := fx.f.Apply(ch); err != nil {
			t.Fatalf("parallelMin %d: %v", min, err)
		}
		return fx
	}
	seq, par := build(1<<30), build(2)
	for i := 0; i < 3000; i++ {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		s, p := seq.f.Lookup(a), par.f.Lookup(a)
		if s.Kind != p.Kind || s.Port != p.Port || seq.reg.Adjacencies().Get(s.Adj).Key() != par.reg.Adjacencies().Get(p.Adj).Key() {
			t.Fatalf("%v: sequential %v port %d, parallel %v port %d", a, s.Kind, s.Port, p.Kind, p.Port)
		}
	}
}
