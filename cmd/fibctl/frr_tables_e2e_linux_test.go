package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/internal/routingd"
	"github.com/fibd/fibd/internal/testenv"
)

// TestFRRTablesMapToFIBs: one zebra outside any FIB with VRF-lite tables
// (staticd routes in kernel tables 10, 20 and 30) feeds fibd through
// `fibctl feed fpm --table 10=10 --table 20=20`: each table's routes land
// in its FIB only, and table 30's, mapped to none, are ignored and counted.
// (Kernel VRF devices, whose tables FRR replays on every connection, are
// what this mapping is for; this kernel has no VRF module, so the test uses
// "table N" routes of the default VRF.)
func TestFRRTablesMapToFIBs(t *testing.T) {
	netnstest.Require(t)
	testenv.RequireTool(t, "vtysh")
	dir := t.TempDir()
	sock := filepath.Join(dir, "fibd.sock")
	d := startFibd(t, sock, "--socket", sock, "--state", filepath.Join(dir, "state.json"))
	for _, f := range []struct{ id, port string }{{"10", "lo.100"}, {"20", "lo.200"}} {
		d.ok("fib", "add", f.id)
		d.ok("port", "bind", "lo", "--vlan", strings.TrimPrefix(f.port, "lo."), "--fib", f.id)
		d.ok("addr", "add", "192.0.2.1/24", "dev", f.port)
	}
	// zebra's namespace: a link on 192.0.2.0/24 so the gateways resolve.
	z := netnstest.New(t, "zt")
	z.Exec("ip", "link", "add", "z0", "type", "veth", "peer", "name", "z1")
	z.Exec("ip", "link", "set", "z0", "up")
	z.Exec("ip", "link", "set", "z1", "up")
	z.Exec("ip", "addr", "add", "192.0.2.1/24", "dev", "z0")

	feed, err := routingd.Start("fibctl feed fpm", z.Command, d.fibctl, "--socket", sock, "feed", "fpm",
		"--table", "10=10", "--table", "20=20", "--quiet-period", "1s", "--stats-every", "1s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(feed.Stop)
	frr, err := routingd.NewFRR(z.Command)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(frr.Close)
	t.Cleanup(func() {
		if t.Failed() {
			rt, _ := frr.Vtysh("show ip route table all")
			st, _ := frr.Vtysh("show running-config")
			t.Logf("FRR:\n%s\n%s\n%s\nfeed:\n%s", rt, st, frr.Logs(), feed.Out)
		}
	})
	if _, err := frr.Start("zebra", "fpm address 127.0.0.1 port 2620\n", "-M", "dplane_fpm_nl"); err != nil {
		t.Fatal(err)
	}
	// staticd starts once zebra's FPM connection is up: FRR 8.4 replays
	// only each VRF's main tables on a connection (fpm_rib_send walks
	// rib_tables_iter_next), not the default VRF's other tables, so
	// routes of those reach the listener only as they are installed.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(feed.Out.String(), "zebra connected"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("zebra did not connect:\n%s", feed.Out)
		}
	}
	if _, err := frr.Start("staticd", `ip route 198.51.100.0/24 192.0.2.2 table 10
ip route 198.51.100.0/24 192.0.2.3 table 20
ip route 203.0.113.0/24 192.0.2.2 table 30
ip route 198.18.0.0/24 blackhole table 20
`); err != nil {
		t.Fatal(err)
	}
	cl, err := client.Dial(client.Options{Socket: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r := &bgpRig{hostRig: &hostRig{t: t}, cl: cl}
	r.awaitRoute(10, "198.51.100.7", "192.0.2.2", 30*time.Second)
	r.awaitRoute(20, "198.51.100.7", "192.0.2.3", 10*time.Second)
	r.awaitRoute(20, "198.18.0.1", "blackhole", 10*time.Second)
	for _, c := range []struct {
		fib  uint32
		addr string
	}{{10, "198.18.0.1"}, {10, "203.0.113.1"}, {20, "203.0.113.1"}} {
		if got := r.lookup(c.fib, c.addr); got != "miss" {
			t.Errorf("fib %d forwards %s: %s (another table's route)", c.fib, c.addr, got)
		}
	}
	// The counters are logged while they change, not only at the end.
	r.await("the counters with table 30 ignored", 10*time.Second, func() bool {
		for _, l := range strings.Split(feed.Out.String(), "\n") {
			if strings.Contains(l, "fpm counters") && strings.Contains(l, "table 30 (mapped to no FIB)") {
				return true
			}
		}
		return false
	})
}
