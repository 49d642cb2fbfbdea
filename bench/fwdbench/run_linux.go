package fwdbench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fibd/fibd/bench/rounds"
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
	if opt.Trial <= 0 {
		opt.Trial = time.Second
	}
	if opt.CPURounds <= 0 {
		opt.CPURounds = MinRounds
	}
	if opt.Rounds <= 0 {
		opt.Rounds = MinRounds
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
	if opt.Workers > 0 {
		return runScaling(ctx, tb, opt)
	}
	t := newTopology(tb, opt.Sink, 1)
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
		p, err := t.phase(ctx, name, gens[:ngen], opt.Duration, opt.Trial, fwd)
		if err == nil {
			opt.Log("%-10s %d gen: throughput: offered %7.0f pps, forwarded %7.0f pps, loss %4.2f%%, cpu %.3f µs/pkt (%.0f%% sys), generator %.3f µs/pkt; unthrottled: offered %7.0f, forwarded %7.0f, loss %4.1f%%",
				name, ngen, p.OfferedPPS, p.ForwardedPPS, p.LossPct, p.CPUUsPerPacket, p.CPUSysPct, p.GeneratorCPUUsPerPacket,
				p.UnthrottledOfferedPPS, p.UnthrottledForwardedPPS, p.UnthrottledLossPct)
			res.Phases = append(res.Phases, p)
		}
		return p, err
	}

	bareFwd := opt.Bare
	if bareFwd == nil {
		bareFwd = Bare
	}
	dp := bareFwd
	if opt.Dataplane != nil {
		dp = opt.Dataplane
	}
	apName := opt.AFPacketName
	if apName == "" {
		apName = "afpacket"
	}

	// Throughput with one generator, in opt.Rounds interleaved rounds: the
	// kernel and the dataplane (and AF_PACKET, for comparison) each
	// searched once per round, the kernel first in even rounds and last in
	// odd ones, so a change in machine speed during the run moves both
	// sides of a ratio together. Each ratio is the median of the per-round
	// ratios, with their range.
	var k1s, d1s, aps []Phase
	kernelRound := func() error {
		t.kernelRouting()
		defer t.noKernelRouting()
		k, err := measure("kernel", 1, nil)
		k1s = append(k1s, k)
		return err
	}
	userRound := func() error {
		release, err := t.preparePorts()
		if err != nil {
			return err
		}
		defer release()
		d, err := measure(opt.DataplaneName, 1, dp)
		if err != nil {
			return err
		}
		d1s = append(d1s, d)
		if opt.AFPacket != nil {
			a, err := measure(apName, 1, opt.AFPacket)
			if err != nil {
				return err
			}
			aps = append(aps, a)
		}
		return nil
	}
	for r := 0; r < opt.Rounds; r++ {
		first, second := kernelRound, userRound
		if r%2 == 1 {
			first, second = userRound, kernelRound
		}
		if err := first(); err != nil {
			return nil, err
		}
		if err := second(); err != nil {
			return nil, err
		}
	}
	pps := func(ps []Phase) []float64 {
		v := make([]float64, len(ps))
		for i, p := range ps {
			v[i] = p.ForwardedPPS
		}
		return v
	}
	dp1 := medianPhase(d1s)
	res.Rounds = opt.Rounds
	res.RatioVsKernel, res.RatioVsKernelMin, res.RatioVsKernelMax = rounds.Ratio(pps(d1s), pps(k1s))
	if opt.AFPacket != nil {
		ap := medianPhase(aps).ForwardedPPS
		res.AFPacketForwardedPPS = &ap
		r, lo, hi := rounds.Ratio(pps(d1s), pps(aps))
		res.RatioVsAFPacket, res.RatioVsAFPacketMin, res.RatioVsAFPacketMax = &r, &lo, &hi
	}

	t.kernelRouting()
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

	bare, err := measure("bare", 1, bareFwd)
	if err != nil {
		return nil, err
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
	// CPU per packet of the bare loop, the dataplane and the full-table
	// dataplane, all at one offered rate that each of them forwards, in
	// opt.CPURounds interleaved rounds: the median of each is kept, and the
	// ratios are medians of the per-round ratios, since on a shared machine
	// one run can be 10-20 % off.
	rate := 0.95 * dp1.ForwardedPPS
	if opt.FullTable != nil {
		rate = 0.95 * min(dp1.ForwardedPPS, *res.FullTableForwardedPPS)
	}
	res.CPURatePPS = rate
	type cpuRun struct {
		name string
		fwd  Forwarder
		out  *float64
		runs []float64
	}
	ft := new(float64)
	runs := []*cpuRun{{name: "bare", fwd: bareFwd, out: &res.BareCPUUsPerPacket},
		{name: opt.DataplaneName, fwd: dp, out: &res.DataplaneCPUUsPerPacket},
		{name: opt.DataplaneName + "-fulltable", fwd: opt.FullTable, out: ft}}
	for round := 0; round < opt.CPURounds && opt.Dataplane != nil; round++ {
		for k := range runs {
			c := runs[k]
			if round%2 == 1 {
				c = runs[len(runs)-1-k]
			}
			if c.fwd == nil {
				continue
			}
			p, err := t.cpuAt(ctx, c.name, gens[:1], opt.Duration, rate, c.fwd)
			if err != nil {
				return nil, err
			}
			opt.Log("%-10s cpu at %7.0f pps (round %d): forwarded %7.0f pps, loss %4.2f%%, cpu %.3f µs/pkt (%.0f%% sys)",
				c.name, rate, round+1, p.ForwardedPPS, p.LossPct, p.CPUUsPerPacket, p.CPUSysPct)
			res.Phases = append(res.Phases, p)
			c.runs = append(c.runs, p.CPUUsPerPacket)
		}
	}
	for _, c := range runs {
		if len(c.runs) > 0 {
			*c.out = rounds.Median(c.runs)
		}
	}
	if len(runs[1].runs) > 0 {
		res.CPURatioVsBare, res.CPURatioVsBareMin, res.CPURatioVsBareMax = rounds.Ratio(runs[1].runs, runs[0].runs)
		if len(runs[2].runs) > 0 {
			r, lo, hi := rounds.Ratio(runs[2].runs, runs[1].runs)
			res.FullTableCPURatio, res.FullTableCPURatioMin, res.FullTableCPURatioMax = &r, &lo, &hi
		}
	}
	if opt.FullTable != nil && opt.Dataplane != nil {
		res.FullTableCPUUsPerPacket = ft
	}
	if n := t.sinkICMPUnreachables(); n != 0 {
		return nil, fmt.Errorf("fwdbench: the sink sent %d ICMP destination unreachables", n)
	}

	if opt.Dataplane == nil || res.DataplaneCPUUsPerPacket == 0 {
		res.DataplaneCPUUsPerPacket = dp1.CPUUsPerPacket
	}
	if res.BareCPUUsPerPacket == 0 {
		res.BareCPUUsPerPacket = bare.CPUUsPerPacket
	}
	res.OfferedPPS, res.ForwardedPPS, res.LossPct = dp1.OfferedPPS, dp1.ForwardedPPS, dp1.LossPct
	res.UnthrottledOfferedPPS, res.UnthrottledForwardedPPS, res.UnthrottledLossPct = dp1.UnthrottledOfferedPPS, dp1.UnthrottledForwardedPPS, dp1.UnthrottledLossPct
	res.Method = method
	res.KernelForwardedPPS, res.KernelForwardedPPS2Gen = medianPhase(k1s).ForwardedPPS, k2.ForwardedPPS
	res.BareForwardedPPS = bare.ForwardedPPS
	res.ForwardedPPS2Gen = dp2.ForwardedPPS
	return res, nil
}

// medianPhase returns the phase with the median forwarded rate (the upper
// one of an even count).
func medianPhase(ps []Phase) Phase {
	s := slices.Clone(ps)
	slices.SortFunc(s, func(a, b Phase) int { return cmp.Compare(a.ForwardedPPS, b.ForwardedPPS) })
	return s[len(s)/2]
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

// Throughput is measured as RFC 2544 §26.1 defines it: the highest offered
// rate the forwarder passes without loss. A one-second unthrottled trial
// shows how fast the generators go; if that loses more than lossTarget, a
// binary search over paced trials finds the highest rate that does not,
// and the phase is measured for its full duration at that rate. The
// unthrottled figures are kept in the result too.
const (
	// lossTarget is the loss a passing trial may show: a handful of frames
	// lost at the edges of a trial are not the forwarder's capacity.
	lossTarget = 0.1
	// searchSteps bounds the binary search (the interval halves each time:
	// 6 steps resolve the rate to ~1.5 %).
	searchSteps = 6
)

// phase runs fwd (nil: the kernel forwards) in the router namespace and
// measures its throughput with the generators.
func (t *topology) phase(ctx context.Context, name string, gens []*generator, d, trial time.Duration, fwd Forwarder) (Phase, error) {
	stop, err := t.startForwarder(ctx, name, fwd)
	if err != nil {
		return Phase{Name: name, Generators: len(gens)}, err
	}
	defer stop()
	u, err := t.trial(ctx, gens, trial, 0, fwd != nil)
	if err != nil {
		return u, err
	}
	rate := 0.0
	if u.LossPct > lossTarget {
		lo, hi := 0.0, u.OfferedPPS
		guess := u.ForwardedPPS * 0.98
		for i := 0; i < searchSteps; i++ {
			tr, err := t.trial(ctx, gens, trial, guess, fwd != nil)
			if err != nil {
				return tr, err
			}
			if tr.LossPct <= lossTarget {
				lo = guess
			} else {
				hi = guess
			}
			guess = (lo + hi) / 2
		}
		rate = lo
		if rate == 0 {
			rate = guess
		}
	}
	p, err := t.trial(ctx, gens, d, rate, fwd != nil)
	for tries := 0; err == nil && p.LossPct > lossTarget && tries < 8; tries++ {
		// The long run lost more than its one-second trial: back off.
		if rate == 0 {
			rate = p.ForwardedPPS
		}
		rate *= 0.95
		p, err = t.trial(ctx, gens, d, rate, fwd != nil)
	}
	p.Name, p.Generators = name, len(gens)
	p.RatePPS = rate
	p.UnthrottledOfferedPPS, p.UnthrottledForwardedPPS, p.UnthrottledLossPct = u.OfferedPPS, u.ForwardedPPS, u.LossPct
	if err := stop(); err != nil {
		return p, fmt.Errorf("fwdbench: %s: %w", name, err)
	}
	return p, err
}

// cpuAt measures fwd's CPU per packet with the generators paced to rate:
// forwarders compared at one offered rate are compared on the same
// batching (a ring or socket batch holds more frames at higher rates, and
// the kernel's cost per frame falls with it).
func (t *topology) cpuAt(ctx context.Context, name string, gens []*generator, d time.Duration, rate float64, fwd Forwarder) (Phase, error) {
	stop, err := t.startForwarder(ctx, name, fwd)
	if err != nil {
		return Phase{Name: name}, err
	}
	defer stop()
	p, err := t.trial(ctx, gens, d, rate, true)
	p.Name, p.Generators, p.RatePPS = name+"@rate", len(gens), rate
	if err == nil {
		err = stop()
	}
	return p, err
}

// startForwarder starts fwd in the router namespace and waits until it is
// ready; the returned stop ends it and reports its error. A nil fwd (the
// kernel forwards) has nothing to start.
func (t *topology) startForwarder(ctx context.Context, name string, fwd Forwarder) (func() error, error) {
	if fwd == nil {
		return func() error { return nil }, nil
	}
	fctx, cancel := context.WithCancel(ctx)
	fwdErr := make(chan error, 1)
	ready := make(chan struct{})
	env := t.env(func() { close(ready) })
	go func() {
		fwdErr <- t.router.Do(func() error { return fwd(fctx, env) })
	}()
	select {
	case <-ready:
	case err := <-fwdErr:
		cancel()
		return nil, fmt.Errorf("fwdbench: %s did not start: %v", name, err)
	case <-time.After(cmp.Or(t.readyTimeout, 10*time.Second)):
		cancel()
		return nil, fmt.Errorf("fwdbench: %s did not call Ready within %v", name, cmp.Or(t.readyTimeout, 10*time.Second))
	}
	var once sync.Once
	var stopErr error
	return func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-fwdErr:
			case <-time.After(10 * time.Second):
				stopErr = fmt.Errorf("did not return within 10 s of cancel")
			}
		})
		return stopErr
	}, nil
}

// trial runs the generators for d (paced to rate in all, or unthrottled
// when rate is 0) and reads the sink and the CPU clocks around it.
// forwarder says whether a userspace forwarder is running (whose CPU per
// packet is then the process's CPU less the generators').
func (t *topology) trial(ctx context.Context, gens []*generator, d time.Duration, rate float64, forwarder bool) (Phase, error) {
	var p Phase
	cpu0, sys0, sink0 := processCPU(), processSys(), t.sinkRx()
	start := make(chan struct{})
	results := make(chan genResult, len(gens))
	var abort atomic.Bool
	stopAbort := context.AfterFunc(ctx, func() { abort.Store(true) })
	defer stopAbort()
	for _, g := range gens {
		go g.run(d, rate/float64(len(gens)), start, &abort, results)
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
		p.GeneratorCPUUsPerPacket = float64(genCPU.Microseconds()) / float64(p.Offered)
	}
	if forwarder && p.Forwarded > 0 {
		fwdCPU := cpu1 - cpu0 - genCPU
		p.CPUUsPerPacket = float64(fwdCPU.Nanoseconds()) / 1e3 / float64(p.Forwarded)
		if fwdCPU > 0 {
			p.CPUSysPct = 100 * float64(sys1-sys0-genSys) / float64(fwdCPU)
		}
	}
	return p, nil
}
