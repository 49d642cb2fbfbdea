package fibbench

import "testing"

// TestSweepSmall runs the sweep on two small samples: every figure is
// measured and the sizes are the ones asked for.
func TestSweepSmall(t *testing.T) {
	res, err := Sweep(Config{Probes: 1 << 12, Rounds: 1, Updates: 200}, []int{1000, 4000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != 2 || res.Points[0].Routes != 1000 || res.Points[1].Routes != 4000 {
		t.Fatalf("points %+v", res.Points)
	}
	for _, p := range res.Points {
		for name, v := range map[string]float64{"lookup": p.LookupNs, "batch": p.LookupBatchNs, "ratio": p.Ratio, "ref": p.RefLookupNs,
			"p50": p.UpdateP50Us, "p99": p.UpdateP99Us, "ref p50": p.RefUpdateP50Us, "ref p99": p.RefUpdateP99Us} {
			if v <= 0 {
				t.Errorf("%d routes: %s = %v", p.Routes, name, v)
			}
		}
		if p.UpdateP99Us < p.UpdateP50Us || p.RefUpdateP99Us < p.RefUpdateP50Us {
			t.Errorf("%d routes: p99 below p50: %+v", p.Routes, p)
		}
	}
	if res.ProbeAddresses != 1<<12 || res.Rounds != MinRounds || res.Updates != 200 {
		t.Errorf("parameters not recorded: %+v", res)
	}
}
