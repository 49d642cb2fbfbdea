package fwdbench

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/internal/netnstest"
)

// liveGen is the live-frames XDP generator on src0.
type liveGen struct {
	t       *topology
	prog    *ebpf.Program
	ctr     *ebpf.Map
	frame   []byte
	ifindex int
	threads int
}

// genRepeat is how many frames one BPF_PROG_RUN call sends. Each call
// sets up and tears down a page pool (milliseconds), so calls must be
// long; but the receiving veth's NAPI runs only when a batch ends and
// the softirq gets its turn, and 4096 is what kept the rings from
// overflowing on this kernel while the call cost stays under 1 %.
var genRepeat = 4096

func newLiveGen(t *topology, threads int) (*liveGen, error) {
	frames, err := buildFrames(1, macR0, macSrc, SrcAddr, netip.PrefixFrom(DestPrefix.Addr(), 16))
	if err != nil {
		return nil, err
	}
	f := frames[0]
	// Destination 198.18.0.0 plus the counter in its last 16 bits, the
	// identification 0xffff minus the same: the header checksum is right
	// for every frame if it is right for this one.
	binary.BigEndian.PutUint16(f[14+18:], 0)
	binary.BigEndian.PutUint16(f[14+4:], 0xffff)
	binary.BigEndian.PutUint16(f[14+10:], 0)
	var s uint32
	for i := 14; i < 34; i += 2 {
		s += uint32(binary.BigEndian.Uint16(f[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	binary.BigEndian.PutUint16(f[14+10:], ^uint16(s))
	binary.BigEndian.PutUint16(f[34+6:], 0) // UDP checksum: none
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		return nil, fmt.Errorf("generator counter: %w", err)
	}
	const mask = 0xffff // 65536 destinations: DestPrefix's first /16
	// A live-frames run initialises a page's data once; forwarders rewrite
	// frames in place (MACs, TTL) and the page comes back to the pool, so
	// every run writes the whole header again before setting its own
	// destination.
	const hdr = 44
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.LoadMapPtr(asm.R1, m.FD()),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "tx"),
		asm.LoadMem(asm.R7, asm.R0, 0, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		asm.And.Imm(asm.R7, mask),
		asm.LoadMem(asm.R2, asm.R6, 0, asm.Word), // data
		asm.LoadMem(asm.R3, asm.R6, 4, asm.Word), // data_end
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, hdr),
		asm.JGT.Reg(asm.R4, asm.R3, "tx"),
	}
	for off := 0; off < hdr; off += 4 {
		insns = append(insns, asm.StoreImm(asm.R2, int16(off), int64(int32(binary.LittleEndian.Uint32(f[off:]))), asm.Word))
	}
	insns = append(insns,
		// dst[2:4] = k (big-endian)
		asm.Mov.Reg(asm.R5, asm.R7),
		asm.RSh.Imm(asm.R5, 8),
		asm.StoreMem(asm.R2, 14+18, asm.R5, asm.Byte),
		asm.StoreMem(asm.R2, 14+19, asm.R7, asm.Byte),
		// id = 0xffff - k
		asm.Mov.Imm(asm.R5, 0xffff),
		asm.Sub.Reg(asm.R5, asm.R7),
		asm.Mov.Reg(asm.R4, asm.R5),
		asm.RSh.Imm(asm.R4, 8),
		asm.StoreMem(asm.R2, 14+4, asm.R4, asm.Byte),
		asm.StoreMem(asm.R2, 14+5, asm.R5, asm.Byte),
		asm.Mov.Imm(asm.R0, 3).WithSymbol("tx"), // XDP_TX
		asm.Return(),
	)
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "fibd_bench_gen", Type: ebpf.XDP, License: "MIT", Instructions: insns})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("generator program: %w", err)
	}
	g := &liveGen{t: t, prog: p, ctr: m, frame: f, threads: threads}
	if err := t.src.Do(func() error {
		ifi, err := net.InterfaceByName(ifSrc)
		if err != nil {
			return err
		}
		g.ifindex = ifi.Index
		return nil
	}); err != nil {
		g.close()
		return nil, err
	}
	return g, nil
}

func (g *liveGen) close() {
	g.prog.Close()
	g.ctr.Close()
}

// xdpMD is struct xdp_md, the context BPF_PROG_RUN takes for XDP.
type xdpMD struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

// run sends flat out for d from one thread pinned to each CPU, in the src
// namespace, and returns the frames sent and the seconds it took.
func (g *liveGen) run(ctx context.Context, d time.Duration) (uint64, float64, error) {
	var mu sync.Mutex
	var sent uint64
	var firstErr error
	var wg sync.WaitGroup
	t0 := time.Now()
	deadline := t0.Add(d)
	for cpu := range g.threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := g.t.src.Do(func() error {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var set unix.CPUSet
				set.Set(cpu)
				if err := unix.SchedSetaffinity(0, &set); err != nil {
					return err
				}
				var n uint64
				defer func() {
					mu.Lock()
					sent += n
					mu.Unlock()
				}()
				for time.Now().Before(deadline) && ctx.Err() == nil {
					_, err := g.prog.Run(&ebpf.RunOptions{Data: g.frame, Repeat: uint32(genRepeat),
						Flags: unix.BPF_F_TEST_XDP_LIVE_FRAMES, Context: xdpMD{DataEnd: uint32(len(g.frame)), IngressIfindex: uint32(g.ifindex)}})
					if err != nil {
						return fmt.Errorf("live-frames run: %w", err)
					}
					n += uint64(genRepeat)
				}
				return nil
			})
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return sent, time.Since(t0).Seconds(), firstErr
}

// attachedProgram opens the native XDP program attached to ifname in ns.
func attachedProgram(ns *netnstest.NS, ifname string) (*ebpf.Program, error) {
	var id uint32
	if err := ns.Do(func() error {
		l, err := netlink.LinkByName(ifname)
		if err != nil {
			return err
		}
		if x := l.Attrs().Xdp; x != nil {
			id = x.ProgId
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if id == 0 {
		return nil, fmt.Errorf("no XDP program on %s", ifname)
	}
	return ebpf.NewProgramFromID(ebpf.ProgramID(id))
}

// busySeconds returns the core-seconds all CPUs have not been idle
// (/proc/stat: every field but idle and iowait), at USER_HZ resolution.
func busySeconds() (float64, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 8 || fs[0] != "cpu" {
			continue
		}
		var busy uint64
		for i, v := range fs[1:] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, err
			}
			// user nice system idle iowait irq softirq steal guest guest_nice;
			// guest time is already in user.
			if i == 3 || i == 4 || i >= 8 {
				continue
			}
			busy += n
		}
		return float64(busy) / 100, nil // USER_HZ is 100 on Linux
	}
	return 0, fmt.Errorf("/proc/stat has no cpu line")
}

// enableBPFStats switches kernel.bpf_stats_enabled on (the program's
// run_time_ns and run_cnt count only while it is); the returned function
// puts it back.
func enableBPFStats() func() {
	const path = "/proc/sys/kernel/bpf_stats_enabled"
	old, err := os.ReadFile(path)
	if err != nil {
		return func() {}
	}
	if os.WriteFile(path, []byte("1"), 0) != nil {
		return func() {}
	}
	return func() { _ = os.WriteFile(path, old, 0) }
}

// waitQuiet waits (at most 30 s) until the cores have been idle for most
// of a quarter of a second: busy less than 5 % of the CPUs' time.
func waitQuiet(ctx context.Context, logf func(string, ...any)) {
	const window = 250 * time.Millisecond
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		b0, err := busySeconds()
		if err != nil {
			return
		}
		time.Sleep(window)
		b1, err := busySeconds()
		if err != nil {
			return
		}
		if (b1-b0)/(window.Seconds()*float64(runtime.NumCPU())) < 0.05 {
			return
		}
	}
	logf("fast path: the machine did not go quiet within 30 s; measuring anyway")
}
