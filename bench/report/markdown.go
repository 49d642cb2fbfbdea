package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fibd/fibd/bench/fwdbench"
)

// Markdown renders report.md: the machine, the targets, the plots, then
// every figure of every section in tables.
func (r *Report) Markdown() ([]byte, error) {
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	p("# fibd benchmark report\n\n")
	if r.Quick {
		p("> **Quick run** (`--quick`): small probe sets, one pass, a small sweep, 20,000 routes installed, 0.5 s\n")
		p("> forwarding phases. For checking the tooling only — these figures are not comparable with the targets.\n\n")
	}
	p("Made %s in %s.\n\n", r.Date, time.Duration(r.Seconds*float64(time.Second)).Round(time.Second).String())
	p("Command: `%s`\n\n", r.Command)

	p("## Machine\n\n| | |\n|---|---|\n")
	m := r.Machine
	p("| CPU | %s |\n| Cores | %d |\n| Memory | %.1f GiB |\n| Kernel | %s |\n| Go | %s (%s/%s) |\n",
		orUnknown(m.CPU), m.Cores, float64(m.MemoryBytes)/(1<<30), orUnknown(m.Kernel), m.Go, m.OS, m.Arch)
	p("| Load average at start (1, 5, 15 min) | %s |\n| Load average at end | %s |\n\n", loads(m.LoadStart), loads(m.LoadEnd))

	r.targetsMarkdown(p)

	if len(r.Skipped) > 0 || len(r.Errors) > 0 {
		p("## Skipped and failed\n\n")
		for _, s := range r.Skipped {
			p("- %s: skipped on request\n", s)
		}
		for _, s := range sortedKeys(r.Errors) {
			p("- %s: **failed**: %s\n", s, oneLine(r.Errors[s]))
		}
		p("\n")
	}

	if len(r.Plots) > 0 {
		p("## Plots\n\n")
		for _, pl := range r.Plots {
			p("![%s](%s)\n\n", pl.Title, pl.File)
		}
	}

	if r.Fib != nil {
		if err := figuresMarkdown(p, "fib (`fibbench fib`)", r.Fib); err != nil {
			return nil, err
		}
	}
	if r.Sweep != nil {
		r.sweepMarkdown(p)
	}
	if r.Install != nil {
		if err := figuresMarkdown(p, "install (`fibbench install`)", r.Install); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		title string
		res   *fwdbench.Result
	}{
		{"forward on AF_PACKET (`fibbench forward --io=afpacket`)", r.ForwardAFPacket},
		{"forward on AF_XDP (`fibbench forward --io=xdp`)", r.ForwardXDP},
	} {
		if f.res == nil {
			continue
		}
		if err := figuresMarkdown(p, f.title, f.res); err != nil {
			return nil, err
		}
		phasesMarkdown(p, f.res.Phases)
	}
	if r.Isolation != nil {
		if err := figuresMarkdown(p, "isolation (`fibbench isolation`)", r.Isolation); err != nil {
			return nil, err
		}
	}
	if r.Hoststack != nil {
		if err := figuresMarkdown(p, "host stack (`fibbench hoststack`)", r.Hoststack); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func (r *Report) targetsMarkdown(p func(string, ...any)) {
	met, measured := 0, 0
	for _, t := range r.Targets {
		if t.Measured {
			measured++
		}
		if t.Met {
			met++
		}
	}
	p("## Targets\n\n%d of %d targets met", met, len(r.Targets))
	if measured < len(r.Targets) {
		p(" (%d not measured)", len(r.Targets)-measured)
	}
	p(". Computed from report.json by `fibbench report`.\n\n")
	p("| Section | Target | Measured | Limit | Status |\n|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		var vals, limits []string
		for _, c := range t.Checks {
			v := fmt.Sprintf("%s = %s", c.Field, fmtNum(c.Value))
			if c.Spread != nil {
				v += fmt.Sprintf(" (rounds %s–%s)", fmtNum(c.Spread[0]), fmtNum(c.Spread[1]))
			}
			vals = append(vals, v)
			op := "≤"
			if c.Op == ">=" {
				op = "≥"
			}
			limits = append(limits, op+" "+fmtNum(c.Limit))
		}
		status := t.Status()
		if status == "not met" {
			status = "**not met**"
		}
		p("| %s | %s | %s | %s | %s |\n", t.Section, t.Target, orDash(strings.Join(vals, "; ")), orDash(strings.Join(limits, "; ")), status)
	}
	p("\n")
}

func (r *Report) sweepMarkdown(p func(string, ...any)) {
	s := r.Sweep
	p("## Table-size sweep (IPv4; seeded random samples of the full table)\n\n")
	p("Lookups over %s probe addresses, median of %d interleaved rounds (fibd and bart back to back in each); the ratio is the median\n",
		thousands(int64(s.ProbeAddresses)), s.Rounds)
	p("of the per-round ratios with their range. %s single-route updates per size, half deletes and half re-adds\n", thousands(int64(s.Updates)))
	p("(fibd: one Apply each with a reader running; bart: DeletePersist / InsertPersist, its copy-on-write updates).\n\n")
	p("| Routes | fibd lookup ns (single, as the dataplane) | fibd lookup ns (batched) | bart lookup ns | fibd/bart (range) | fibd update p50 µs | fibd update p99 µs | bart update p50 µs | bart update p99 µs |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, pt := range s.Points {
		p("| %s | %s | %s | %s | %s (%s–%s) | %s | %s | %s | %s |\n", fmtNum(float64(pt.Routes)), fmtNum(pt.LookupNs), fmtNum(pt.LookupBatchNs),
			fmtNum(pt.RefLookupNs), fmtNum(pt.Ratio), fmtNum(pt.RatioMin), fmtNum(pt.RatioMax),
			fmtNum(pt.UpdateP50Us), fmtNum(pt.UpdateP99Us), fmtNum(pt.RefUpdateP50Us), fmtNum(pt.RefUpdateP99Us))
	}
	p("\n")
}

// figuresMarkdown renders v's top-level scalar JSON fields in their
// declaration order, with a unit read off the field name.
func figuresMarkdown(p func(string, ...any), title string, v any) error {
	fields, err := scalarFields(v)
	if err != nil {
		return err
	}
	p("## %s\n\n| Figure | Value | Unit |\n|---|---:|---|\n", title)
	vals := make(map[string]any, len(fields))
	for _, f := range fields {
		vals[f.key] = f.val
	}
	for _, f := range fields {
		if spreadOf(f.key) != "" {
			continue // shown beside its ratio
		}
		val := fmt.Sprint(f.val)
		if x, ok := f.val.(float64); ok {
			val = fmtNum(x)
			lo, lok := vals[f.key+"_min"].(float64)
			hi, hok := vals[f.key+"_max"].(float64)
			if lok && hok {
				val += fmt.Sprintf(" (%s–%s)", fmtNum(lo), fmtNum(hi))
			}
		}
		p("| %s | %s | %s |\n", f.key, val, unit(f.key))
	}
	p("\n")
	return nil
}

func phasesMarkdown(p func(string, ...any), phases []fwdbench.Phase) {
	p("Phases, in the order they ran:\n\n")
	p("| Phase | Generators | Seconds | Offered pps | Forwarded pps | Loss %% | Forwarder CPU µs/packet | of which system %% | Generator CPU µs/packet |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, ph := range phases {
		cpu, sys := "—", "—"
		if ph.CPUUsPerPacket > 0 {
			cpu, sys = fmtNum(ph.CPUUsPerPacket), fmtNum(ph.CPUSysPct)
		}
		p("| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", ph.Name, ph.Generators, fmtNum(ph.Seconds), fmtNum(ph.OfferedPPS),
			fmtNum(ph.ForwardedPPS), fmtNum(ph.LossPct), cpu, sys, fmtNum(ph.GeneratorCPUUsPerPacket))
	}
	p("\n")
}

// spreadOf returns the ratio a "…_min" or "…_max" field is the spread of,
// or "" for any other field.
func spreadOf(key string) string {
	for _, suf := range []string{"_min", "_max"} {
		if base, ok := strings.CutSuffix(key, suf); ok && (strings.HasPrefix(base, "ratio") || strings.Contains(base, "scale")) {
			return base
		}
	}
	return ""
}

type field struct {
	key string
	val any
}

// scalarFields returns the top-level fields of v's JSON object that are
// not objects or arrays, in order.
func scalarFields(v any) ([]field, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("report: %T is not a JSON object", v)
	}
	var out []field
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') {
			continue
		}
		var val any
		if err := json.Unmarshal(raw, &val); err != nil {
			return nil, err
		}
		out = append(out, field{key: t.(string), val: val})
	}
	return out, nil
}

// unit reads a figure's unit off its JSON name.
func unit(name string) string {
	switch {
	case strings.Contains(name, "_ns"):
		return "ns"
	case strings.Contains(name, "_us"):
		return "µs"
	case strings.Contains(name, "_pps"):
		return "packets/s"
	case strings.Contains(name, "routes_per_s"):
		return "routes/s"
	case strings.HasSuffix(name, "_pct"):
		return "%"
	case strings.Contains(name, "bytes"):
		return "bytes"
	case strings.HasPrefix(name, "ratio") || strings.Contains(name, "scale"):
		return "×"
	case name == "seconds" || strings.HasSuffix(name, "_seconds"):
		return "s"
	}
	return ""
}

// fmtNum prints a figure readably: integers and large values with
// thousands separators, small ones to three significant digits.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case a >= 1000 || (v == math.Trunc(v) && a < 1e15):
		return thousands(int64(math.Round(v)))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func loads(l []float64) string {
	if len(l) == 0 {
		return "unknown"
	}
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strings.Join(s, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// oneLine keeps an error inside its Markdown list item.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "|", "\\|")), " ")
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
