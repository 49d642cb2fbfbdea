// Package rounds summarises the interleaved rounds of a benchmark the way
// every fibbench harness reports them: the median of the rounds, and the
// median, smallest and largest of the per-round ratios against a baseline
// measured in the same round.
package rounds

import "slices"

// Median is the middle value of v (the upper one of an even count); 0 for
// none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// Ratio is the median, smallest and largest of num[i]/den[i] over the
// rounds whose baseline den[i] is positive; zeros when there is none.
func Ratio(num, den []float64) (med, lo, hi float64) {
	q := make([]float64, 0, len(num))
	for i := range min(len(num), len(den)) {
		if den[i] > 0 {
			q = append(q, num[i]/den[i])
		}
	}
	if len(q) == 0 {
		return 0, 0, 0
	}
	return Median(q), slices.Min(q), slices.Max(q)
}
