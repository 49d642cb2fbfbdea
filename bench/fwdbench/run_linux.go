package fwdbench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/fibd/fibd/dataplane/link"
	"github.com/fibd/fibd/internal/netnstest"
)

// drain is how long the sink keeps counting after the generators stop, so
// packets still in rings and queues are counted as forwarded.
const drain = 100 * time.Millisecond

// Run builds the topology, measures the kernel, the bare loop and the
// dataplane under test, tears everything down and returns the result. It
// needs root and iproute2. Phases run one after another, never at once.
func Run(ctx context.Context, opt Options) (*Result, error) {
	if opt.Duration <= 0 {
		opt.Duration = 3 * time.Second
	}
	if opt.Destinations < 65536 {
		opt.Destinations = 65536
	}
	if opt.DataplaneName == "" {
		opt.DataplaneName = "bare"
		if opt.Dataplane != nil {
			opt.DataplaneName = "dataplane"
		}
	}
	if opt.Log == nil {
		opt.Log = func(string, ...any) {}
	}
	s := netnstest.NewScope()
	defer s.Close()
	var res *Result
	var runErr error
	if err := s.Run(func() { res, runErr = run(ctx, s, opt) }); err != nil {
		return nil, err
	}
	return res, runErr
}

func run(ctx context.Context, tb netnstest.TB, opt Options) (*Result, error) {
	t := newTopology(tb, opt.Sink)
	frames, err := buildFrames(opt.Destinations, macR0, macSrc, SrcAddr, DestPrefix)
	if err != nil {
		return nil, err
	}
	gens := t.newGenerators(2, frames)
	res := &Result{Dataplane: opt.DataplaneName, IO: opt.IO, Sink: opt.Sink.String(), FrameBytes: FrameBytes, Destinations: opt.Destinations}

	measure := func(name string, ngen int, fwd Forwarder) (Phase, error) {
		if err := ctx.Err(); err != nil {
			return Phase{}, err
		}
		p, err := t.phase(ctx, name, gens[:ngen], opt.Duration, fwd)
		if err == nil {
			opt.Log("%-10s %d gen: offered %9.0f pps, forwarded %9.0f pps, loss %5.1f%%, cpu %.3f µs/pkt (%.0f%% sys), generator %.3f µs/pkt",
				name, ngen, p.OfferedPPS, p.ForwardedPPS, p.LossPct, p.CPUUsPerPacket, p.CPUSysPct, p.GeneratorCPUUsPerPacket)
			res.Phases = append(res.Phases, p)
		}
		return p, err
	}

	t.kernelRouting()
	k1, err := measure("kernel", 1, nil)
	if err != nil {
		return nil, err
	}
	k2, err := measure("kernel", 2, nil)
	if err != nil {
		return nil, err
	}
	t.noKernelRouting()

	// The ports now belong to userspace: Prepare them as fibd would.
	release, err := t.preparePorts()
	if err != nil {
		return nil, err
	}
	defer release()

	bareFwd := opt.Bare
	if bareFwd == nil {
		bareFwd = Bare
	}
	bare, err := measure("bare", 1, bareFwd)
	if err != nil {
		return nil, err
	}
	dp1 := bare
	dp := bareFwd
	if opt.Dataplane != nil {
		dp = opt.Dataplane
		if dp1, err = measure(opt.DataplaneName, 1, dp); err != nil {
			return nil, err
		}
	}
	dp2, err := measure(opt.DataplaneName, 2, dp)
	if err != nil {
		return nil, err
	}
	if opt.FullTable != nil {
		ft, err := measure(opt.DataplaneName+"-fulltable", 1, opt.FullTable)
		if err != nil {
			return nil, err
		}
		res.FullTableCPUUsPerPacket = &ft.CPUUsPerPacket
		res.FullTableForwardedPPS = &ft.ForwardedPPS
	}
	if opt.AFPacket != nil {
		name := opt.AFPacketName
		if name == "" {
			name = "afpacket"
		}
		ap, err := measure(name, 1, opt.AFPacket)
		if err != nil {
			return nil, err
		}
		res.AFPacketForwardedPPS = &ap.ForwardedPPS
		if ap.ForwardedPPS > 0 {
			r := dp1.ForwardedPPS / ap.ForwardedPPS
			res.RatioVsAFPacket = &r
		}
	}
	if n := t.sinkICMPUnreachables(); n != 0 {
		return nil, fmt.Errorf("fwdbench: the sink sent %d ICMP destination unreachables", n)
	}

	res.OfferedPPS, res.ForwardedPPS, res.LossPct = dp1.OfferedPPS, dp1.ForwardedPPS, dp1.LossPct
	res.DataplaneCPUUsPerPacket = dp1.CPUUsPerPacket
	res.KernelForwardedPPS, res.KernelForwardedPPS2Gen = k1.ForwardedPPS, k2.ForwardedPPS
	if k1.ForwardedPPS > 0 {
		res.RatioVsKernel = dp1.ForwardedPPS / k1.ForwardedPPS
	}
	res.BareForwardedPPS, res.BareCPUUsPerPacket = bare.ForwardedPPS, bare.CPUUsPerPacket
	res.ForwardedPPS2Gen = dp2.ForwardedPPS
	return res, nil
}

// preparePorts hands r0 and r1 to userspace with dataplane/link (addresses
// flushed, IPv6 and kernel ARP off, offloads off) and returns the undo.
func (t *topology) preparePorts() (func(), error) {
	var m *link.Manager
	if err := t.router.Do(func() (err error) { m, err = link.Open(); return err }); err != nil {
		return nil, err
	}
	var prepared []*link.Prepared
	release := func() {
		for _, p := range prepared {
			_ = p.Release()
		}
		m.Close()
	}
	for _, port := range []string{ifR0, ifR1} {
		p, err := m.Prepare(port, link.PrepareOptions{Force: true})
		if err != nil {
			release()
			return nil, err
		}
		prepared = append(prepared, p)
	}
	return release, nil
}

// phase runs fwd (nil: the kernel forwards) in the router namespace, then
// the generators for d, and reads the sink and the CPU clocks around it.
func (t *topology) phase(ctx context.Context, name string, gens []*generator, d time.Duration, fwd Forwarder) (Phase, error) {
	p := Phase{Name: name, Generators: len(gens)}
	var stop context.CancelFunc = func() {}
	fwdErr := make(chan error, 1)
	if fwd != nil {
		fctx, cancel := context.WithCancel(ctx)
		stop = cancel
		ready := make(chan struct{})
		env := t.env(func() { close(ready) })
		go func() {
			fwdErr <- t.router.Do(func() error { return fwd(fctx, env) })
		}()
		select {
		case <-ready:
		case err := <-fwdErr:
			cancel()
			return p, fmt.Errorf("fwdbench: %s did not start: %v", name, err)
		case <-time.After(10 * time.Second):
			cancel()
			return p, fmt.Errorf("fwdbench: %s did not call Ready within 10 s", name)
		}
	}
	defer stop()

	cpu0, sys0, sink0 := processCPU(), processSys(), t.sinkRx()
	start := make(chan struct{})
	results := make(chan genResult, len(gens))
	var abort atomic.Bool
	stopAbort := context.AfterFunc(ctx, func() { abort.Store(true) })
	defer stopAbort()
	for _, g := range gens {
		go g.run(d, start, &abort, results)
	}
	close(start)
	var genCPU, genSys time.Duration
	var elapsed time.Duration
	var genErr error
	for range gens {
		r := <-results
		p.Offered += r.sent
		genCPU += r.cpu
		genSys += r.sys
		elapsed = max(elapsed, r.elapsed)
		if r.err != nil && genErr == nil {
			genErr = r.err
		}
	}
	time.Sleep(drain)
	sink1, cpu1, sys1 := t.sinkRx(), processCPU(), processSys()

	if fwd != nil {
		stop()
		select {
		case err := <-fwdErr:
			if err != nil {
				return p, fmt.Errorf("fwdbench: %s: %w", name, err)
			}
		case <-time.After(10 * time.Second):
			return p, fmt.Errorf("fwdbench: %s did not return within 10 s of cancel", name)
		}
	}
	if genErr != nil {
		return p, fmt.Errorf("fwdbench: generator: %w", genErr)
	}
	if err := ctx.Err(); err != nil {
		return p, err
	}
	p.Seconds = elapsed.Seconds()
	p.Forwarded = sink1 - sink0
	p.OfferedPPS = float64(p.Offered) / p.Seconds
	p.ForwardedPPS = float64(p.Forwarded) / p.Seconds
	if p.Offered > 0 {
		p.LossPct = 100 * (1 - float64(min(p.Forwarded, p.Offered))/float64(p.Offered))
	}
	if p.Offered > 0 {
		p.GeneratorCPUUsPerPacket = float64(genCPU.Microseconds()) / float64(p.Offered)
	}
	if fwd != nil && p.Forwarded > 0 {
		fwdCPU := cpu1 - cpu0 - genCPU
		p.CPUUsPerPacket = float64(fwdCPU.Nanoseconds()) / 1e3 / float64(p.Forwarded)
		if fwdCPU > 0 {
			p.CPUSysPct = 100 * float64(sys1-sys0-genSys) / float64(fwdCPU)
		}
	}
	return p, nil
}
