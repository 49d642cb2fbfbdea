package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/fibd/fibd/bench/converge"
	"github.com/fibd/fibd/bench/fibdproc"
)

// convergeCmd runs `fibbench converge` (bench/converge): a full table from
// a real BGP speaker through FRR into fibd, beside FRR into the kernel,
// and through gobgpd into fibd, beside gobgpd's own RIB.
func convergeCmd(ctx context.Context, args []string) (*converge.Result, error) {
	fs := flag.NewFlagSet("fibbench converge", flag.ContinueOnError)
	cfg := converge.Config{Log: logf}
	fs.StringVar(&cfg.FibdPath, "fibd", "", "fibd binary (default: next to fibbench, then $PATH, else built with go build)")
	fs.StringVar(&cfg.FibctlPath, "fibctl", "", "fibctl binary (found as fibd is)")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "interleaved rounds of every path")
	fs.IntVar(&cfg.Routes, "routes", 0, "announce only the first N routes of the IPv4 table (0: all 615,151)")
	paths := fs.String("paths", "frr-fpm,frr-kernel,gobgp", "paths to measure (comma-separated)")
	fs.StringVar(&cfg.FeedProfile, "feed-cpuprofile", "", "CPU profile of the gobgp feed, written here")
	fs.DurationVar(&cfg.Timeout, "timeout", 0, "bound on one convergence (default 10m)")
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	for _, p := range strings.Split(*paths, ",") {
		switch p {
		case "frr-fpm", "frr-kernel", "gobgp":
			cfg.Paths = append(cfg.Paths, p)
		default:
			fmt.Fprintf(os.Stderr, "fibbench converge: --paths: %q is not frr-fpm, frr-kernel or gobgp\n", p)
			return nil, errUsage
		}
	}
	for _, b := range []struct {
		name string
		path *string
	}{{"fibd", &cfg.FibdPath}, {"fibctl", &cfg.FibctlPath}} {
		if *b.path == "" {
			p, cleanup, err := fibdproc.FindCmd(b.name, logf)
			if err != nil {
				return nil, err
			}
			defer cleanup()
			*b.path = p
		}
	}
	return converge.Run(ctx, cfg)
}
