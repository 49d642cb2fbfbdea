package report

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plot is one PNG written next to report.md.
type Plot struct {
	File  string `json:"file"`
	Title string `json:"title"`
}

// Plot files.
const (
	PlotLookup  = "lookup_vs_size.png"
	PlotUpdate  = "update_vs_size.png"
	PlotInstall = "install.png"
	PlotForward = "forward.png"
)

const plotW, plotH = 16 * vg.Centimeter, 10 * vg.Centimeter

// writePlots draws every plot the report has the figures for. A plot that
// cannot be drawn is logged and left out; the report is still worth
// having.
func writePlots(dir string, r *Report, logf func(string, ...any)) []Plot {
	var out []Plot
	add := func(file, title string, draw func(*plot.Plot) error) {
		p := plot.New()
		p.Title.Text = title
		if err := draw(p); err != nil {
			logf("plot %s: %v", file, err)
			return
		}
		if err := p.Save(plotW, plotH, filepath.Join(dir, file)); err != nil {
			logf("plot %s: %v", file, err)
			return
		}
		out = append(out, Plot{File: file, Title: title})
	}
	if s := r.Sweep; s != nil && len(s.Points) > 0 {
		add(PlotLookup, "IPv4 lookup time vs table size", func(p *plot.Plot) error {
			logX(p, "routes in the table")
			p.Y.Label.Text = "ns per lookup"
			p.Y.Min = 0
			var fb, fs, bt plotter.XYs
			for _, pt := range s.Points {
				x := float64(pt.Routes)
				fb = append(fb, plotter.XY{X: x, Y: pt.LookupBatchNs})
				fs = append(fs, plotter.XY{X: x, Y: pt.LookupNs})
				bt = append(bt, plotter.XY{X: x, Y: pt.RefLookupNs})
			}
			return plotutil.AddLinePoints(p, "fibd (single, as the dataplane)", fs, "fibd (batched)", fb, "bart", bt)
		})
		add(PlotUpdate, "Single-route update cost vs table size", func(p *plot.Plot) error {
			logX(p, "routes in the table")
			p.Y.Label.Text = "µs per update"
			p.Y.Min = 0
			var f50, f99, b50, b99 plotter.XYs
			for _, pt := range s.Points {
				x := float64(pt.Routes)
				f50 = append(f50, plotter.XY{X: x, Y: pt.UpdateP50Us})
				f99 = append(f99, plotter.XY{X: x, Y: pt.UpdateP99Us})
				b50 = append(b50, plotter.XY{X: x, Y: pt.RefUpdateP50Us})
				b99 = append(b99, plotter.XY{X: x, Y: pt.RefUpdateP99Us})
			}
			return plotutil.AddLinePoints(p, "fibd p50", f50, "fibd p99", f99, "bart p50", b50, "bart p99", b99)
		})
	}
	if in := r.Install; in != nil {
		title := fmt.Sprintf("Installing %s IPv4 routes", thousands(int64(in.Routes)))
		add(PlotInstall, title, func(p *plot.Plot) error {
			names := []string{"fibd (file order)", "fibd (shuffled)"}
			vals := plotter.Values{in.RoutesPerS, in.ShuffledRoutesPerS}
			if in.KernelRoutesPerS > 0 {
				names = append(names, "kernel (netlink)")
				vals = append(vals, in.KernelRoutesPerS)
			}
			p.Y.Label.Text = "routes per second"
			p.Legend.Left = true
			return bars(p, names, []string{""}, []plotter.Values{vals})
		})
	}
	var groups []string
	var kernel, few, full plotter.Values
	if f := r.ForwardAFPacket; f != nil {
		groups = append(groups, "AF_PACKET")
		kernel, few = append(kernel, f.KernelForwardedPPS), append(few, f.ForwardedPPS)
		full = append(full, deref(f.FullTableForwardedPPS))
	}
	if f := r.ForwardXDP; f != nil {
		groups = append(groups, "AF_XDP")
		kernel, few = append(kernel, f.KernelForwardedPPS), append(few, f.ForwardedPPS)
		full = append(full, deref(f.FullTableForwardedPPS))
	}
	if len(groups) > 0 {
		add(PlotForward, "Forwarded packets per second (60-byte frames, one generator)", func(p *plot.Plot) error {
			p.Y.Label.Text = "packets per second at the sink"
			return bars(p, groups, []string{"kernel", "fibd, few routes", "fibd, full table ×2 FIBs"},
				[]plotter.Values{kernel, few, full})
		})
	}
	return out
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func logX(p *plot.Plot, label string) {
	p.X.Label.Text = label
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = siTicks{plot.LogTicks{Prec: -1}}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
}

// siTicks relabels another ticker's labelled ticks as 1k, 250k, 1.5M.
type siTicks struct{ plot.Ticker }

func (t siTicks) Ticks(min, max float64) []plot.Tick {
	ticks := t.Ticker.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = si(ticks[i].Value)
		}
	}
	return ticks
}

func si(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// bars draws series[i][g] as bar i of group g, side by side; with one
// unnamed series the groups are the bars.
func bars(p *plot.Plot, groups, names []string, series []plotter.Values) error {
	const w = 14 * vg.Millimeter
	p.Add(plotter.NewGrid())
	top := 0.0
	for i, vals := range series {
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		b.Color = plotutil.Color(i)
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(2*i-len(series)+1) / 2
		p.Add(b)
		if names[i] != "" {
			p.Legend.Add(names[i], b)
		}
		for _, v := range vals {
			top = max(top, v)
		}
	}
	p.Legend.Top = true
	p.NominalX(groups...)
	// Room on both sides of the outer bars, and above them for the
	// legend.
	p.X.Min, p.X.Max = -0.7, float64(len(groups))-0.3
	p.Y.Min, p.Y.Max = 0, top*1.3
	p.Y.Tick.Marker = siTicks{plot.DefaultTicks{}}
	return nil
}
