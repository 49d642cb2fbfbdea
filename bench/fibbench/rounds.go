package fibbench

import "slices"

// Figures measured against a reference are taken in interleaved rounds:
// each round times every contender back to back on the same probes, in
// the same process, alternating which goes first, so a change in machine
// speed during the run (another tenant, frequency, the GC) moves both
// sides of a ratio together. A ratio is the median of the per-round
// ratios, reported with its spread (the smallest and largest per-round
// ratio), so a reader sees how much one run can be trusted.
//
// Within a round the probes are cut into chunks and the contenders take
// turns chunk by chunk (interleaveChunks): on a shared VM a memory-bound
// loop's speed moves by 2× within a second, and whole-pass turns of a
// few hundred milliseconds each left per-round ratios anywhere in
// 0.3–0.65 for one pair of structures; turns of a few milliseconds
// expose both to the same slow and fast moments.

// MinRounds is the fewest rounds a ratio is taken over.
const MinRounds = 5

// Ratio is a ratio measured in interleaved rounds.
type Ratio struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// chunk is the probes per turn of interleaveChunks: a power of two (the
// dependent-chain timers index with a mask) large enough that a turn's
// cold start is noise, small enough that a turn takes milliseconds.
const chunk = 1 << 14

// interleaveChunks runs rounds rounds of every timer and returns, per
// timer, its value in each round. Within a round the timers take turns of
// chunk probes: in each round
// the timers take turns over probes[0:chunk], then probes[chunk:2*chunk],
// …, in alternating order, and a timer's value for the round is its
// ns per probe over the whole set. A timer times the slice it is given and
// returns ns per probe.
func interleaveChunks[P any](rounds int, probes []P, timers ...func([]P) float64) [][]float64 {
	out := make([][]float64, len(timers))
	for i := range out {
		out[i] = make([]float64, rounds)
	}
	turn := 0
	for r := 0; r < rounds; r++ {
		for lo := 0; lo < len(probes); lo += chunk {
			part := probes[lo:min(lo+chunk, len(probes))]
			for k := range timers {
				i := k
				if turn%2 == 1 {
					i = len(timers) - 1 - k
				}
				out[i][r] += timers[i](part) * float64(len(part))
			}
			turn++
		}
		for i := range out {
			out[i][r] /= float64(len(probes))
		}
	}
	return out
}

// medianOf returns the median of v (the upper one of an even count).
func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// ratioOf is the median and spread of num[r]/den[r] over the rounds r.
func ratioOf(num, den []float64) Ratio {
	q := make([]float64, len(num))
	for i := range num {
		q[i] = num[i] / den[i]
	}
	return Ratio{Median: medianOf(q), Min: slices.Min(q), Max: slices.Max(q)}
}
