package main

import (
	"context"
	"flag"

	"github.com/fibd/fibd/bench/fibdproc"
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
	fs.BoolVar(&cfg.NoRepoint, "no-repoint", false, "skip nhg_repoint_us (the group replace measured in this process)")
	fs.IntVar(&cfg.RepointSamples, "repoint-samples", installbench.MinRepointSamples, "group replaces per nhg_repoint_us figure")
	fs.IntVar(&cfg.Rounds, "rounds", installbench.MinRounds, "interleaved rounds of fibd and kernel installs (at least 5)")
	if err := fs.Parse(args); err != nil {
		return installbench.Result{}, errUsage
	}
	if cfg.FibdPath == "" {
		p, cleanup, err := fibdproc.Find(logf)
		if err != nil {
			return installbench.Result{}, err
		}
		defer cleanup()
		cfg.FibdPath = p
	}
	return installbench.Run(ctx, cfg)
}
