package rounds

import "testing"

func TestMedianAndRatio(t *testing.T) {
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Fatalf("median %v", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 3 {
		t.Fatalf("even median %v, want the upper middle", m)
	}
	if Median(nil) != 0 {
		t.Fatal("empty median")
	}
	med, lo, hi := Ratio([]float64{2, 6, 3, 9}, []float64{1, 3, 0, 3})
	if med != 2 || lo != 2 || hi != 3 {
		t.Fatalf("ratio %v %v %v (a zero baseline is left out)", med, lo, hi)
	}
	if a, b, c := Ratio([]float64{1}, []float64{0}); a != 0 || b != 0 || c != 0 {
		t.Fatal("no usable round")
	}
}
