package fibbench

import (
	"slices"
	"testing"
)

// TestInterleaveChunksAlternatesOrder: the timers take turns chunk by
// chunk, in reverse on every other turn, so no contender is always first,
// and a round's value is the ns per probe over the whole set.
func TestInterleaveChunksAlternatesOrder(t *testing.T) {
	probes := make([]int, 2*chunk+chunk/2) // three turns per round
	var order []int
	mk := func(i int) func([]int) float64 {
		return func(p []int) float64 { order = append(order, i); return float64(10*i + len(p)/(chunk/2)) }
	}
	got := interleaveChunks(2, probes, mk(0), mk(1))
	if want := []int{0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	// Timer 1 returns 12 ns/probe on full chunks and 11 on the half one.
	want1 := (12.0*chunk + 12*chunk + 11*chunk/2) / float64(len(probes))
	if len(got) != 2 || got[1][0] != want1 || got[1][1] != want1 {
		t.Errorf("values %v, want timer 1 at %v", got, want1)
	}
}

// TestRatioOfIsPerRound: the ratio is the median of per-round ratios, not
// the ratio of medians, and the spread is their range.
func TestRatioOfIsPerRound(t *testing.T) {
	// Machine speed doubles in round 2: per-round ratios stay 0.5.
	r := ratioOf([]float64{10, 20, 10, 5, 10}, []float64{20, 40, 20, 10, 20})
	if r != (Ratio{0.5, 0.5, 0.5}) {
		t.Errorf("steady ratio %+v", r)
	}
	r = ratioOf([]float64{1, 2, 3, 4, 5}, []float64{10, 10, 10, 10, 10})
	if r != (Ratio{0.3, 0.1, 0.5}) {
		t.Errorf("ratio %+v", r)
	}
}
