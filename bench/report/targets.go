package report

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Sections of a report, as the targets name them.
const (
	SectionFib             = "fib"
	SectionInstall         = "install"
	SectionForwardAFPacket = "forward afpacket"
	SectionForwardXDP      = "forward xdp"
	SectionIsolation       = "isolation"
	SectionHoststack       = "hoststack"
)

// cond is one comparison of a JSON figure with a constant (ref == "") or
// with factor × another figure of the same section, plus add.
type cond struct {
	field  string
	ge     bool // ≥ rather than ≤
	factor float64
	ref    string
	add    float64
}

// leAdd is field ≤ ref + add.
func leAdd(field, ref string, add float64) cond {
	return cond{field: field, factor: 1, ref: ref, add: add}
}

func le(field string, factor float64, ref string) cond {
	return cond{field: field, factor: factor, ref: ref}
}

func ge(field string, factor float64, ref string) cond {
	return cond{field: field, ge: true, factor: factor, ref: ref}
}

func (c cond) String() string {
	op := "≤"
	if c.ge {
		op = "≥"
	}
	factor := strconv.FormatFloat(c.factor, 'f', -1, 64)
	if c.factor >= 1000 {
		factor = fmtNum(c.factor)
	}
	if c.ref == "" {
		return fmt.Sprintf("%s %s %s", c.field, op, factor)
	}
	if c.factor == 1 && c.add != 0 {
		return fmt.Sprintf("%s %s %s + %s", c.field, op, c.ref, strconv.FormatFloat(c.add, 'f', -1, 64))
	}
	if c.factor == 1 {
		return fmt.Sprintf("%s %s %s", c.field, op, c.ref)
	}
	return fmt.Sprintf("%s %s %s × %s", c.field, op, factor, c.ref)
}

// targets are the issues' targets, section by section. A target of several
// conditions is met when all are ("ratio ≥ 1.1 with loss ≤ 0.1 %").
var targets = []struct {
	section string
	conds   []cond
}{
	// The lookup ratios are medians of interleaved per-round ratios
	// (fibbench/rounds.go), of the lookup the dataplane makes: since its
	// batches run in stages (dataplane/worker.go), FIB.LookupBatch over
	// the batch's destinations (lookup_v*_batch_ns).
	{SectionFib, []cond{le("ratio_lookup_v4_batch_vs_ref", 0.3, "")}},
	{SectionFib, []cond{le("ratio_lookup_v4_dep_vs_ref", 0.65, "")}},
	// Against the limit (DIR-24-8, bench/fibbench/dir248.go), same rounds.
	{SectionFib, []cond{le("ratio_lookup_v4_batch_vs_limit", 2, "")}},
	{SectionFib, []cond{le("ratio_lookup_v6_batch_vs_ref", 0.6, "")}},
	// lookup_v4_ns / lookup_v4_ns_at_10k ≤ the same ratio for bart.
	{SectionFib, []cond{le("scale_lookup_v4_full_over_10k", 1, "ref_scale_lookup_v4_full_over_10k")}},
	{SectionFib, []cond{ge("insert_v4_routes_per_s", 1.5e6, "")}},
	{SectionFib, []cond{ge("insert_v4_shuffled_routes_per_s", 500e3, "")}},
	{SectionFib, []cond{le("update_p99_us", 20, "")}},
	{SectionFib, []cond{le("update_p99_us", 2, "update_p99_us_at_10k")}},
	{SectionFib, []cond{le("bytes_per_route_v4", 250, "")}},
	{SectionFib, []cond{le("bytes_per_route_v6", 400, "")}},

	{SectionInstall, []cond{ge("routes_per_s", 500e3, "")}},
	{SectionInstall, []cond{ge("ratio_vs_kernel", 3, "")}},
	{SectionInstall, []cond{ge("shuffled_routes_per_s", 300e3, "")}},
	{SectionInstall, []cond{ge("group_routes_per_s", 500e3, "")}},
	{SectionInstall, []cond{ge("group_shuffled_routes_per_s", 300e3, "")}},
	// A group replace is one store whatever the routes using it: ≤ 1 ms,
	// and no more than twice the figure at 10k routes.
	{SectionInstall, []cond{le("nhg_repoint_us", 1000, "")}},
	{SectionInstall, []cond{le("nhg_repoint_us", 2, "nhg_repoint_us_at_10k")}},

	{SectionForwardAFPacket, []cond{ge("ratio_vs_kernel", 1.1, ""), le("loss_pct", 0.1, "")}},
	{SectionForwardAFPacket, []cond{le("ratio_dataplane_vs_bare_cpu", 1.15, "")}},
	{SectionForwardAFPacket, []cond{le("ratio_full_table_vs_dataplane_cpu", 1.1, "")}},

	{SectionForwardXDP, []cond{ge("ratio_vs_kernel", 1.3, ""), le("loss_pct", 0.1, "")}},
	{SectionForwardXDP, []cond{ge("ratio_vs_afpacket", 1.15, "")}},
	{SectionForwardXDP, []cond{le("ratio_dataplane_vs_bare_cpu", 1.15, "")}},
	{SectionForwardXDP, []cond{le("ratio_full_table_vs_dataplane_cpu", 1.1, "")}},
	// The in-kernel fast path (issue "Forwarding at kernel-bypass cost"),
	// full table in two FIBs, an XDP live-frames generator.
	{SectionForwardXDP, []cond{ge("ratio_fast_path_vs_kernel_pps", 3, ""), le("fast_path_loss_pct", 0.1, "")}},
	{SectionForwardXDP, []cond{le("ratio_fast_path_vs_kernel_cpu", 0.5, "")}},
	{SectionForwardXDP, []cond{le("ratio_fast_path_vs_dataplane_cpu", 0.25, "")}},

	{SectionIsolation, []cond{le("misdelivered_frames", 0, "")}},
	{SectionIsolation, []cond{le("unchanged_prefix_loss_pct", 0.1, "")}},
	{SectionIsolation, []cond{le("scan_live_neighbors_failed", 0, ""), le("scan_victim_loss_pct", 0.1, ""), le("scan_own_loss_pct", 0.1, "")}},
	{SectionIsolation, []cond{le("flood_referenced_evicted", 0, ""), le("flood_victim_loss_pct", 0.1, ""),
		le("flood_table_entries_max", 1, "flood_table_bound")}},
	{SectionIsolation, []cond{ge("icmp_victim_answered_pct", 99, ""), leAdd("icmp_victim_loss_pct", "icmp_baseline_victim_loss_pct", 0.1)}},
	{SectionIsolation, []cond{le("storm_worker_panics", 0, ""), le("storm_unbalanced_ports", 0, ""), le("storm_valid_loss_pct", 1, ""),
		le("storm_api_asked", 1, "storm_api_answered")}},

	// One TCP stream into a server inside a FIB, against the kernel with
	// the offloads fibd turns off (issue "Sockets in a FIB").
	{SectionHoststack, []cond{ge("ratio_vs_kernel", 0.5, "")}},
}

// Check is one condition of a target, evaluated.
type Check struct {
	Field string  `json:"field"`
	Value float64 `json:"value"`
	// Spread is the smallest and largest per-round value of a ratio
	// measured in interleaved rounds (its _min and _max fields).
	Spread *[2]float64 `json:"spread,omitempty"`
	Op     string      `json:"op"` // "<=" or ">="
	Limit  float64     `json:"limit"`
	Met    bool        `json:"met"`
}

// Target is one target of the issues next to what was measured. Measured
// is false when a figure it needs is missing (the section was skipped or
// failed); Met is then false too.
type Target struct {
	Section  string  `json:"section"`
	Target   string  `json:"target"`
	Checks   []Check `json:"checks,omitempty"`
	Measured bool    `json:"measured"`
	Met      bool    `json:"met"`
}

// Status is "met", "not met" or "not measured".
func (t Target) Status() string {
	switch {
	case !t.Measured:
		return "not measured"
	case t.Met:
		return "met"
	}
	return "not met"
}

// evaluate checks every target against the sections' JSON objects (a
// missing section is nil). The figures come from the JSON the report
// writes, so the table cannot disagree with report.json.
func evaluate(sections map[string]json.RawMessage) []Target {
	out := make([]Target, 0, len(targets))
	for _, spec := range targets {
		texts := make([]string, len(spec.conds))
		for i, c := range spec.conds {
			texts[i] = c.String()
		}
		t := Target{Section: spec.section, Target: strings.Join(texts, " with "), Measured: true, Met: true}
		figs := figures(sections[spec.section])
		for _, c := range spec.conds {
			v, ok := figs[c.field]
			limit := c.factor
			if c.ref != "" {
				r, rok := figs[c.ref]
				ok = ok && rok
				limit = limit*r + c.add
			}
			if !ok {
				t.Measured, t.Met, t.Checks = false, false, nil
				break
			}
			ch := Check{Field: c.field, Value: v, Op: "<=", Limit: limit, Met: v <= limit}
			if lo, ok := figs[c.field+"_min"]; ok {
				if hi, ok := figs[c.field+"_max"]; ok {
					ch.Spread = &[2]float64{lo, hi}
				}
			}
			if c.ge {
				ch.Op, ch.Met = ">=", v >= limit
			}
			t.Met = t.Met && ch.Met
			t.Checks = append(t.Checks, ch)
		}
		out = append(out, t)
	}
	return out
}

// figures returns a JSON object's numeric top-level fields.
func figures(obj json.RawMessage) map[string]float64 {
	var m map[string]any
	if len(obj) == 0 || json.Unmarshal(obj, &m) != nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}
