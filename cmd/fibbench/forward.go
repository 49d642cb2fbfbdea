package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/fibd/fibd/bench/fwdbench"
)

// forward runs fibd's dataplane through the forwarding harness: on
// --io=afpacket against Linux forwarding and the bare AF_PACKET loop, on
// --io=xdp against Linux, the bare AF_XDP loop and fibd on AF_PACKET.
func forward(ctx context.Context, args []string) (*fwdbench.Result, error) {
	fs := flag.NewFlagSet("fibbench forward", flag.ContinueOnError)
	io := fs.String("io", "afpacket", "packet I/O of fibd's dataplane: afpacket or xdp")
	d := fs.Duration("duration", 3*time.Second, "length of each measured phase")
	sink := fs.String("sink", "xdp", "how the sink disposes of the traffic: xdp (an XDP program counts and drops it), "+
		"discard (a never-read UDP socket) or blackhole (a blackhole route)")
	dests := fs.Int("dests", 65536, "destinations spread over 198.18.0.0/15 (at least 65536)")
	rounds := fs.Int("rounds", fwdbench.MinRounds, "interleaved rounds of the throughput and CPU comparisons")
	workers := fs.Int("workers", 0, "measure the scaling curve instead: fibd with 1…N RX workers per interface on veths with N queues (pps and CPU per packet for each)")
	fast := fs.String("fast-path", "also", "with --io=xdp, the in-kernel fast path against the kernel and fibd's user-space engine, with an XDP live-frames generator and the full table in two FIBs: "+
		"also (after the comparison above), only (that alone) or off")
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	opt, err := fwdbench.ForIO(*io, warnLogger())
	if err != nil {
		return nil, err
	}
	if opt.Sink, err = fwdbench.ParseSink(*sink); err != nil {
		return nil, err
	}
	opt.Duration, opt.Destinations, opt.Rounds, opt.CPURounds, opt.Log = *d, *dests, *rounds, *rounds, logf
	if *workers < 0 {
		return nil, fmt.Errorf("--workers %d: want 1 or more", *workers)
	}
	if *workers > 0 {
		kind := *io
		opt.Workers = *workers
		opt.DataplaneWorkers = func(n int) fwdbench.Forwarder { return fwdbench.FIBDWorkers(kind, false, n, warnLogger()) }
	}
	switch *fast {
	case "also", "only", "off":
	default:
		return nil, fmt.Errorf("--fast-path %q: want also, only or off", *fast)
	}
	if *io != "xdp" || *workers > 0 || *fast == "off" {
		return fwdbench.Run(ctx, opt)
	}
	res := &fwdbench.Result{IO: *io, Dataplane: opt.DataplaneName}
	if *fast == "also" {
		if res, err = fwdbench.Run(ctx, opt); err != nil {
			return nil, err
		}
	}
	fp, err := fwdbench.RunFastPath(ctx, fwdbench.FastPathOptions{Duration: *d, Rounds: *rounds, FullTable: true, Log: logf})
	if err != nil {
		return nil, err
	}
	res.SetFastPath(fp)
	return res, nil
}
