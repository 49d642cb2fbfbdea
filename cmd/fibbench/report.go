package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fibd/fibd/bench/fibdproc"
	"github.com/fibd/fibd/bench/report"
)

// runReport runs every benchmark and writes the report; it prints the path
// of report.md.
func runReport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fibbench report", flag.ContinueOnError)
	cfg := report.Config{Logf: logf, Logger: warnLogger()}
	fs.StringVar(&cfg.Out, "out", "bench/results", "the report goes into OUT/<date>/")
	fs.BoolVar(&cfg.Quick, "quick", false, "short durations and a small sweep: for testing the tooling, not for figures")
	fs.StringVar(&cfg.FibdPath, "fibd", "", "fibd binary for install (default: next to fibbench, then $PATH, else built with go build)")
	fs.Func("skip", "leave out forward, install, isolation or hoststack (repeatable, or comma-separated): for machines without root", func(s string) error {
		for _, v := range strings.Split(s, ",") {
			switch strings.TrimSpace(v) {
			case "forward":
				cfg.SkipForward = true
			case "install":
				cfg.SkipInstall = true
			case "isolation":
				cfg.SkipIsolation = true
			case "hoststack":
				cfg.SkipHoststack = true
			default:
				return fmt.Errorf("can skip forward, install, isolation or hoststack, not %q", v)
			}
		}
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("report: unexpected argument %q", fs.Arg(0))
	}
	cfg.Command = command()
	if (!cfg.SkipInstall || !cfg.SkipIsolation || !cfg.SkipHoststack) && cfg.FibdPath == "" {
		p, cleanup, err := fibdproc.Find(logf)
		if err != nil {
			return err
		}
		defer cleanup()
		cfg.FibdPath = p
	}
	r, dir, err := report.Run(ctx, cfg)
	if r != nil {
		met := 0
		for _, t := range r.Targets {
			if t.Met {
				met++
			}
		}
		logf("%d of %d targets met; report in %s (%.0f s)", met, len(r.Targets), dir, r.Seconds)
		fmt.Println(filepath.Join(dir, report.MarkdownFile))
	}
	return err
}

// command is the command line as typed, for the report.
func command() string {
	args := append([]string{"fibbench"}, os.Args[1:]...)
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			args[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(args, " ")
}
