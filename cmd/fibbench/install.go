package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/fibd/fibd/bench/installbench"
)

func install(ctx context.Context, args []string) (installbench.Result, error) {
	fs := flag.NewFlagSet("fibbench install", flag.ContinueOnError)
	cfg := installbench.Config{Logf: logf}
	fs.StringVar(&cfg.FibdPath, "fibd", "", "fibd binary (default: next to fibbench, then $PATH, else built with go build)")
	fs.IntVar(&cfg.Batch, "batch", 4096, "routes per batch")
	fs.IntVar(&cfg.InFlight, "in-flight", 8, "unacknowledged batches")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "shuffle seed")
	fs.BoolVar(&cfg.NoKernel, "no-kernel", false, "skip the kernel baseline (it needs root)")
	fs.IntVar(&cfg.Rounds, "rounds", installbench.MinRounds, "interleaved rounds of fibd and kernel installs (at least 5)")
	if err := fs.Parse(args); err != nil {
		return installbench.Result{}, errUsage
	}
	if cfg.FibdPath == "" {
		p, cleanup, err := findFibd()
		if err != nil {
			return installbench.Result{}, err
		}
		defer cleanup()
		cfg.FibdPath = p
	}
	return installbench.Run(ctx, cfg)
}

// findFibd looks for fibd next to this binary, then on $PATH, and builds
// it from the module as a last resort.
func findFibd() (string, func(), error) {
	nop := func() {}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "fibd")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nop, nil
		}
	}
	if p, err := exec.LookPath("fibd"); err == nil {
		return p, nop, nil
	}
	dir, err := os.MkdirTemp("", "fibbench-")
	if err != nil {
		return "", nop, err
	}
	p := filepath.Join(dir, "fibd")
	logf("building fibd into %s", p)
	cmd := exec.Command("go", "build", "-o", p, "github.com/fibd/fibd/cmd/fibd")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nop, errors.New("no fibd binary found and go build failed: pass --fibd")
	}
	return p, func() { os.RemoveAll(dir) }, nil
}
