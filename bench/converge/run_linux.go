package converge

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/bench/fibdproc"
	"github.com/fibd/fibd/bench/rounds"
	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/dataplane/hoststack"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/internal/routingd"
)

const (
	poll    = 100 * time.Millisecond
	ribPoll = 500 * time.Millisecond
)

// Run runs the benchmark.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.Rounds = cmp.Or(cfg.Rounds, 3)
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Minute)
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	s := netnstest.NewScope()
	defer s.Close()
	var res *Result
	err := s.Run(func() { res = run(ctx, s, cfg) })
	return res, err
}

// dut is a daemon under test: how to start and stop its session with the
// speaker, and how many of the speaker's routes it has installed.
type dut struct {
	name  string
	peer  string // the speaker's neighbor address for it
	count func() (int, error)
	// rib, when set, counts the routes in the daemon's own RIB, timed in
	// the same polls (gobgpd: its global RIB).
	rib func() (int, error)
	// diag says what the daemons say, for a failure report.
	diag func() string
	// cpu, when set, reads the CPU time of the processes to account.
	cpu func() (fibd, feed time.Duration)

	// arrived, when set, says how long after the last session-up the feed
	// had received n paths from the daemon (from its log).
	arrived func(n int) float64
	up      time.Time

	times, ribTimes, fibdCPU, feedCPU, arrivals []float64
}

func (c Config) wants(path string) bool { return len(c.Paths) == 0 || slices.Contains(c.Paths, path) }

func run(ctx context.Context, s *netnstest.Scope, cfg Config) *Result {
	v4, err := tables.LoadV4()
	if err != nil {
		s.Fatalf("%v", err)
	}
	if cfg.Routes > 0 && cfg.Routes < len(v4) {
		v4 = v4[:cfg.Routes]
	}
	n := len(v4)
	work, err := os.MkdirTemp("", "fibbench-converge-")
	if err != nil {
		s.Fatalf("%v", err)
	}
	s.Cleanup(func() { os.RemoveAll(work) })
	mrt := filepath.Join(work, "ipv4.mrt")
	f, err := os.Create(mrt)
	if err != nil {
		s.Fatalf("%v", err)
	}
	if err := tables.WriteMRT(f, v4); err != nil {
		s.Fatalf("%v", err)
	}
	f.Close()

	speaker := netnstest.New(s, "cv-s")
	router := netnstest.New(s, "cv-r")
	kern := netnstest.New(s, "cv-k")
	netnstest.NamedVeth(s, speaker, "eth0", router, "p0")
	netnstest.NamedVeth(s, speaker, "eth1", kern, "eth0")
	netnstest.NamedVeth(s, speaker, "eth2", router, "p1")
	speaker.Exec("ip", "addr", "add", "203.0.113.10/24", "dev", "eth2")
	speaker.Exec("ip", "addr", "add", "192.0.2.10/24", "dev", "eth0")
	speaker.Exec("ip", "addr", "add", "198.51.100.10/24", "dev", "eth1")
	kern.Exec("ip", "addr", "add", "198.51.100.1/24", "dev", "eth0")

	// fibd, FIB 10 on p0 with its host stack, where FRR runs.
	prefix := netnstest.Name("cv") + "-fib"
	s.Cleanup(func() {
		list, _ := hoststack.List(prefix)
		for _, ns := range list {
			_ = ns.Remove()
		}
	})
	proc, err := fibdproc.Start(ctx, fibdproc.Options{Path: cfg.FibdPath, NetNS: router.Name, IO: "afpacket",
		Args: []string{"--host-netns-prefix", prefix}})
	if err != nil {
		s.Fatalf("fibd: %v", err)
	}
	s.Cleanup(proc.Stop)
	c := proc.Conn
	on := true
	for _, fib := range []struct {
		id         uint32
		port, addr string
	}{{10, "p0", "192.0.2.1/24"}, {20, "p1", "203.0.113.1/24"}} {
		for _, step := range []func() error{
			func() error { _, err := c.CreateFib(ctx, &fibdpb.CreateFibRequest{FibId: fib.id}); return err },
			func() error {
				_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: fib.port, FibId: fib.id})
				return err
			},
			func() error {
				_, err := c.AddAddress(ctx, &fibdpb.AddAddressRequest{Port: fib.port, Prefix: fib.addr})
				return err
			},
			func() error {
				_, err := c.SetFibSettings(ctx, &fibdpb.SetFibSettingsRequest{FibId: fib.id, Settings: &fibdpb.FibSettings{HostStack: &on}})
				return err
			},
		} {
			if err := step(); err != nil {
				s.Fatalf("configuring fibd: %v", err)
			}
		}
	}
	inFIB := func(fib string) routingd.Wrap {
		return func(argv ...string) *exec.Cmd {
			return exec.Command(cfg.FibctlPath, append([]string{"--socket", proc.Socket, "exec", "--fib", fib, "--"}, argv...)...)
		}
	}
	in10, in20 := inFIB("10"), inFIB("20")
	// The host namespaces appear a moment after the host stacks are on.
	for _, in := range []routingd.Wrap{in10, in20} {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if out, err := in("true").CombinedOutput(); err == nil {
				break
			} else if time.Now().After(deadline) {
				s.Fatalf("a FIB's host namespace: %v %s", err, out)
			}
		}
	}
	var duts []*dut
	if cfg.wants("frr-fpm") || cfg.wants("frr-kernel") {
		feed, err := routingd.Start("fibctl feed fpm", in10, cfg.FibctlPath, "--socket", proc.Socket, "feed", "fpm", "--fib", "10")
		if err != nil {
			s.Fatalf("%v", err)
		}
		s.Cleanup(feed.Stop)
		fpmFRR := startFRR(s, in10, "192.0.2.10", true)
		kernFRR := startFRR(s, kern.Command, "198.51.100.10", false)
		duts = append(duts,
			&dut{name: "frr-fpm", peer: "192.0.2.1", count: func() (int, error) { return fibRoutes(ctx, proc, 10, "fpm") },
				diag: func() string { return frrDiag(fpmFRR) + "\nfeed fpm:\n" + feed.Out.String() },
				cpu: func() (time.Duration, time.Duration) {
					a, _ := proc.CPU()
					b, _ := fibdproc.CPUOf(feed.Cmd.Process.Pid)
					return a, b
				}},
			&dut{name: "frr-kernel", peer: "198.51.100.1", count: func() (int, error) { return kernelRoutes(kern) },
				diag: func() string { return frrDiag(kernFRR) }})
	}
	if cfg.wants("gobgp") {
		g, err := routingd.StartGoBGPD(filepath.Join(work, "gobgpd"), in20, dutGoBGPConf)
		if err != nil {
			s.Fatalf("%v", err)
		}
		s.Cleanup(g.Stop)
		args := []string{"--socket", proc.Socket, "feed", "gobgp", "--fib", "20", "--gobgpd", "unix://" + g.Socket(), "--verbose"}
		if cfg.FeedProfile != "" {
			args = append(args, "--cpuprofile", cfg.FeedProfile)
		}
		feed, err := routingd.Start("fibctl feed gobgp", in20, append([]string{cfg.FibctlPath}, args...)...)
		if err != nil {
			s.Fatalf("%v", err)
		}
		s.Cleanup(feed.Stop)
		gd := &dut{name: "gobgp", peer: "203.0.113.1",
			count: func() (int, error) { return fibRoutes(ctx, proc, 20, "gobgp") },
			rib: func() (int, error) {
				n, err := g.Destinations(ctx, api.Family_AFI_IP)
				return int(n), err
			},
			diag: func() string { return "gobgpd:\n" + g.Proc.Out.String() + "\nfeed gobgp:\n" + feed.Out.String() },
			cpu: func() (time.Duration, time.Duration) {
				a, _ := proc.CPU()
				b, _ := fibdproc.CPUOf(feed.Cmd.Process.Pid)
				return a, b
			}}
		gd.arrived = func(n int) float64 { return watchArrival(feed.Out.String(), gd.up, n) }
		duts = append(duts, gd)
	}
	if len(duts) == 0 {
		s.Fatalf("no path to measure in %v (frr-fpm, frr-kernel, gobgp)", cfg.Paths)
	}

	// The speaker, loaded with the table; next hop 0.0.0.0 is gobgpd's
	// "self", the session's local address.
	sp, err := routingd.StartGoBGPD(filepath.Join(work, "speaker"), speaker.Command, speakerConf)
	if err != nil {
		s.Fatalf("%v", err)
	}
	s.Cleanup(sp.Stop)
	t0 := time.Now()
	if out, err := sp.CLI(ctx, "mrt", "inject", "global", "--no-ipv6", "--nexthop", "0.0.0.0", mrt); err != nil {
		s.Fatalf("gobgp mrt inject: %v\n%s", err, out)
	}
	for {
		d, err := sp.Destinations(ctx, api.Family_AFI_IP)
		if err == nil && int(d) >= n {
			break
		}
		if time.Since(t0) > cfg.Timeout {
			s.Fatalf("the speaker holds %d of %d routes after %v", d, n, cfg.Timeout)
		}
		time.Sleep(poll)
	}
	res := &Result{Rounds: cfg.Rounds, Routes: n, InjectS: time.Since(t0).Seconds(), PollS: poll.Seconds()}
	cfg.Log("speaker loaded with %d routes in %.1fs", n, res.InjectS)

	for r := range cfg.Rounds {
		// Alternate who goes first, so a drift in machine speed is shared.
		order := make([]int, len(duts))
		for i := range order {
			order[i] = i
		}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, i := range order {
			d := duts[i]
			var c0f, c0e time.Duration
			if d.cpu != nil {
				c0f, c0e = d.cpu()
			}
			secs, ribSecs := converge(ctx, s, sp, d, n, cfg)
			d.times = append(d.times, secs)
			if d.rib != nil {
				d.ribTimes = append(d.ribTimes, ribSecs)
			}
			if d.cpu != nil {
				c1f, c1e := d.cpu()
				d.fibdCPU = append(d.fibdCPU, (c1f - c0f).Seconds())
				d.feedCPU = append(d.feedCPU, (c1e - c0e).Seconds())
			}
			if d.arrived != nil {
				d.arrivals = append(d.arrivals, d.arrived(n))
			}
			cfg.Log("round %d %-10s %d routes in %.2fs (%.0f routes/s; own RIB %.2fs)", r+1, d.name, n, secs, float64(n)/secs, ribSecs)
			drain(ctx, s, sp, d, cfg.Timeout)
		}
	}
	byName := map[string]*dut{}
	for _, d := range duts {
		byName[d.name] = d
	}
	if f, k := byName["frr-fpm"], byName["frr-kernel"]; f != nil && k != nil {
		res.FRRFPMConvergeS, res.FRRKernelConvergeS = rounds.Median(f.times), rounds.Median(k.times)
		res.FRRFPMRatio, res.FRRFPMRatioMin, res.FRRFPMRatioMax = rounds.Ratio(f.times, k.times)
		res.FPMRoutesPerS = float64(n) / res.FRRFPMConvergeS
		res.FibdCPUS, res.FeedCPUS = rounds.Median(f.fibdCPU), rounds.Median(f.feedCPU)
	}
	if g := byName["gobgp"]; g != nil {
		res.GoBGPConvergeS, res.GoBGPRIBS = rounds.Median(g.times), rounds.Median(g.ribTimes)
		res.GoBGPRatio, res.GoBGPRatioMin, res.GoBGPRatioMax = rounds.Ratio(g.times, g.ribTimes)
		res.GoBGPRoutesPerS = float64(n) / res.GoBGPConvergeS
		res.GoBGPFibdCPUS, res.GoBGPFeedCPUS = rounds.Median(g.fibdCPU), rounds.Median(g.feedCPU)
		res.GoBGPWatchS = rounds.Median(g.arrivals)
	}
	return res
}

// dutGoBGPConf is the gobgpd under test, in FIB 20's namespace.
const dutGoBGPConf = `[global.config]
  as = 65536
  router-id = "203.0.113.1"

[[neighbors]]
  [neighbors.config]
    neighbor-address = "203.0.113.10"
    peer-as = 65537
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`

// The speaker and the daemons under test use RFC 5398's 32-bit
// documentation ASNs: the MRT's paths carry the 16-bit ones (64496–64511)
// as their origins, and a daemon drops a path with its own AS in it.
var speakerConf = speakerConfig(65537, "192.0.2.10", map[string]string{
	"192.0.2.1": "192.0.2.10", "198.51.100.1": "198.51.100.10", "203.0.113.1": "203.0.113.10"})

// speakerConfig is the speaker's gobgpd configuration: eBGP to every
// neighbor (neighbor address → local address), AS 65536, each
// administratively down until its round.
func speakerConfig(as uint32, routerID string, neighbors map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[global.config]\n  as = %d\n  router-id = %q\n", as, routerID)
	for _, nb := range slices.Sorted(maps.Keys(neighbors)) {
		fmt.Fprintf(&b, `
[[neighbors]]
  [neighbors.config]
    neighbor-address = %q
    peer-as = 65536
    admin-down = true
  [neighbors.transport.config]
    local-address = %q
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`, nb, neighbors[nb])
	}
	return b.String()
}

// startFRR runs zebra (with the FPM module when fpm) and bgpd peering
// with the speaker at peer.
func startFRR(s *netnstest.Scope, wrap routingd.Wrap, peer string, fpm bool) *routingd.FRR {
	frr, err := routingd.NewFRR(wrap)
	if err != nil {
		s.Fatalf("%v", err)
	}
	s.Cleanup(frr.Close)
	zebra, extra := "hostname zebra\n", []string(nil)
	if fpm {
		zebra += "fpm address 127.0.0.1 port 2620\n"
		extra = []string{"-M", "dplane_fpm_nl"}
	}
	if _, err := frr.Start("zebra", zebra, extra...); err != nil {
		s.Fatalf("%v", err)
	}
	bgp := fmt.Sprintf(`hostname bgpd
router bgp 65536
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 neighbor %s remote-as 65537
 neighbor %s timers connect 1
 address-family ipv4 unicast
  neighbor %s activate
 exit-address-family
`, peer, peer, peer)
	if _, err := frr.Start("bgpd", bgp); err != nil {
		s.Fatalf("%v", err)
	}
	return frr
}

func frrDiag(frr *routingd.FRR) string {
	out, _ := frr.Vtysh("show bgp summary")
	fpm, _ := frr.Vtysh("show fpm counters")
	nht, _ := frr.Vtysh("show bgp nexthop")
	rt, _ := frr.Vtysh("show ip route summary")
	conn, _ := frr.Vtysh("show interface brief")
	return out + fpm + nht + rt + conn + frr.Logs()
}

// converge enables d's session and times it from established to the
// first poll that sees all n routes installed.
func converge(ctx context.Context, s *netnstest.Scope, sp *routingd.GoBGPD, d *dut, n int, cfg Config) (secs, ribSecs float64) {
	timeout := cfg.Timeout
	base, err := d.count()
	if err != nil {
		s.Fatalf("%s: %v", d.name, err)
	}
	if _, err := sp.Client.EnablePeer(ctx, &api.EnablePeerRequest{Address: d.peer}); err != nil {
		s.Fatalf("enable %s: %v", d.peer, err)
	}
	deadline := time.Now().Add(timeout)
	for !sp.Established(ctx, d.peer) {
		if time.Now().After(deadline) || time.Since(deadline.Add(-timeout)) > 2*time.Minute {
			s.Fatalf("%s: the session did not come up in 2 minutes", d.name)
		}
		time.Sleep(5 * time.Millisecond)
	}
	up := time.Now()
	d.up = up
	ribDone := d.rib == nil
	var lastRib time.Time
	for {
		// gobgpd's GetTable walks the whole table to count it: polled
		// every ribPoll only, so the measurement does not slow gobgpd.
		if !ribDone && time.Since(lastRib) >= ribPoll {
			lastRib = time.Now()
			if c, err := d.rib(); err == nil && c >= n {
				ribSecs, ribDone = time.Since(up).Seconds(), true
			}
		}
		c, err := d.count()
		if err != nil {
			s.Fatalf("%s: %v", d.name, err)
		}
		if c-base >= n && secs == 0 {
			secs = time.Since(up).Seconds()
		}
		if secs > 0 && ribDone {
			return secs, ribSecs
		}
		if time.Now().After(deadline) {
			s.Fatalf("%s: %d of %d routes after %v\n%s\nspeaker:\n%s", d.name, c-base, n, timeout, d.diag(), sp.Proc.Out)
		}
		if time.Since(up) > 10*time.Second && time.Since(up)%(5*time.Second) < poll {
			cfg.Log("%s: %d of %d routes after %.0fs", d.name, c-base, n, time.Since(up).Seconds())
		}
		time.Sleep(poll)
	}
}

// drain disables d's session and waits for its routes to go.
func drain(ctx context.Context, s *netnstest.Scope, sp *routingd.GoBGPD, d *dut, timeout time.Duration) {
	if _, err := sp.Client.DisablePeer(ctx, &api.DisablePeerRequest{Address: d.peer}); err != nil {
		s.Fatalf("disable %s: %v", d.peer, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		c, err := d.count()
		if err == nil && c == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.Fatalf("%s: %d routes left %v after the session went down", d.name, c, timeout)
		}
		time.Sleep(poll)
	}
}

// fibRoutes counts source's IPv4 routes in fib: what it forwards (a
// source's routes are all the FIB's but its connected and local ones).
func fibRoutes(ctx context.Context, proc *fibdproc.Proc, fib uint32, source string) (int, error) {
	st, err := proc.Conn.ListFibs(ctx, &fibdpb.ListFibsRequest{FibId: &fib})
	if err != nil {
		return 0, err
	}
	r, err := st.Recv()
	if err != nil {
		return 0, err
	}
	for _, f := range r.GetFibs() {
		for _, src := range f.GetSources() {
			if src.GetSource() == source {
				return int(src.GetRoutesV4()), nil
			}
		}
	}
	return 0, nil
}

// kernelRoutes counts the BGP routes (RTPROT_BGP) of the main table in
// ns with one netlink dump, counting headers without decoding routes.
func kernelRoutes(ns *netnstest.NS) (int, error) {
	n := 0
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
		req := binary.NativeEndian.AppendUint32(nil, uint32(unix.NLMSG_HDRLEN+unix.SizeofRtMsg))
		req = binary.NativeEndian.AppendUint16(req, unix.RTM_GETROUTE)
		req = binary.NativeEndian.AppendUint16(req, unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
		req = binary.NativeEndian.AppendUint32(req, 1) // seq
		req = binary.NativeEndian.AppendUint32(req, 0) // pid
		req = append(req, make([]byte, unix.SizeofRtMsg)...)
		req[unix.NLMSG_HDRLEN] = unix.AF_INET
		if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return err
		}
		buf := make([]byte, 1<<20)
		for {
			m, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return err
			}
			msgs, err := syscall.ParseNetlinkMessage(buf[:m])
			if err != nil {
				return err
			}
			for _, msg := range msgs {
				switch msg.Header.Type {
				case unix.NLMSG_DONE:
					return nil
				case unix.NLMSG_ERROR:
					return fmt.Errorf("netlink dump error")
				}
				if len(msg.Data) >= unix.SizeofRtMsg && msg.Data[5] == unix.RTPROT_BGP && msg.Data[4] == unix.RT_TABLE_MAIN {
					n++
				}
			}
		}
	})
	return n, err
}

// watchArrival reads the gobgp feed's debug log ("gobgp watch batch ...
// received=N", slog text) and returns how long after up the feed had
// received n paths since up; 0 if the log does not say.
func watchArrival(log string, up time.Time, n int) float64 {
	got := 0
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "gobgp watch batch") {
			continue
		}
		ts, rest, ok := strings.Cut(strings.TrimPrefix(l, "time="), " ")
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || t.Before(up) {
			continue
		}
		for _, f := range strings.Fields(rest) {
			if v, ok := strings.CutPrefix(f, "paths="); ok {
				k, _ := strconv.Atoi(v)
				got += k
			}
		}
		if got >= n {
			return t.Sub(up).Seconds()
		}
	}
	return 0
}
