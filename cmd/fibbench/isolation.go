package main

import (
	"context"
	"flag"
	"strings"
	"time"

	"github.com/fibd/fibd/bench/fibdproc"
	"github.com/fibd/fibd/bench/isolation"
)

// isolationCmd runs the tenant-isolation scenarios (bench/isolation).
func isolationCmd(ctx context.Context, args []string) (*isolation.Result, error) {
	fs := flag.NewFlagSet("fibbench isolation", flag.ContinueOnError)
	cfg := isolation.Config{Log: logf}
	fs.StringVar(&cfg.FibdPath, "fibd", "", "fibd binary (default: next to fibbench, then $PATH, else built with go build)")
	fs.StringVar(&cfg.IO, "io", "auto", "fibd's packet I/O: auto, afpacket or xdp")
	scenarios := fs.String("scenarios", "", "comma-separated scenarios to run (default all: "+strings.Join(isolation.Scenarios, ",")+")")
	fs.IntVar(&cfg.Routes, "routes", 0, "routes the churn scenario re-points (0: the whole IPv4 table)")
	fs.IntVar(&cfg.Repoints, "repoints", 3, "re-points of the table in the churn scenario")
	fs.IntVar(&cfg.FlowPPS, "flow-pps", 10000, "rate of each live flow")
	fs.DurationVar(&cfg.Settle, "settle", time.Second, "how long flows run before and after each scenario's harsh part")
	fs.IntVar(&cfg.ScanPPS, "scan-pps", 20000, "new destinations per second of the scan")
	fs.DurationVar(&cfg.ScanFor, "scan-for", 30*time.Second, "length of the scan")
	fs.IntVar(&cfg.FloodSenders, "flood-senders", 100000, "distinct senders of the flood")
	fs.IntVar(&cfg.FloodPPS, "flood-pps", 50000, "rate of the flood")
	fs.IntVar(&cfg.FloodBound, "flood-bound", 4096, "FIB 10's neighbour bound during the flood")
	fs.DurationVar(&cfg.ICMPFor, "icmp-for", 10*time.Second, "length of each window of the icmp scenario")
	fs.IntVar(&cfg.StormFrames, "storm-frames", 10_000_000, "malformed frames of the storm")
	fs.Float64Var(&cfg.StormShare, "storm-share", 0.8, "the storm's rate as a share of FIB 10's measured forwarding rate")
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	if *scenarios != "" {
		cfg.Scenarios = strings.Split(*scenarios, ",")
	}
	if cfg.FibdPath == "" {
		p, cleanup, err := fibdproc.Find(logf)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		cfg.FibdPath = p
	}
	return isolation.Run(ctx, cfg)
}
