package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fibd/fibd/bench/installbench"
)

func TestEvaluateMetNotMetNotMeasured(t *testing.T) {
	sections := map[string]json.RawMessage{
		// ratio 0.25 ≤ 0.3: met (its spread is carried); dep 0.75 > 0.65: not met.
		SectionFib: json.RawMessage(`{"ratio_lookup_v4_batch_vs_ref": 0.25, "ratio_lookup_v4_batch_vs_ref_min": 0.2, "ratio_lookup_v4_batch_vs_ref_max": 0.31,
			"ratio_lookup_v4_dep_vs_ref": 0.75,
			"insert_v4_routes_per_s": 1500000, "update_p99_us": 21, "update_p99_us_at_10k": 11}`),
		// ratio met, loss not: the combined target is not met.
		SectionForwardAFPacket: json.RawMessage(`{"ratio_vs_kernel": 1.2, "loss_pct": 0.5}`),
	}
	got := map[string]Target{}
	for _, tg := range evaluate(sections) {
		got[tg.Section+": "+tg.Target] = tg
	}
	for key, want := range map[string]string{
		"fib: ratio_lookup_v4_batch_vs_ref ≤ 0.3":                     "met",
		"fib: ratio_lookup_v4_dep_vs_ref ≤ 0.65":                      "not met",
		"fib: insert_v4_routes_per_s ≥ 1,500,000":                     "met", // the limit itself meets ≥
		"fib: update_p99_us ≤ 20":                                     "not met",
		"fib: update_p99_us ≤ 2 × update_p99_us_at_10k":               "met",
		"fib: bytes_per_route_v4 ≤ 250":                               "not measured",
		"install: routes_per_s ≥ 500,000":                             "not measured",
		"forward afpacket: ratio_vs_kernel ≥ 1.1 with loss_pct ≤ 0.1": "not met",
		"forward xdp: ratio_vs_afpacket ≥ 1.15":                       "not measured",
	} {
		tg, ok := got[key]
		if !ok {
			t.Errorf("no target %q", key)
			continue
		}
		if tg.Status() != want {
			t.Errorf("%s: %s, want %s (%+v)", key, tg.Status(), want, tg.Checks)
		}
	}
	if sp := got["fib: ratio_lookup_v4_batch_vs_ref ≤ 0.3"].Checks[0].Spread; sp == nil || *sp != [2]float64{0.2, 0.31} {
		t.Errorf("spread of the v4 ratio: %v", sp)
	}
	if sp := got["fib: ratio_lookup_v4_dep_vs_ref ≤ 0.65"].Checks[0].Spread; sp != nil {
		t.Errorf("a ratio without _min/_max has spread %v", sp)
	}
	fwd := got["forward afpacket: ratio_vs_kernel ≥ 1.1 with loss_pct ≤ 0.1"]
	if len(fwd.Checks) != 2 || !fwd.Checks[0].Met || fwd.Checks[1].Met || fwd.Checks[1].Limit != 0.1 {
		t.Errorf("combined target checks %+v", fwd.Checks)
	}
	if len(got) != len(targets) {
		t.Errorf("%d targets evaluated, want %d", len(got), len(targets))
	}
}

func TestFmtNum(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 0.1: "0.1", 0.3: "0.3", 1.15: "1.15", 12.345: "12.35", 141.94: "141.9",
		1500000: "1,500,000", 845404.4: "845,404", -1234: "-1,234", 615151: "615,151", 0.000123: "0.000123",
	} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestMachineParsers(t *testing.T) {
	cpu := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n"
	if got := cpuModel(cpu); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := cpuModel("processor : 0\nCPU part : 0xd0c\n"); got != "0xd0c" {
		t.Errorf("cpuModel (arm) = %q", got)
	}
	if got := memTotal("MemTotal:       24641512 kB\nMemFree: 1 kB\n"); got != 24641512<<10 {
		t.Errorf("memTotal = %d", got)
	}
}

func TestScalarFieldsKeepOrderAndSkipNested(t *testing.T) {
	v := struct {
		B int      `json:"b"`
		A string   `json:"a"`
		L []int    `json:"l"`
		P *float64 `json:"p,omitempty"`
		C float64  `json:"c"`
	}{B: 1, A: "x", L: []int{1}, C: 2.5}
	fs, err := scalarFields(v)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, f := range fs {
		keys = append(keys, f.key)
	}
	if strings.Join(keys, ",") != "b,a,c" {
		t.Errorf("keys %v", keys)
	}
}

// TestInstallWithoutKernelIsNotMeasured: a run without root has no kernel
// baseline, and its 0 ratio must not read as a missed target.
func TestInstallWithoutKernelIsNotMeasured(t *testing.T) {
	r := &Report{Install: &installbench.Result{Routes: 10, RoutesPerS: 600e3, ShuffledRoutesPerS: 100e3}}
	if err := r.evaluate(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"routes_per_s ≥ 500,000": "met", "ratio_vs_kernel ≥ 3": "not measured", "shuffled_routes_per_s ≥ 300,000": "not met",
		"group_routes_per_s ≥ 500,000": "not measured", "group_shuffled_routes_per_s ≥ 300,000": "not measured",
		"nhg_repoint_us ≤ 1,000": "not measured", "nhg_repoint_us ≤ 2 × nhg_repoint_us_at_10k": "not measured",
	}
	for _, tg := range r.Targets {
		if tg.Section != SectionInstall {
			continue
		}
		if tg.Status() != want[tg.Target] {
			t.Errorf("%s: %s, want %s", tg.Target, tg.Status(), want[tg.Target])
		}
	}
}
