package fwdbench

import (
	"context"
	"fmt"
	"runtime"

	"github.com/fibd/fibd/bench/rounds"
	"github.com/fibd/fibd/internal/netnstest"
)

// runScaling measures the scaling curve: the dataplane with 1 … Workers
// RX workers per interface, on veths with Workers queues, fed by two
// generators; per round every n is searched once, the order reversed in
// odd rounds so a drift in machine speed touches every n alike.
func runScaling(ctx context.Context, tb netnstest.TB, opt Options) (*Result, error) {
	if opt.DataplaneWorkers == nil {
		return nil, fmt.Errorf("fwdbench: Workers needs DataplaneWorkers")
	}
	t := newTopology(tb, opt.Sink, opt.Workers)
	frames, err := buildFrames(opt.Destinations, macR0, macSrc, SrcAddr, DestPrefix)
	if err != nil {
		return nil, err
	}
	gens := t.newGenerators(2, frames)
	res := &Result{Dataplane: opt.DataplaneName, IO: opt.IO, Sink: opt.Sink.String(), FrameBytes: FrameBytes,
		Destinations: opt.Destinations, Method: method, Rounds: opt.Rounds, CPUs: runtime.NumCPU()}
	release, err := t.preparePorts()
	if err != nil {
		return nil, err
	}
	defer release()
	pps := make([][]float64, opt.Workers+1)
	loss := make([][]float64, opt.Workers+1)
	cpu := make([][]float64, opt.Workers+1)
	for r := range opt.Rounds {
		for k := range opt.Workers {
			n := k + 1
			if r%2 == 1 {
				n = opt.Workers - k
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			name := fmt.Sprintf("%s-%dw", opt.DataplaneName, n)
			p, err := t.phase(ctx, name, gens, opt.Duration, opt.Trial, opt.DataplaneWorkers(n))
			if err != nil {
				return nil, err
			}
			opt.Log("round %d %-14s forwarded %7.0f pps, loss %4.2f%%, cpu %.3f µs/pkt", r+1, name, p.ForwardedPPS, p.LossPct, p.CPUUsPerPacket)
			res.Phases = append(res.Phases, p)
			pps[n] = append(pps[n], p.ForwardedPPS)
			loss[n] = append(loss[n], p.LossPct)
			cpu[n] = append(cpu[n], p.CPUUsPerPacket)
		}
	}
	for n := 1; n <= opt.Workers; n++ {
		sp := ScalePoint{Workers: n, ForwardedPPS: rounds.Median(pps[n]), LossPct: rounds.Median(loss[n]), CPUUsPerPacket: rounds.Median(cpu[n])}
		sp.SpeedUp, sp.SpeedUpMin, sp.SpeedUpMax = rounds.Ratio(pps[n], pps[1])
		res.Scaling = append(res.Scaling, sp)
	}
	res.ScalingNote = fmt.Sprintf("two generator threads, the sink's input path (run inline by veth on the sender's core) and "+
		"%d fibd workers share this machine's %d CPUs: beyond CPUs minus the generators' share the curve measures the machine, not fibd", opt.Workers, runtime.NumCPU())
	return res, nil
}
