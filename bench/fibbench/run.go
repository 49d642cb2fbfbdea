package fibbench

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"
	"github.com/kentik/patricia"
	"github.com/kentik/patricia/uint32_tree"

	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// Config tunes a run. The zero value gives the documented workload.
type Config struct {
	Probes int // probe-set size; default 1<<20 (the "1M addresses")
	// Rounds of interleaved lookup timing (every contender once per
	// round, see rounds.go); each figure is the median over the rounds.
	// Default 7; fewer than MinRounds is raised to it.
	Rounds  int
	Updates int    // single-route updates timed for update_p99_us; default 20000
	Small   int    // table size of the *_at_10k figures; default 10000
	Batch   int    // routes per batch when loading; default 4096
	Seed    uint64 // default 1
	// Logf, when set, receives progress lines.
	Logf func(format string, args ...any)
}

func (c *Config) defaults() {
	if c.Probes == 0 {
		c.Probes = 1 << 20
	}
	if c.Rounds == 0 {
		c.Rounds = 7
	}
	c.Rounds = max(c.Rounds, MinRounds)
	if c.Updates == 0 {
		c.Updates = 20000
	}
	if c.Small == 0 {
		c.Small = 10000
	}
	if c.Batch == 0 {
		c.Batch = 4096
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Result is the JSON object `fibbench fib` prints. Times are ns per lookup,
// rates per second, sizes in bytes.
//
// Lookups are timed in Rounds interleaved rounds (rounds.go): fibd and
// bart, full table and 10k sample, on the same probes in every round. A
// time is the median over the rounds; a ratio is the median of the
// per-round ratios, and ratio_*_min / ratio_*_max are the smallest and the
// largest per-round ratio.
type Result struct {
	RoutesV4 int `json:"routes_v4"`
	RoutesV6 int `json:"routes_v6"`

	// lookup_v*_ns is FIB.Lookup, one call per address: what the
	// dataplane's slow paths (the host stack's packets, ICMP it makes,
	// uRPF) call. lookup_v*_batch_ns is FIB.LookupBatch over 64
	// addresses at a time, which interleaves their cache misses: the
	// lookup stage of every received batch (dataplane/worker.go, batch).
	// lookup_v*_dep_ns is a chain where each address depends on the
	// previous answer: latency.
	LookupV4Ns      float64 `json:"lookup_v4_ns"`
	LookupV4BatchNs float64 `json:"lookup_v4_batch_ns"`
	LookupV4DepNs   float64 `json:"lookup_v4_dep_ns"`
	LookupV6Ns      float64 `json:"lookup_v6_ns"`
	LookupV6BatchNs float64 `json:"lookup_v6_batch_ns"`
	LookupV6DepNs   float64 `json:"lookup_v6_dep_ns"`

	RefLookupV4Ns float64 `json:"ref_lookup_v4_ns"`
	// LimitLookupV4Ns is DIR-24-8's lookup on the full IPv4 table (at
	// most two memory accesses: the practical limit, dir248.go).
	LimitLookupV4Ns  float64 `json:"limit_lookup_v4_ns"`
	RefLookupV4DepNs float64 `json:"ref_lookup_v4_dep_ns"`
	RefLookupV6Ns    float64 `json:"ref_lookup_v6_ns"`
	RefLookupV6DepNs float64 `json:"ref_lookup_v6_dep_ns"`

	LookupV4NsAt10k      float64 `json:"lookup_v4_ns_at_10k"`
	LookupV4BatchNsAt10k float64 `json:"lookup_v4_batch_ns_at_10k"`
	RefLookupV4NsAt10k   float64 `json:"ref_lookup_v4_ns_at_10k"`

	InsertV4PerS         float64 `json:"insert_v4_routes_per_s"`
	InsertV4ShuffledPerS float64 `json:"insert_v4_shuffled_routes_per_s"`
	DeleteV4PerS         float64 `json:"delete_v4_routes_per_s"`
	InsertV6PerS         float64 `json:"insert_v6_routes_per_s"`
	RefInsertV4PerS      float64 `json:"ref_insert_v4_routes_per_s"`
	// The authoritative store alone — kentik/patricia's uint32 tree, tags
	// added as fib adds them — in the same run: the ceiling for fib's
	// insert rates, whose every route also goes through it.
	KentikInsertV4PerS         float64 `json:"kentik_insert_v4_routes_per_s"`
	KentikInsertV4ShuffledPerS float64 `json:"kentik_insert_v4_shuffled_routes_per_s"`

	UpdateP99UsAt10k float64 `json:"update_p99_us_at_10k"`
	UpdateP99Us      float64 `json:"update_p99_us"`
	UpdateP50Us      float64 `json:"update_p50_us"`

	BytesPerRouteV4    float64 `json:"bytes_per_route_v4"`
	BytesPerRouteV6    float64 `json:"bytes_per_route_v6"`
	RefBytesPerRouteV4 float64 `json:"ref_bytes_per_route_v4"`
	BytesPerEmptyFIB   float64 `json:"bytes_per_empty_fib"`

	// Ratios against bart (ref_*), each the median of the per-round ratios
	// with its spread. The targets compare ratio_lookup_v*_batch_vs_ref:
	// the lookup the dataplane makes.
	RatioLookupV4         float64 `json:"ratio_lookup_v4_vs_ref"`
	RatioLookupV4Min      float64 `json:"ratio_lookup_v4_vs_ref_min"`
	RatioLookupV4Max      float64 `json:"ratio_lookup_v4_vs_ref_max"`
	RatioLookupV4Batch    float64 `json:"ratio_lookup_v4_batch_vs_ref"`
	RatioLookupV4BatchMin float64 `json:"ratio_lookup_v4_batch_vs_ref_min"`
	RatioLookupV4BatchMax float64 `json:"ratio_lookup_v4_batch_vs_ref_max"`
	// ratio_lookup_v4_vs_limit: fibd's single lookup over DIR-24-8's;
	// ..._batch_...: the batched one.
	RatioLookupV4Limit         float64 `json:"ratio_lookup_v4_vs_limit"`
	RatioLookupV4LimitMin      float64 `json:"ratio_lookup_v4_vs_limit_min"`
	RatioLookupV4LimitMax      float64 `json:"ratio_lookup_v4_vs_limit_max"`
	RatioLookupV4BatchLimit    float64 `json:"ratio_lookup_v4_batch_vs_limit"`
	RatioLookupV4BatchLimitMin float64 `json:"ratio_lookup_v4_batch_vs_limit_min"`
	RatioLookupV4BatchLimitMax float64 `json:"ratio_lookup_v4_batch_vs_limit_max"`
	RatioLookupV4Dep           float64 `json:"ratio_lookup_v4_dep_vs_ref"`
	RatioLookupV4DepMin        float64 `json:"ratio_lookup_v4_dep_vs_ref_min"`
	RatioLookupV4DepMax        float64 `json:"ratio_lookup_v4_dep_vs_ref_max"`
	RatioLookupV6              float64 `json:"ratio_lookup_v6_vs_ref"`
	RatioLookupV6Min           float64 `json:"ratio_lookup_v6_vs_ref_min"`
	RatioLookupV6Max           float64 `json:"ratio_lookup_v6_vs_ref_max"`
	RatioLookupV6Batch         float64 `json:"ratio_lookup_v6_batch_vs_ref"`
	RatioLookupV6BatchMin      float64 `json:"ratio_lookup_v6_batch_vs_ref_min"`
	RatioLookupV6BatchMax      float64 `json:"ratio_lookup_v6_batch_vs_ref_max"`
	RatioLookupV6Dep           float64 `json:"ratio_lookup_v6_dep_vs_ref"`
	RatioLookupV6DepMin        float64 `json:"ratio_lookup_v6_dep_vs_ref_min"`
	RatioLookupV6DepMax        float64 `json:"ratio_lookup_v6_dep_vs_ref_max"`
	// scale_*: lookup_v4_ns over lookup_v4_ns_at_10k (growth from 10k routes
	// to the full table), per round, for fibd and for bart.
	ScaleLookupV4       float64 `json:"scale_lookup_v4_full_over_10k"`
	ScaleLookupV4Min    float64 `json:"scale_lookup_v4_full_over_10k_min"`
	ScaleLookupV4Max    float64 `json:"scale_lookup_v4_full_over_10k_max"`
	RefScaleLookupV4    float64 `json:"ref_scale_lookup_v4_full_over_10k"`
	RefScaleLookupV4Min float64 `json:"ref_scale_lookup_v4_full_over_10k_min"`
	RefScaleLookupV4Max float64 `json:"ref_scale_lookup_v4_full_over_10k_max"`

	Rounds          int `json:"rounds"`
	BatchRoutes     int `json:"batch_routes"`
	ProbeAddresses  int `json:"probe_addresses"`
	GoMaxProcs      int `json:"gomaxprocs"`
	TrieMaxLevelsV4 int `json:"trie_max_levels_v4"`
	TrieMaxLevelsV6 int `json:"trie_max_levels_v6"`
}

// Run measures everything on the shipped tables.
func Run(cfg Config) (Result, error) {
	cfg.defaults()
	v4, err := tables.LoadV4()
	if err != nil {
		return Result{}, err
	}
	v6, err := tables.LoadV6()
	if err != nil {
		return Result{}, err
	}
	res := Result{RoutesV4: len(v4), RoutesV6: len(v6), BatchRoutes: cfg.Batch, ProbeAddresses: cfg.Probes,
		GoMaxProcs: runtime.GOMAXPROCS(0), TrieMaxLevelsV4: 4, TrieMaxLevelsV6: 16}

	// Memory first, on a quiet heap.
	cfg.Logf("memory: v4 table into fibd")
	res.BytesPerRouteV4 = heapPer(len(v4), func() any { _, f := NewFIB(); must(Apply(f, Changes(v4, fib.OpAdd), cfg.Batch)); return f })
	cfg.Logf("memory: v6 table into fibd")
	res.BytesPerRouteV6 = heapPer(len(v6), func() any { _, f := NewFIB(); must(Apply(f, Changes(v6, fib.OpAdd), cfg.Batch)); return f })
	cfg.Logf("memory: v4 table into bart")
	res.RefBytesPerRouteV4 = heapPer(len(v4), func() any { return bartOf(v4) })
	res.BytesPerEmptyFIB = heapPer(1000, func() any {
		reg := fib.NewRegistry(fib.Options{})
		for i := 1; i <= 1000; i++ {
			if _, err := reg.Create(adj.FIBID(i)); err != nil {
				panic(err)
			}
		}
		return reg
	})

	// Insert and delete rates.
	cfg.Logf("insert: v4 file order")
	_, f4 := NewFIB()
	ch := Changes(v4, fib.OpAdd)
	res.InsertV4PerS = rate(len(v4), func() { must(Apply(f4, ch, cfg.Batch)) })
	cfg.Logf("insert: v4 shuffled")
	{
		_, fs := NewFIB()
		sh := Changes(tables.Shuffled(v4, cfg.Seed), fib.OpAdd)
		res.InsertV4ShuffledPerS = rate(len(v4), func() { must(Apply(fs, sh, cfg.Batch)) })
	}
	cfg.Logf("insert: v6 file order")
	_, f6 := NewFIB()
	res.InsertV6PerS = rate(len(v6), func() { must(Apply(f6, Changes(v6, fib.OpAdd), cfg.Batch)) })
	cfg.Logf("insert: v4 into kentik/patricia alone")
	res.KentikInsertV4PerS = rate(len(v4), func() { kentikOf(v4) })
	shuffled := tables.Shuffled(v4, cfg.Seed)
	res.KentikInsertV4ShuffledPerS = rate(len(v4), func() { kentikOf(shuffled) })
	cfg.Logf("insert: v4 into bart")
	res.RefInsertV4PerS = rate(len(v4), func() { bartOf(v4) })

	// Lookups, interleaved: both families' full tables, and a 10k-route
	// sample of the v4 one, fibd and bart in every round.
	cfg.Logf("lookup: %d interleaved rounds", cfg.Rounds)
	small := sample(v4, cfg.Small, cfg.Seed)
	_, fsmall := NewFIB()
	must(Apply(fsmall, Changes(small, fib.OpAdd), cfg.Batch))
	lookups(&res, cfg, lookupSet{v4, f4, bartOf(v4), newDIR248(v4)}, lookupSet{v6, f6, bartOf(v6), nil}, lookupSet{small, fsmall, bartOf(small), nil})

	// Single-route update latency with a reader running.
	cfg.Logf("updates: at %d routes", cfg.Small)
	res.UpdateP99UsAt10k, _ = updateLatency(fsmall, small, tables.Probes(small, 1<<16, cfg.Seed), cfg.Updates, cfg.Seed)
	cfg.Logf("updates: full table")
	res.UpdateP99Us, res.UpdateP50Us = updateLatency(f4, v4, tables.Probes(v4, 1<<16, cfg.Seed), cfg.Updates, cfg.Seed)

	cfg.Logf("delete: v4 file order")
	del := Changes(v4, fib.OpDelete)
	res.DeleteV4PerS = rate(len(v4), func() { must(Apply(f4, del, cfg.Batch)) })

	res.Rounds = cfg.Rounds
	return res, nil
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// heapPer builds something and returns the live heap it holds, divided by n.
func heapPer(n int, build func() any) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := build()
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(x)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

func rate(n int, fn func()) float64 {
	start := time.Now()
	fn()
	return float64(n) / time.Since(start).Seconds()
}

func bartOf(routes []tables.Route) *bart.Table[uint32] {
	t := new(bart.Table[uint32])
	for _, r := range routes {
		t.Insert(r.Prefix, uint32(1+r.NextHop))
	}
	return t
}

func sample(routes []tables.Route, n int, seed uint64) []tables.Route {
	s := tables.Shuffled(routes, seed)[:min(n, len(routes))]
	slices.SortFunc(s, func(a, b tables.Route) int { return a.Prefix.Compare(b.Prefix) })
	return s
}

// sink defeats dead-code elimination of the lookup loops.
var sink atomic.Uint64

// fibIndependent times lookups whose addresses do not depend on each other,
// so the CPU overlaps their cache misses: throughput.
func fibIndependent(f *fib.FIB, probes []netip.Addr) float64 {
	var sum uint64
	start := time.Now()
	for _, a := range probes {
		sum += uint64(f.Lookup(a).Adj)
	}
	d := time.Since(start)
	sink.Add(sum)
	return float64(d.Nanoseconds()) / float64(len(probes))
}

// fibBatched times independent lookups made the way the dataplane makes
// them: LookupBatch over 64 addresses at a time.
func fibBatched(f *fib.FIB, probes []netip.Addr) float64 {
	out := make([]*fib.Next, 64)
	var sum uint64
	start := time.Now()
	for i := 0; i < len(probes); i += 64 {
		f.LookupBatch(probes[i:min(i+64, len(probes))], out)
		for _, n := range out {
			sum += uint64(n.Adj)
		}
	}
	d := time.Since(start)
	sink.Add(sum)
	return float64(d.Nanoseconds()) / float64(len(probes))
}

// fibDependent times a chain where each probe index depends on the previous
// result: nothing overlaps, so this is pure latency.
func fibDependent(f *fib.FIB, probes []netip.Addr) float64 {
	mask := len(probes) - 1 // a power of two
	i := 0
	start := time.Now()
	for range probes {
		x := int(f.Lookup(probes[i]).Adj)
		i = (i + 1 + x&1) & mask
	}
	d := time.Since(start)
	sink.Add(uint64(i))
	return float64(d.Nanoseconds()) / float64(len(probes))
}

func bartIndependent(t *bart.Table[uint32], probes []netip.Addr) float64 {
	var sum uint64
	start := time.Now()
	for _, a := range probes {
		v, _ := t.Lookup(a)
		sum += uint64(v)
	}
	d := time.Since(start)
	sink.Add(sum)
	return float64(d.Nanoseconds()) / float64(len(probes))
}

func bartDependent(t *bart.Table[uint32], probes []netip.Addr) float64 {
	mask := len(probes) - 1
	i := 0
	start := time.Now()
	for range probes {
		v, _ := t.Lookup(probes[i])
		i = (i + 1 + int(v)&1) & mask
	}
	d := time.Since(start)
	sink.Add(uint64(i))
	return float64(d.Nanoseconds()) / float64(len(probes))
}

// updateLatency deletes and re-adds random routes one at a time (each its
// own batch and publish) while a reader goroutine keeps looking up, and
// returns the p99 and p50 latency in µs.
func updateLatency(f *fib.FIB, routes []tables.Route, probes []netip.Addr, n int, seed uint64) (p99, p50 float64) {
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			fibIndependent(f, probes)
		}
	}()
	r := rand.New(rand.NewPCG(seed, 7))
	hops := [2][][]fib.Path{Hops(false), Hops(true)}
	lat := make([]time.Duration, 0, n)
	one := make([]fib.Change, 1)
	for i := 0; i < n/2; i++ {
		rt := routes[r.IntN(len(routes))]
		v6 := 0
		if rt.Prefix.Addr().Is6() {
			v6 = 1
		}
		for _, op := range []fib.Op{fib.OpDelete, fib.OpAdd} {
			one[0] = fib.Change{Op: op, Route: fib.Route{Prefix: rt.Prefix, Source: Source, Preference: fib.PrefEBGP, Paths: hops[v6][rt.NextHop]}}
			start := time.Now()
			if _, err := f.Apply(one); err != nil {
				panic(fmt.Sprintf("update %v %v: %v", op, rt.Prefix, err))
			}
			lat = append(lat, time.Since(start))
		}
	}
	stop.Store(true)
	<-done
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	us := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds()) / 1e3 }
	return us(0.99), us(0.50)
}

// kentikOf adds every route to a kentik/patricia uint32 tree the way fib
// does: AddOrUpdate with a match function (one tag per source).
func kentikOf(routes []tables.Route) *uint32_tree.TreeV4 {
	t := uint32_tree.NewTreeV4()
	match := func(a, b uint32) bool { return a == b }
	update := func(a uint32) uint32 { return a }
	for i, r := range routes {
		a := r.Prefix.Addr().As4()
		t.AddOrUpdate(patricia.NewIPv4Address(binary.BigEndian.Uint32(a[:]), uint(r.Prefix.Bits())), uint32(i+1), match, update)
	}
	return t
}
