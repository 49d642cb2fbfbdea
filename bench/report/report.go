// Package report runs every fibd benchmark — `fibbench fib` with a
// table-size sweep, `install` and `forward` on AF_PACKET and AF_XDP — and
// writes what `fibbench report` leaves in bench/results/<date>/:
// report.json (every figure, the machine, each target evaluated),
// report.md (the same in readable tables, each target next to its measured
// value with met / not met, the plots embedded) and PNG plots (gonum/plot).
//
// The targets are computed from the JSON the report writes, never typed
// in: an unmet target says "not met", a section that was skipped or failed
// leaves its targets "not measured".
package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fibd/fibd/bench/fibbench"
	"github.com/fibd/fibd/bench/fwdbench"
	"github.com/fibd/fibd/bench/hostbench"
	"github.com/fibd/fibd/bench/installbench"
	"github.com/fibd/fibd/bench/isolation"
	"github.com/fibd/fibd/dataplane/backend"
)

// Files written into the report directory.
const (
	MarkdownFile = "report.md"
	JSONFile     = "report.json"
)

// Config tunes a run. The zero value is the full run, written under
// bench/results, which needs FibdPath and root.
type Config struct {
	// Out is the parent of the dated report directory; default
	// "bench/results".
	Out string
	// Quick shortens everything (small probe sets, one pass, a small
	// sweep, 20,000 routes to install, 0.5 s forwarding phases): for
	// tests and development, not for figures anyone should quote.
	Quick bool
	// SkipInstall, SkipForward and SkipIsolation leave those sections out
	// (install needs a fibd binary, forward root, isolation both); their
	// targets read "not measured".
	SkipInstall, SkipForward, SkipIsolation bool
	// SkipHoststack leaves out `fibbench hoststack` (root and a fibd).
	SkipHoststack bool
	// FibdPath is the fibd binary `install` starts; required unless
	// SkipInstall.
	FibdPath string
	// Command is recorded in the report as the command that made it.
	Command string
	// Logf receives progress lines; Logger the dataplane's warnings.
	Logf   func(format string, args ...any)
	Logger *slog.Logger
	// Now is the clock that dates the report; default time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Out == "" {
		c.Out = filepath.Join("bench", "results")
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Report is report.json.
type Report struct {
	Date    string  `json:"date"` // RFC 3339, UTC, when the run started
	Command string  `json:"command"`
	Quick   bool    `json:"quick"`
	Seconds float64 `json:"seconds"` // the whole run
	Machine Machine `json:"machine"`

	Fib             *fibbench.Result      `json:"fib,omitempty"`
	Sweep           *fibbench.SweepResult `json:"sweep,omitempty"`
	Install         *installbench.Result  `json:"install,omitempty"`
	ForwardAFPacket *fwdbench.Result      `json:"forward_afpacket,omitempty"`
	ForwardXDP      *fwdbench.Result      `json:"forward_xdp,omitempty"`
	Isolation       *isolation.Result     `json:"isolation,omitempty"`
	Hoststack       *hostbench.Result     `json:"hoststack,omitempty"`

	// Skipped names the sections left out on request; Errors holds the
	// sections that failed, with why.
	Skipped []string          `json:"skipped,omitempty"`
	Errors  map[string]string `json:"errors,omitempty"`

	Targets []Target `json:"targets"`
	Plots   []Plot   `json:"plots"`
}

// ErrSectionsFailed is returned, wrapped, when the report was written but
// some section failed; the report says which and why.
var ErrSectionsFailed = errors.New("report: some benchmarks failed")

// Run measures everything, one benchmark after another, and writes the
// report into Out/<date>/, which it returns. A benchmark that fails is
// recorded in the report and the run goes on; Run then returns the report
// and its directory with an error wrapping ErrSectionsFailed.
func Run(ctx context.Context, cfg Config) (*Report, string, error) {
	cfg.defaults()
	if (!cfg.SkipInstall || !cfg.SkipIsolation || !cfg.SkipHoststack) && cfg.FibdPath == "" {
		return nil, "", errors.New("report: install, isolation and hoststack need FibdPath (or skip them)")
	}
	start := cfg.Now()
	dir := filepath.Join(cfg.Out, start.Format(time.DateOnly))
	// Fail before a ten-minute run, not after it.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	r := &Report{Date: start.UTC().Format(time.RFC3339), Command: cfg.Command, Quick: cfg.Quick, Machine: readMachine()}
	fail := func(section string, err error) {
		cfg.Logf("%s failed: %v", section, err)
		if r.Errors == nil {
			r.Errors = map[string]string{}
		}
		r.Errors[section] = err.Error()
	}

	fc := fibbench.Config{Logf: cfg.Logf}
	sizes := fibbench.SweepSizes
	if cfg.Quick {
		fc.Probes, fc.Rounds, fc.Updates = 1<<16, fibbench.MinRounds, 2000
		sizes = []int{1000, 4000, 16000}
	}
	cfg.Logf("== fib")
	if res, err := catch(func() (fibbench.Result, error) { return fibbench.Run(fc) }); err != nil {
		fail(SectionFib, err)
	} else {
		r.Fib = &res
	}
	cfg.Logf("== table-size sweep")
	if res, err := catch(func() (fibbench.SweepResult, error) { return fibbench.Sweep(fc, sizes) }); err != nil {
		fail("sweep", err)
	} else {
		r.Sweep = &res
	}

	if cfg.SkipInstall {
		r.Skipped = append(r.Skipped, SectionInstall)
	} else if err := ctx.Err(); err != nil {
		return nil, "", err
	} else {
		cfg.Logf("== install")
		ic := installbench.Config{FibdPath: cfg.FibdPath, NoKernel: os.Geteuid() != 0, Logf: cfg.Logf}
		if cfg.Quick {
			ic.Routes = 20000
		}
		if res, err := installbench.Run(ctx, ic); err != nil {
			fail(SectionInstall, err)
		} else {
			r.Install = &res
		}
	}

	for _, fw := range []struct {
		io, section string
		dst         **fwdbench.Result
	}{{backend.AFPacket, SectionForwardAFPacket, &r.ForwardAFPacket}, {backend.XDP, SectionForwardXDP, &r.ForwardXDP}} {
		if cfg.SkipForward {
			r.Skipped = append(r.Skipped, fw.section)
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		cfg.Logf("== %s", fw.section)
		opt, err := fwdbench.ForIO(fw.io, cfg.Logger)
		if err != nil {
			fail(fw.section, err)
			continue
		}
		opt.Duration, opt.Log = 3*time.Second, cfg.Logf
		if cfg.Quick {
			opt.Duration, opt.Trial, opt.Rounds, opt.CPURounds = 500*time.Millisecond, 300*time.Millisecond, 1, 1
		}
		res, err := fwdbench.Run(ctx, opt)
		if err != nil {
			fail(fw.section, err)
			continue
		}
		*fw.dst = res
		if fw.io == backend.XDP {
			fo := fwdbench.FastPathOptions{Duration: 2 * time.Second, Rounds: fwdbench.MinRounds, FullTable: true, Log: cfg.Logf}
			if cfg.Quick {
				fo = fwdbench.FastPathOptions{Duration: 500 * time.Millisecond, Rounds: 1, Log: cfg.Logf}
			}
			if fp, err := fwdbench.RunFastPath(ctx, fo); err != nil {
				fail(fw.section, fmt.Errorf("fast path: %w", err))
			} else {
				res.SetFastPath(fp)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}

	if cfg.SkipIsolation {
		r.Skipped = append(r.Skipped, SectionIsolation)
	} else {
		cfg.Logf("== isolation")
		ic := isolation.Config{FibdPath: cfg.FibdPath, Log: cfg.Logf}
		if cfg.Quick {
			ic.Routes, ic.Settle, ic.StormFrames = 20000, 500*time.Millisecond, 500_000
		}
		if res, err := isolation.Run(ctx, ic); err != nil {
			fail(SectionIsolation, err)
		} else {
			r.Isolation = res
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}

	if cfg.SkipHoststack {
		r.Skipped = append(r.Skipped, SectionHoststack)
	} else {
		cfg.Logf("== hoststack")
		hc := hostbench.Config{FibdPath: cfg.FibdPath, Log: cfg.Logf}
		if cfg.Quick {
			hc.Rounds, hc.TCPFor, hc.HTTPFor = 1, time.Second, time.Second
		}
		if res, err := hostbench.Run(ctx, hc); err != nil {
			fail(SectionHoststack, err)
		} else {
			r.Hoststack = res
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}

	r.Machine.LoadEnd = loadAvg()
	r.Seconds = time.Since(start).Seconds()
	if err := r.evaluate(); err != nil {
		return nil, "", err
	}
	r.Plots = writePlots(dir, r, cfg.Logf)
	if err := r.write(dir); err != nil {
		return nil, "", err
	}
	if len(r.Errors) > 0 {
		return r, dir, fmt.Errorf("%w: %d of them, see %s", ErrSectionsFailed, len(r.Errors), filepath.Join(dir, MarkdownFile))
	}
	return r, dir, nil
}

// catch turns a panic of fn (fibbench panics on an internal error) into an
// error, so one broken benchmark does not lose a whole report.
func catch[T any](fn func() (T, error)) (res T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn()
}

// sections returns the JSON object of each section the targets refer to.
func (r *Report) sections() (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for name, v := range map[string]any{SectionFib: r.Fib, SectionInstall: r.Install,
		SectionForwardAFPacket: r.ForwardAFPacket, SectionForwardXDP: r.ForwardXDP, SectionIsolation: r.Isolation,
		SectionHoststack: r.Hoststack} {
		if isNil(v) {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
	if in := r.Install; in != nil && (in.KernelRoutesPerS == 0 || in.NHGRepointUs == 0 || in.GroupRoutesPerS == 0) {
		// Without root there is no kernel baseline, and a run may skip the
		// group figures: they read 0 in the JSON, which is "not measured",
		// not "not met" (nor, for a time, "met").
		var m map[string]any
		if err := json.Unmarshal(out[SectionInstall], &m); err != nil {
			return nil, err
		}
		if in.KernelRoutesPerS == 0 {
			delete(m, "ratio_vs_kernel")
		}
		if in.NHGRepointUs == 0 {
			delete(m, "nhg_repoint_us")
		}
		if in.GroupRoutesPerS == 0 {
			delete(m, "group_routes_per_s")
			delete(m, "group_shuffled_routes_per_s")
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		out[SectionInstall] = b
	}
	return out, nil
}

func isNil(v any) bool {
	switch x := v.(type) {
	case *fibbench.Result:
		return x == nil
	case *installbench.Result:
		return x == nil
	case *fwdbench.Result:
		return x == nil
	case *isolation.Result:
		return x == nil
	case *hostbench.Result:
		return x == nil
	}
	return v == nil
}

func (r *Report) evaluate() error {
	s, err := r.sections()
	if err != nil {
		return err
	}
	r.Targets = evaluate(s)
	return nil
}

// write writes report.json and report.md into dir.
func (r *Report) write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, JSONFile), append(b, '\n'), 0o644); err != nil {
		return err
	}
	md, err := r.Markdown()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, MarkdownFile), md, 0o644)
}
