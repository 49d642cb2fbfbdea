package fib_test

import (
	"testing"

	"github.com/fibd/fibd/bench/fibbench"
	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/fib"
)

func BenchmarkInsertShuffledV4(b *testing.B) {
	v4, err := tables.LoadV4()
	if err != nil {
		b.Fatal(err)
	}
	ch := fibbench.Changes(tables.Shuffled(v4, 1), fib.OpAdd)
	for b.Loop() {
		_, f := fibbench.NewFIB()
		if err := fibbench.Apply(f, ch, 4096); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(v4))*float64(b.N)/b.Elapsed().Seconds(), "routes/s")
}
