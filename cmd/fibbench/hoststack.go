package main

import (
	"context"
	"flag"

	"github.com/fibd/fibd/bench/fibdproc"
	"github.com/fibd/fibd/bench/hostbench"
)

// hoststack runs `fibbench hoststack` (bench/hostbench): TCP and HTTP to a
// server inside a FIB through fibd's host stack, beside the kernel.
func hoststack(ctx context.Context, args []string) (*hostbench.Result, error) {
	fs := flag.NewFlagSet("fibbench hoststack", flag.ContinueOnError)
	cfg := hostbench.Config{Log: logf}
	fs.StringVar(&cfg.FibdPath, "fibd", "", "fibd binary (default: next to fibbench, then $PATH, else built with go build)")
	fs.StringVar(&cfg.IO, "io", "afpacket", "fibd's packet I/O: afpacket or xdp")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "interleaved rounds of every measurement")
	fs.DurationVar(&cfg.TCPFor, "tcp-for", 0, "length of each TCP stream (default 10s)")
	fs.DurationVar(&cfg.HTTPFor, "http-for", 0, "length of each HTTP run (default 5s)")
	fs.IntVar(&cfg.HTTPConns, "http-conns", 4, "keep-alive connections of the HTTP client")
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	if cfg.FibdPath == "" {
		p, cleanup, err := fibdproc.Find(logf)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		cfg.FibdPath = p
	}
	return hostbench.Run(ctx, cfg)
}
