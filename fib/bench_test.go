package fib_test

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/gaissmai/bart"

	"github.com/fibd/fibd/bench/fibbench"
	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/fib"
)

// Benchmarks on the real tables (bart zz-bench_test.go style): Match probes
// fall inside table prefixes, Miss probes inside no prefix. Each fibd figure
// has its bart.Table twin in the same run ("Ref").

type benchTables struct {
	f4, f6 *fib.FIB
	b4, b6 *bart.Table[uint32]
	v4, v6 []tables.Route
	match4 []netip.Addr
	miss4  []netip.Addr
	match6 []netip.Addr
	miss6  []netip.Addr
}

var (
	benchOnce sync.Once
	bt        benchTables
)

func loadBench(b *testing.B) *benchTables {
	benchOnce.Do(func() {
		v4, err := tables.LoadV4()
		if err != nil {
			panic(err)
		}
		v6, err := tables.LoadV6()
		if err != nil {
			panic(err)
		}
		bt.v4, bt.v6 = v4, v6
		_, bt.f4 = fibbench.NewFIB()
		_, bt.f6 = fibbench.NewFIB()
		if err := fibbench.Apply(bt.f4, fibbench.Changes(v4, fib.OpAdd), 1<<20); err != nil {
			panic(err)
		}
		if err := fibbench.Apply(bt.f6, fibbench.Changes(v6, fib.OpAdd), 1<<20); err != nil {
			panic(err)
		}
		bt.b4, bt.b6 = new(bart.Table[uint32]), new(bart.Table[uint32])
		for _, r := range v4 {
			bt.b4.Insert(r.Prefix, uint32(r.NextHop))
		}
		for _, r := range v6 {
			bt.b6.Insert(r.Prefix, uint32(r.NextHop))
		}
		split := func(f *fib.FIB, probes []netip.Addr) (match, miss []netip.Addr) {
			for _, a := range probes {
				if f.Lookup(a).Kind == fib.NextMiss {
					miss = append(miss, a)
				} else {
					match = append(match, a)
				}
			}
			return match, miss
		}
		bt.match4, bt.miss4 = split(bt.f4, tables.Probes(v4, 1<<20, 1))
		bt.match6, bt.miss6 = split(bt.f6, tables.Probes(v6, 1<<20, 1))
	})
	if len(bt.miss4) == 0 || len(bt.match4) == 0 || len(bt.miss6) == 0 || len(bt.match6) == 0 {
		b.Fatal("probe set lacks matches or misses")
	}
	return &bt
}

var benchSink uint64

func benchFIB(b *testing.B, f *fib.FIB, probes []netip.Addr) {
	var sum uint64
	i := 0
	for b.Loop() {
		sum += uint64(f.Lookup(probes[i]).Adj)
		if i++; i == len(probes) {
			i = 0
		}
	}
	benchSink += sum
}

func benchBart(b *testing.B, t *bart.Table[uint32], probes []netip.Addr) {
	var sum uint64
	i := 0
	for b.Loop() {
		v, _ := t.Lookup(probes[i])
		sum += uint64(v)
		if i++; i == len(probes) {
			i = 0
		}
	}
	benchSink += sum
}

func BenchmarkMatch4(b *testing.B)    { t := loadBench(b); benchFIB(b, t.f4, t.match4) }
func BenchmarkMiss4(b *testing.B)     { t := loadBench(b); benchFIB(b, t.f4, t.miss4) }
func BenchmarkMatch6(b *testing.B)    { t := loadBench(b); benchFIB(b, t.f6, t.match6) }
func BenchmarkMiss6(b *testing.B)     { t := loadBench(b); benchFIB(b, t.f6, t.miss6) }
func BenchmarkRefMatch4(b *testing.B) { t := loadBench(b); benchBart(b, t.b4, t.match4) }
func BenchmarkRefMiss4(b *testing.B)  { t := loadBench(b); benchBart(b, t.b4, t.miss4) }
func BenchmarkRefMatch6(b *testing.B) { t := loadBench(b); benchBart(b, t.b6, t.match6) }
func BenchmarkRefMiss6(b *testing.B)  { t := loadBench(b); benchBart(b, t.b6, t.miss6) }

// BenchmarkInsert4 loads the full IPv4 table into an empty FIB per
// iteration, in file order and shuffled, in batches of 4096 routes.
func BenchmarkInsert4(b *testing.B) {
	t := loadBench(b)
	for _, c := range []struct {
		name   string
		routes []tables.Route
	}{{"FileOrder", t.v4}, {"Shuffled", tables.Shuffled(t.v4, 1)}} {
		ch := fibbench.Changes(c.routes, fib.OpAdd)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				_, f := fibbench.NewFIB()
				if err := fibbench.Apply(f, ch, 4096); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(ch))*float64(b.N)/b.Elapsed().Seconds(), "routes/s")
		})
	}
}

// BenchmarkUpdate4 times single-route delete + re-add pairs on the full
// table, each its own batch and publish.
func BenchmarkUpdate4(b *testing.B) {
	t := loadBench(b)
	hops := fibbench.Hops(false)
	i := 0
	one := make([]fib.Change, 1)
	for b.Loop() {
		r := t.v4[(i*7919)%len(t.v4)]
		i++
		for _, op := range []fib.Op{fib.OpDelete, fib.OpAdd} {
			one[0] = fib.Change{Op: op, Route: fib.Route{Prefix: r.Prefix, Source: fibbench.Source, Preference: fib.PrefEBGP, Paths: hops[r.NextHop]}}
			if _, err := t.f4.Apply(one); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchFIBBatch(b *testing.B, f *fib.FIB, probes []netip.Addr) {
	out := make([]*fib.Next, 64)
	var sum uint64
	i := 0
	for b.Loop() {
		if i+64 > len(probes) {
			i = 0
		}
		f.LookupBatch(probes[i:i+64], out)
		for _, n := range out {
			sum += uint64(n.Adj)
		}
		i += 64
	}
	benchSink += sum
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/lookup")
}

func BenchmarkBatchMatch4(b *testing.B) { t := loadBench(b); benchFIBBatch(b, t.f4, t.match4) }
func BenchmarkBatchMatch6(b *testing.B) { t := loadBench(b); benchFIBBatch(b, t.f6, t.match6) }
