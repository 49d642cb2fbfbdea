package fibbench

import (
	"net/netip"

	"github.com/gaissmai/bart"

	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/fib"
)

// lookupSet is one table loaded into fibd and into bart (and, for the
// full IPv4 table, into the DIR-24-8 limit reference).
type lookupSet struct {
	routes []tables.Route
	f      *fib.FIB
	b      *bart.Table[uint32]
	d      *dir248
}

// lookups times every lookup figure of Result in cfg.Rounds interleaved
// rounds: v4 and v6 full tables and the v4 sample, each fibd's single,
// batched and dependent lookups and bart's independent and dependent ones,
// all on one probe set per table. The indices of t below follow the
// order of the timers: per table fibd single, bart, fibd batched, then
// (full tables) fibd and bart dependent.
func lookups(res *Result, cfg Config, v4, v6, small lookupSet) {
	p4 := tables.Probes(v4.routes, cfg.Probes, cfg.Seed)
	p6 := tables.Probes(v6.routes, cfg.Probes, cfg.Seed)
	ps := tables.Probes(small.routes, cfg.Probes, cfg.Seed)
	// Each table's contenders take turns chunk by chunk (rounds.go); the
	// tables themselves are timed one after another within a round, so
	// one table's data does not push another's out of the caches between
	// turns.
	t := make([][]float64, 0, 13)
	for r := 0; r < cfg.Rounds; r++ {
		one := func(p []netip.Addr, s lookupSet, dep bool) [][]float64 {
			timers := []func([]netip.Addr) float64{
				func(p []netip.Addr) float64 { return fibIndependent(s.f, p) },
				func(p []netip.Addr) float64 { return bartIndependent(s.b, p) },
				func(p []netip.Addr) float64 { return fibBatched(s.f, p) },
			}
			if dep {
				timers = append(timers,
					func(p []netip.Addr) float64 { return fibDependent(s.f, p) },
					func(p []netip.Addr) float64 { return bartDependent(s.b, p) })
			}
			if s.d != nil {
				timers = append(timers, func(p []netip.Addr) float64 { return dir248Independent(s.d, p) })
			}
			return interleaveChunks(1, p, timers...)
		}
		var round [][]float64
		round = append(round, one(p4, v4, true)...)
		round = append(round, one(p6, v6, true)...)
		round = append(round, one(ps, small, false)...)
		if r == 0 {
			for range round {
				t = append(t, make([]float64, cfg.Rounds))
			}
		}
		for i := range round {
			t[i][r] = round[i][0]
		}
	}
	// The v4 full table's timers are 0-5 (the sixth DIR-24-8), v6's 6-10,
	// the sample's 11-13.
	res.LookupV4Ns, res.RefLookupV4Ns, res.LookupV4BatchNs = medianOf(t[0]), medianOf(t[1]), medianOf(t[2])
	res.LookupV4DepNs, res.RefLookupV4DepNs, res.LimitLookupV4Ns = medianOf(t[3]), medianOf(t[4]), medianOf(t[5])
	res.LookupV6Ns, res.RefLookupV6Ns, res.LookupV6BatchNs = medianOf(t[6]), medianOf(t[7]), medianOf(t[8])
	res.LookupV6DepNs, res.RefLookupV6DepNs = medianOf(t[9]), medianOf(t[10])
	res.LookupV4NsAt10k, res.RefLookupV4NsAt10k, res.LookupV4BatchNsAt10k = medianOf(t[11]), medianOf(t[12]), medianOf(t[13])

	set := func(r Ratio, med, lo, hi *float64) { *med, *lo, *hi = r.Median, r.Min, r.Max }
	set(ratioOf(t[0], t[1]), &res.RatioLookupV4, &res.RatioLookupV4Min, &res.RatioLookupV4Max)
	set(ratioOf(t[2], t[1]), &res.RatioLookupV4Batch, &res.RatioLookupV4BatchMin, &res.RatioLookupV4BatchMax)
	set(ratioOf(t[3], t[4]), &res.RatioLookupV4Dep, &res.RatioLookupV4DepMin, &res.RatioLookupV4DepMax)
	set(ratioOf(t[0], t[5]), &res.RatioLookupV4Limit, &res.RatioLookupV4LimitMin, &res.RatioLookupV4LimitMax)
	set(ratioOf(t[2], t[5]), &res.RatioLookupV4BatchLimit, &res.RatioLookupV4BatchLimitMin, &res.RatioLookupV4BatchLimitMax)
	set(ratioOf(t[6], t[7]), &res.RatioLookupV6, &res.RatioLookupV6Min, &res.RatioLookupV6Max)
	set(ratioOf(t[8], t[7]), &res.RatioLookupV6Batch, &res.RatioLookupV6BatchMin, &res.RatioLookupV6BatchMax)
	set(ratioOf(t[9], t[10]), &res.RatioLookupV6Dep, &res.RatioLookupV6DepMin, &res.RatioLookupV6DepMax)
	set(ratioOf(t[0], t[11]), &res.ScaleLookupV4, &res.ScaleLookupV4Min, &res.ScaleLookupV4Max)
	set(ratioOf(t[1], t[12]), &res.RefScaleLookupV4, &res.RefScaleLookupV4Min, &res.RefScaleLookupV4Max)
}
