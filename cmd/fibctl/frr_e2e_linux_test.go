package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/internal/routingd"
	"github.com/fibd/fibd/internal/testenv"
)

// The FRR configuration a user copies (README "Use with FRR"): zebra in
// FIB 10's namespace with the FPM module pointed at the listener, staticd
// with a route, bgpd peering with customer A's router over fibd's port.
const (
	frrZebraConf = `hostname fib10-zebra
fpm address 127.0.0.1 port 2620
`
	frrStaticConf = `hostname fib10-staticd
ipv6 route 2001:db8:ff::/48 2001:db8:1::10
`
	frrBGPConf = `hostname fib10-bgpd
router bgp 64500
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 timers bgp 3 9
 neighbor 192.0.2.10 remote-as 64501
 neighbor 192.0.2.10 timers connect 2
 address-family ipv4 unicast
  neighbor 192.0.2.10 activate
 exit-address-family
`
	// Customer A's router announces two /25s, each in a static protocol
	// of its own so the test can withdraw one.
	frrBIRDConf = `router id 192.0.2.10;
protocol device {}
protocol static lower { ipv4; route 203.0.113.0/25 blackhole; }
protocol static upper { ipv4; route 203.0.113.128/25 blackhole; }
protocol bgp fibd {
  local 192.0.2.10 as 64501;
  neighbor 192.0.2.1 as 64500;
  connect delay time 1;
  connect retry time 2;
  hold time 9;
  ipv4 { import none; export where source = RTS_STATIC; };
}
`
)

// bgpRig is the founding example (hostRig) plus a client of customer A
// behind another FIB 10 port (c-cli, 198.51.100.0/24 — a subnet FIB 20
// also has, behind its own port) and BIRD 2 as customer A's router,
// announcing 203.0.113.0/25 and 203.0.113.128/25 (A answers 203.0.113.1
// and .129) to 192.0.2.1 AS 64500: whatever BGP speaker runs in FIB 10.
type bgpRig struct {
	*hostRig
	c    *netnstest.NS
	bird *routingd.BIRD
	cl   *client.Conn
	in10 routingd.Wrap
}

func newBGPRig(t *testing.T) *bgpRig {
	testenv.RequireTool(t, "bird", "birdc")
	r := &bgpRig{hostRig: newHostRig(t)}
	r.c = netnstest.New(t, "hc")
	netnstest.NamedVeth(t, r.c, "eth0", r.router, "c-cli")
	r.c.Exec("ip", "addr", "add", "198.51.100.10/24", "dev", "eth0")
	r.c.Exec("ip", "route", "add", "default", "via", "198.51.100.1")
	r.d.ok("port", "bind", "c-cli", "--fib", "10")
	r.d.ok("addr", "add", "198.51.100.1/24", "dev", "c-cli")
	r.a.Exec("ip", "addr", "add", "203.0.113.1/32", "dev", "lo")
	r.a.Exec("ip", "addr", "add", "203.0.113.129/32", "dev", "lo")
	var err error
	if r.cl, err = client.Dial(client.Options{Socket: r.sock}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cl.Close() })
	r.in10 = func(argv ...string) *exec.Cmd {
		return exec.Command(r.d.fibctl, append([]string{"--socket", r.sock, "exec", "--fib", "10", "--"}, argv...)...)
	}
	if r.bird, err = routingd.StartBIRD(filepath.Join(r.dir, "bird"), r.a.Command, frrBIRDConf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.bird.Proc.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bird:\n%s", r.bird.Proc.Out)
		}
	})
	return r
}

// startFeed runs `fibctl feed ARGS…` in FIB 10's namespace and waits for
// its start line.
func (r *bgpRig) startFeed(ready string, args ...string) *routingd.Proc {
	r.t.Helper()
	p, err := routingd.Start("fibctl feed", r.in10, append([]string{r.d.fibctl, "--socket", r.sock, "feed"}, args...)...)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(p.Stop)
	r.t.Cleanup(func() {
		if r.t.Failed() {
			r.t.Logf("fibctl feed %s:\n%s", args[0], p.Out)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.Out.String(), ready); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("feed %s did not start:\n%s", args[0], p.Out)
		}
	}
	return p
}

// frrRig is bgpRig with FRR in FIB 10's namespace fed to fibd through
// `fibctl feed fpm`.
type frrRig struct {
	*bgpRig
	frr *routingd.FRR
	fpm *routingd.Proc
}

func newFRRRig(t *testing.T) *frrRig {
	testenv.RequireTool(t, "vtysh")
	r := &frrRig{bgpRig: newBGPRig(t)}
	// The listener, in FIB 10's namespace as zebra is (it reaches fibd
	// through fibd's unix socket).
	r.fpm = r.startFeed("fpm listening", "fpm", "--fib", "10", "--quiet-period", "2s", "--verbose")
	var err error
	if r.frr, err = routingd.NewFRR(r.in10); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.frr.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("FRR:\n%s", r.frr.Logs())
		}
	})
	r.startFRR()
	return r
}

// startFRR starts zebra with the FPM module, then staticd and bgpd.
func (r *frrRig) startFRR() {
	r.t.Helper()
	for _, d := range []struct {
		name, conf string
		extra      []string
	}{{"zebra", frrZebraConf, []string{"-M", "dplane_fpm_nl"}}, {"staticd", frrStaticConf, nil}, {"bgpd", frrBGPConf, nil}} {
		if _, err := r.frr.Start(d.name, d.conf, d.extra...); err != nil {
			r.t.Fatal(err)
		}
	}
}

// lookup is where fibd forwards addr in fib: the gateway, or the
// resolution ("miss", "unresolved", ...).
func (r *bgpRig) lookup(fib uint32, addr string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := r.cl.LookupRoute(ctx, &fibdpb.LookupRouteRequest{FibId: fib, Address: addr})
	if err != nil {
		return "error: " + err.Error()
	}
	if gw := resp.GetNextHop(); gw != "" && resp.GetResolution() == fibdpb.Resolution_RESOLUTION_GATEWAY {
		return gw
	}
	return strings.ToLower(strings.TrimPrefix(resp.GetResolution().String(), "RESOLUTION_"))
}

func (r *bgpRig) await(what string, timeout time.Duration, fn func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for !fn() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *bgpRig) awaitRoute(fib uint32, addr, want string, timeout time.Duration) {
	r.t.Helper()
	var got string
	r.await(fmt.Sprintf("%s in fib %d to be %s", addr, fib, want), timeout, func() bool {
		got = r.lookup(fib, addr)
		return got == want
	})
}

// routesOf counts source's routes in fib.
func (r *bgpRig) routesOf(fib uint32, source string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := r.cl.ListRoutes(ctx, &fibdpb.ListRoutesRequest{FibId: &fib, Source: source})
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for {
		resp, err := st.Recv()
		if err != nil {
			return n
		}
		n += len(resp.GetRoutes())
	}
}

// TestFRRFeedsFIB10: FRR inside FIB 10 — bgpd peering with customer A's
// BIRD over a fibd port, staticd — feeds FIB 10 through zebra's FPM; the
// routes forward real pings from another FIB 10 customer, FIB 20 has none
// of them, a withdraw removes, and zebra killed with SIGKILL and restarted
// (FRR restarted as watchfrr does) loses no surviving prefix at any time,
// while what went stale meanwhile is swept.
func TestFRRFeedsFIB10(t *testing.T) {
	r := newFRRRig(t)
	// BGP up, both /25s learned and installed; staticd's IPv6 route too.
	r.awaitRoute(10, "203.0.113.1", "192.0.2.10", 60*time.Second)
	r.awaitRoute(10, "203.0.113.129", "192.0.2.10", 10*time.Second)
	r.awaitRoute(10, "2001:db8:ff::1", "2001:db8:1::10", 10*time.Second)

	// Real forwarding: customer C in FIB 10 reaches A's networks.
	for _, dst := range []string{"203.0.113.1", "203.0.113.129"} {
		if out, err := r.c.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", dst); err != nil {
			t.Fatalf("ping %s from FIB 10's customer C: %v\n%s", dst, err, out)
		}
	}
	// A BGP session inside a VRF: what bgpd learned is FIB 10's only.
	if n := r.routesOf(20, "fpm"); n != 0 {
		t.Fatalf("fib 20 has %d fpm routes", n)
	}
	if got := r.lookup(20, "203.0.113.1"); got != "miss" {
		t.Fatalf("fib 20 forwards 203.0.113.1: %s", got)
	}
	if out, err := r.b.Try("ping", "-c", "1", "-W", "1", "203.0.113.1"); err == nil {
		t.Fatalf("customer B in FIB 20 reached A's 203.0.113.1:\n%s", out)
	}
	// zebra holds them as installed, and reads fibd's offload answers
	// (FRR 8.4 counts them in "show fpm counters"; FRR ≥ 8.5 also marks
	// the routes offloaded).
	out, err := r.frr.Vtysh("show ip route 203.0.113.0/25")
	if err != nil || !strings.Contains(out, "bgp") || !strings.Contains(out, "192.0.2.10") {
		t.Fatalf("zebra's route: %v\n%s", err, out)
	}
	r.await("zebra reading fibd's offload answers", 10*time.Second, func() bool {
		out, _ := r.frr.Vtysh("show fpm counters")
		return fpmCounter(out, "Input bytes") > 0
	})

	// Withdraw: A stops announcing the high /25.
	if out, err := r.bird.Ctl("disable upper"); err != nil {
		t.Fatalf("birdc: %v\n%s", err, out)
	}
	r.awaitRoute(10, "203.0.113.129", "miss", 20*time.Second)
	if _, err := r.bird.Ctl("enable upper"); err != nil {
		t.Fatal(err)
	}
	r.awaitRoute(10, "203.0.113.129", "192.0.2.10", 30*time.Second)

	// zebra crashes, and FRR restarts as watchfrr restarts it when zebra
	// dies: every daemon (bgpd, staticd). A zebra restarted alone would
	// not do: FRR 8.4's bgpd never replays its routes to a new zebra
	// (FRRouting/frr#22362, fixed in 2026), so zebra, the kernel and —
	// rightly — fibd would lose them. While FRR is down A withdraws the
	// high /25. The new zebra resends what its daemons give it once they
	// are up and BGP is re-established; fibd's resync closes only after
	// that, so the surviving routes never miss, and the stale /25 goes at
	// the resync's end.
	m := r.watchMisses(map[string]string{"203.0.113.1": "192.0.2.10", "2001:db8:ff::1": "2001:db8:1::10"})
	resyncs := strings.Count(r.fpm.Out.String(), "fpm resync closed")
	r.frr.Proc("zebra").Kill()
	r.frr.Proc("bgpd").Stop()
	r.frr.Proc("staticd").Stop()
	if _, err := r.bird.Ctl("disable upper"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	r.startFRR()
	r.await("the restarted zebra's resync to close", 60*time.Second, func() bool {
		return strings.Count(r.fpm.Out.String(), "fpm resync closed") > resyncs
	})
	resync := time.Since(start)
	r.awaitRoute(10, "203.0.113.129", "miss", 5*time.Second)
	time.Sleep(500 * time.Millisecond) // a few more lookups after the sweep
	m.end(t, fmt.Sprintf("FRR restart (resync closed %.1fs after the start, stale /25 swept)", resync.Seconds()))
	// The restarted FRR's routes forward.
	if out, err := r.c.Try("ping", "-c", "2", "-i", "0.2", "-W", "2", "203.0.113.1"); err != nil {
		t.Fatalf("ping after FRR's restart: %v\n%s", err, out)
	}
}

// fpmCounter reads one line of zebra's "show fpm counters".
func fpmCounter(out, name string) int {
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == name {
			var n int
			fmt.Sscan(strings.TrimSpace(v), &n)
			return n
		}
	}
	return 0
}
