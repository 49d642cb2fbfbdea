package fibbench

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/gaissmai/bart"

	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/fib"
)

// SweepSizes are the IPv4 table sizes of the sweep; 0 stands for the whole
// shipped table. The smaller ones are seeded random samples of it.
var SweepSizes = []int{1000, 4000, 16000, 64000, 256000, 0}

// SweepPoint is one table size's figures. Lookups are measured exactly as
// Result's lookup_v4_ns (single, as the dataplane looks up),
// lookup_v4_batch_ns and ref_lookup_v4_ns are, in interleaved rounds, with
// the ratio to bart and its spread; updates as update_p50_us /
// update_p99_us (one route deleted or re-added per Apply, a reader
// running).
type SweepPoint struct {
	Routes        int     `json:"routes"`
	LookupNs      float64 `json:"lookup_v4_ns"`
	LookupBatchNs float64 `json:"lookup_v4_batch_ns"`
	RefLookupNs   float64 `json:"ref_lookup_v4_ns"`
	Ratio         float64 `json:"ratio_lookup_v4_vs_ref"`
	RatioMin      float64 `json:"ratio_lookup_v4_vs_ref_min"`
	RatioMax      float64 `json:"ratio_lookup_v4_vs_ref_max"`
	UpdateP50Us   float64 `json:"update_p50_us"`
	UpdateP99Us   float64 `json:"update_p99_us"`
	// RefUpdate* time bart's DeletePersist and InsertPersist of one route:
	// the copy-on-write update that lets readers go on without a lock, so
	// the nearest equivalent of fibd's published single update (without
	// a reader running: bart's persistent updates never touch what a
	// reader sees).
	RefUpdateP50Us float64 `json:"ref_update_p50_us"`
	RefUpdateP99Us float64 `json:"ref_update_p99_us"`
}

// SweepResult is lookup and update cost against table size.
type SweepResult struct {
	Points         []SweepPoint `json:"points"`
	ProbeAddresses int          `json:"probe_addresses"`
	Rounds         int          `json:"rounds"`
	Updates        int          `json:"updates_per_size"`
}

// Sweep measures fibd and bart on IPv4 tables of each size in sizes (nil:
// SweepSizes), in one run so the two are measured under the same
// conditions. cfg's Probes, Rounds, Updates, Batch and Seed apply as in
// Run.
func Sweep(cfg Config, sizes []int) (SweepResult, error) {
	cfg.defaults()
	cfg.Updates = max(cfg.Updates, 2) // a delete and an add
	if sizes == nil {
		sizes = SweepSizes
	}
	v4, err := tables.LoadV4()
	if err != nil {
		return SweepResult{}, err
	}
	res := SweepResult{ProbeAddresses: cfg.Probes, Rounds: cfg.Rounds, Updates: cfg.Updates}
	for _, n := range sizes {
		routes := v4
		if n > 0 && n < len(v4) {
			routes = sample(v4, n, cfg.Seed)
		}
		cfg.Logf("sweep: %d routes", len(routes))
		_, f := NewFIB()
		if err := Apply(f, Changes(routes, fib.OpAdd), cfg.Batch); err != nil {
			return res, err
		}
		b := bartOf(routes)
		probes := tables.Probes(routes, cfg.Probes, cfg.Seed)
		pt := SweepPoint{Routes: len(routes)}
		t := interleaveChunks(cfg.Rounds, probes,
			func(p []netip.Addr) float64 { return fibIndependent(f, p) },
			func(p []netip.Addr) float64 { return bartIndependent(b, p) },
			func(p []netip.Addr) float64 { return fibBatched(f, p) })
		pt.LookupNs, pt.RefLookupNs, pt.LookupBatchNs = medianOf(t[0]), medianOf(t[1]), medianOf(t[2])
		r := ratioOf(t[0], t[1])
		pt.Ratio, pt.RatioMin, pt.RatioMax = r.Median, r.Min, r.Max
		probes = nil // the update reader uses its own, smaller set
		pt.UpdateP99Us, pt.UpdateP50Us = updateLatency(f, routes, tables.Probes(routes, 1<<16, cfg.Seed), cfg.Updates, cfg.Seed)
		pt.RefUpdateP99Us, pt.RefUpdateP50Us = bartUpdateLatency(b, routes, cfg.Updates, cfg.Seed)
		res.Points = append(res.Points, pt)
	}
	return res, nil
}

// bartUpdateLatency deletes and re-adds random routes one at a time with
// bart's persistent (copy-on-write) updates and returns the p99 and p50
// latency in µs, like updateLatency.
func bartUpdateLatency(t *bart.Table[uint32], routes []tables.Route, n int, seed uint64) (p99, p50 float64) {
	r := rand.New(rand.NewPCG(seed, 7))
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n/2; i++ {
		rt := routes[r.IntN(len(routes))]
		start := time.Now()
		t = t.DeletePersist(rt.Prefix)
		lat = append(lat, time.Since(start))
		start = time.Now()
		t = t.InsertPersist(rt.Prefix, uint32(1+rt.NextHop))
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	us := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds()) / 1e3 }
	return us(0.99), us(0.50)
}
