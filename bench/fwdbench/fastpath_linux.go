package fwdbench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/fibd/fibd/bench/rounds"
	"github.com/fibd/fibd/internal/netnstest"
)

// The fast-path comparison: the kernel, fibd's user-space engine and fibd's
// in-kernel fast path forward the same traffic on the same topology, driven
// by a generator fast enough not to be the limit, and the CPU each spends
// per packet is measured where XDP runs — in softirq, which no process's
// CPU time shows — as the busy time of all cores.
//
// The generator is the kernel's own: BPF_PROG_RUN of an XDP program in
// live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES), which transmits a frame
// per run with XDP_TX out of src0, one thread pinned per CPU. Each run
// rewrites the destination's last 16 bits from a per-CPU counter and the
// IPv4 identification by the opposite amount, so the header checksum stays
// right without being computed (UDP checksum 0). On veth the frames then
// reach r0's XDP program in the receiving queue's NAPI on the same CPU,
// so each CPU runs generator, forwarder and sink back to back.

// RunFastPath runs the comparison on a topology of its own.
func RunFastPath(ctx context.Context, o FastPathOptions) (*FastPathResult, error) {
	s := netnstest.NewScope()
	defer s.Close()
	var res *FastPathResult
	err := s.Run(func() {
		var err error
		res, err = runFastPath(ctx, s, o)
		if err != nil {
			s.Fatalf("%v", err)
		}
	})
	return res, err
}

func runFastPath(ctx context.Context, tb netnstest.TB, o FastPathOptions) (*FastPathResult, error) {
	if o.Duration == 0 {
		o.Duration = 2 * time.Second
	}
	if o.Rounds == 0 {
		o.Rounds = 3
	}
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if o.FastPath == nil {
		o.FastPath = FIBDFastPath(o.FullTable, true, nil)
	}
	if o.Dataplane == nil {
		o.Dataplane = FIBDFastPath(o.FullTable, false, nil)
	}
	// One generator thread per CPU, each on its own queue of src0 and r0:
	// veth runs the receiving NAPI in the sending CPU's softirq, so each
	// CPU runs generator, forwarder and sink back to back.
	threads := runtime.NumCPU()
	t := newTopology(tb, SinkXDP, threads)
	t.readyTimeout = 10 * time.Minute
	gen, err := newLiveGen(t, threads)
	if err != nil {
		return nil, err
	}
	defer gen.close()

	trial := func() (trialOut, error) {
		var to trialOut
		// A forwarder that just stopped leaves work behind (the kernel
		// freeing millions of LPM trie nodes after RCU grace periods, Go's
		// GC): it would land in this trial's busy time.
		waitQuiet(ctx, logf)
		sink0 := t.sinkRx()
		b0, err := busySeconds()
		if err != nil {
			return to, err
		}
		to.offered, to.secs, err = gen.run(ctx, o.Duration)
		if err != nil {
			return to, err
		}
		time.Sleep(drain)
		b1, err := busySeconds()
		if err != nil {
			return to, err
		}
		to.busy = b1 - b0
		to.forwarded = t.sinkRx() - sink0
		return to, nil
	}
	rows := map[string][]FastPathRow{}
	var genPPS, genCPU []float64
	var ppsK, cpuK, cpuD []float64
	var runNs, runCnt uint64
	for round := range o.Rounds {
		// Generator only.
		detach, err := netnstest.XDPAction(t.router, ifR0, netnstest.XDPDrop)
		if err != nil {
			return nil, err
		}
		base, err := trial()
		detach()
		if err != nil {
			return nil, err
		}
		perOffered := base.busy / float64(max(base.offered, 1))
		genPPS = append(genPPS, float64(base.offered)/base.secs)
		genCPU = append(genCPU, perOffered*1e6)
		row := func(name string, to trialOut) FastPathRow {
			r := FastPathRow{Name: name, OfferedPPS: float64(to.offered) / to.secs, ForwardedPPS: float64(to.forwarded) / to.secs}
			if to.offered > 0 {
				r.LossPct = 100 * (1 - float64(min(to.forwarded, to.offered))/float64(to.offered))
			}
			if to.forwarded > 0 {
				r.CPUUsPerPacket = (to.busy - perOffered*float64(to.offered)) / float64(to.forwarded) * 1e6
			}
			rows[name] = append(rows[name], r)
			logf("fast path round %d: %s offered %.0f pps, forwarded %.0f pps (loss %.2f %%), %.3f µs CPU per packet",
				round+1, name, r.OfferedPPS, r.ForwardedPPS, r.LossPct, r.CPUUsPerPacket)
			return r
		}
		// The kernel.
		t.kernelRouting()
		detach, err = netnstest.XDPAction(t.router, ifR0, netnstest.XDPPass)
		if err != nil {
			return nil, err
		}
		kt, err := trial()
		detach()
		t.router.Exec("ip", "route", "del", DestPrefix.String())
		t.router.Exec("ip", "addr", "flush", "dev", ifR0)
		t.router.Exec("ip", "addr", "flush", "dev", ifR1)
		t.noKernelRouting()
		if err != nil {
			return nil, err
		}
		k := row("kernel", kt)
		// fibd, user space only.
		d, err := t.fibdTrial(ctx, "fibd-xdp-user-space", o.Dataplane, trial)
		if err != nil {
			return nil, err
		}
		dr := row("fibd-xdp-user-space", d)
		// fibd with the fast path.
		var ft trialOut
		var ns, cnt uint64
		ft, ns, cnt, err = t.fastTrial(ctx, o.FastPath, trial, func() error {
			_, _, err := gen.run(ctx, min(o.Duration, time.Second))
			return err
		})
		if err != nil {
			return nil, err
		}
		runNs += ns
		runCnt += cnt
		fr := row("fibd-fast-path", ft)
		if os.Getenv("FIBD_FP_DEBUG") != "" {
			for _, x := range []struct {
				ns  *netnstest.NS
				ifn string
			}{{t.src, ifSrc}, {t.router, ifR0}, {t.router, ifR1}, {t.dst, ifSink}} {
				logf("%s: %s", x.ifn, x.ns.Exec("ethtool", "-S", x.ifn))
			}
		}
		ppsK = append(ppsK, fr.ForwardedPPS/k.ForwardedPPS)
		if k.CPUUsPerPacket > 0 {
			cpuK = append(cpuK, fr.CPUUsPerPacket/k.CPUUsPerPacket)
		}
		if dr.CPUUsPerPacket > 0 {
			cpuD = append(cpuD, fr.CPUUsPerPacket/dr.CPUUsPerPacket)
		}
	}
	res := &FastPathResult{Method: fastPathMethod, Rounds: o.Rounds, Threads: threads, FullTable: o.FullTable,
		GeneratorPPS: rounds.Median(genPPS), GeneratorCPUUsPerPacket: rounds.Median(genCPU)}
	for _, name := range []string{"kernel", "fibd-xdp-user-space", "fibd-fast-path"} {
		res.Rows = append(res.Rows, medianRow(name, rows[name]))
	}
	k, d, f := res.Rows[0], res.Rows[1], res.Rows[2]
	res.KernelForwardedPPS, res.KernelCPUUsPerPacket = k.ForwardedPPS, k.CPUUsPerPacket
	res.DataplanePPS, res.DataplaneCPUUsPerPkt = d.ForwardedPPS, d.CPUUsPerPacket
	res.FastPathPPS, res.FastPathLossPct, res.FastPathCPUUsPerPacket = f.ForwardedPPS, f.LossPct, f.CPUUsPerPacket
	res.PPSVsKernel, res.PPSVsKernelMin, res.PPSVsKernelMax = rounds.Median(ppsK), slices.Min(ppsK), slices.Max(ppsK)
	if len(cpuK) > 0 {
		res.CPUVsKernel, res.CPUVsKernelMin, res.CPUVsKernelMax = rounds.Median(cpuK), slices.Min(cpuK), slices.Max(cpuK)
	}
	if len(cpuD) > 0 {
		res.CPUVsDataplane, res.CPUVsDataplaneMin, res.CPUVsDataplaneMax = rounds.Median(cpuD), slices.Min(cpuD), slices.Max(cpuD)
	}
	if runCnt > 0 {
		res.RunTimeNsPerRun = float64(runNs) / float64(runCnt)
	}
	res.Note = fmt.Sprintf("%d generator threads on %d CPUs; generator alone offers %.0f pps. The fast path row is "+
		"bounded by the cores, which also run the generator and the sink (veth runs the receiving NAPI on the sender's "+
		"CPU); fibd's user-space row is bounded by AF_XDP copy mode on veth and loses most of what is offered", threads,
		runtime.NumCPU(), res.GeneratorPPS)
	return res, nil
}

func medianRow(name string, rs []FastPathRow) FastPathRow {
	pick := func(f func(FastPathRow) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return rounds.Median(v)
	}
	return FastPathRow{Name: name,
		OfferedPPS:     pick(func(r FastPathRow) float64 { return r.OfferedPPS }),
		ForwardedPPS:   pick(func(r FastPathRow) float64 { return r.ForwardedPPS }),
		LossPct:        pick(func(r FastPathRow) float64 { return r.LossPct }),
		CPUUsPerPacket: pick(func(r FastPathRow) float64 { return r.CPUUsPerPacket }),
	}
}

// trialOut is what one generator trial measured; busy is in core-seconds.
type trialOut struct {
	offered, forwarded uint64
	secs, busy         float64
}

// fibdTrial starts fwd, runs one trial, stops it.
func (t *topology) fibdTrial(ctx context.Context, name string, fwd Forwarder, trial func() (trialOut, error)) (trialOut, error) {
	stop, err := t.startForwarder(ctx, name, fwd)
	if err != nil {
		return trialOut{}, err
	}
	to, err := trial()
	if serr := stop(); err == nil {
		err = serr
	}
	return to, err
}

// fastTrial is fibdTrial for the fast path, then a second, shorter trial
// with kernel.bpf_stats_enabled on for the program's run time and run
// count (of the instance on r0, where the traffic arrives). The two are
// separate because the statistics read the clock twice per program run,
// every program's (generator and sink included): in this VM that clock
// read cost about as much as the fast path's lookup.
func (t *topology) fastTrial(ctx context.Context, fwd Forwarder, trial func() (trialOut, error), statsTrial func() error) (trialOut, uint64, uint64, error) {
	stop, err := t.startForwarder(ctx, "fibd-fast-path", fwd)
	if err != nil {
		return trialOut{}, 0, 0, err
	}
	defer stop()
	to, err := trial()
	if err != nil {
		return to, 0, 0, err
	}
	p, err := attachedProgram(t.router, ifR0)
	if err != nil {
		return to, 0, 0, err
	}
	defer p.Close()
	restore := enableBPFStats()
	s0, err := p.Stats()
	if err == nil {
		err = statsTrial()
	}
	s1, serr := p.Stats()
	restore()
	if err == nil {
		err = serr
	}
	if err != nil {
		return to, 0, 0, err
	}
	if err := stop(); err != nil {
		return to, 0, 0, err
	}
	return to, uint64(s1.Runtime - s0.Runtime), s1.RunCount - s0.RunCount, nil
}
