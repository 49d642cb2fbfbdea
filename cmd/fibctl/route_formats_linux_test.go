package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/internal/netnstest"
)

// TestRouteLoadFormats: route load reads a real `ip route` dump (taken
// from a namespace the test programs) and an MRT RIB dump (WriteMRT's, as
// gobgp's parser reads it), gzip or not, found from the content.
func TestRouteLoadFormats(t *testing.T) {
	netnstest.Require(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "fibd.sock")
	d := startFibd(t, sock, "--socket", sock, "--state", filepath.Join(dir, "state.json"))
	d.ok("fib", "add", "10")
	d.ok("fib", "add", "20")
	d.ok("port", "bind", "lo", "--vlan", "100", "--fib", "10")
	d.ok("port", "bind", "lo", "--vlan", "200", "--fib", "20")
	for _, p := range []string{"lo.100", "lo.200"} {
		d.ok("addr", "add", "192.0.2.1/24", "dev", p)
		d.ok("addr", "add", "2001:db8:1::1/64", "dev", p)
	}

	// A Linux router's table, as `ip route` prints it.
	ns := netnstest.New(t, "rl")
	ns.Exec("ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1") // no dummy module here
	ns.Exec("ip", "link", "set", "d1", "up")
	ns.Exec("ip", "link", "set", "d0", "up")
	ns.Exec("ip", "addr", "add", "192.0.2.1/24", "dev", "d0")
	ns.Exec("ip", "-6", "addr", "add", "2001:db8:1::1/64", "dev", "d0", "nodad")
	ns.Exec("ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.2", "proto", "static")
	ns.Exec("ip", "route", "add", "203.0.113.0/25", "proto", "bgp", "nexthop", "via", "192.0.2.2", "weight", "1",
		"nexthop", "via", "192.0.2.3", "weight", "3")
	ns.Exec("ip", "route", "add", "blackhole", "203.0.113.128/25")
	ns.Exec("ip", "route", "add", "unreachable", "198.18.0.0/24")
	ns.Exec("ip", "-6", "route", "add", "2001:db8:ff::/48", "via", "2001:db8:1::10")
	dump := ns.Exec("ip", "route", "show") + ns.Exec("ip", "-6", "route", "show")
	file := filepath.Join(dir, "iproute.txt")
	if err := os.WriteFile(file, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := d.ctl("route", "load", file, "--fib", "10", "--dev", "lo.100", "--quiet")
	if code != 0 || !strings.Contains(out, "loaded 5 routes") || !strings.Contains(errOut, "skipped") {
		t.Fatalf("ip route load: %d %q %q\nfrom:\n%s", code, out, errOut, dump)
	}
	for addr, want := range map[string]string{
		"198.51.100.7":   "next hop: 192.0.2.2 dev lo.100",
		"203.0.113.7":    "192.0.2.3",
		"203.0.113.200":  "blackhole",
		"198.18.0.1":     "unreachable",
		"2001:db8:ff::1": "next hop: 2001:db8:1::10",
	} {
		if got := d.ok("route", "get", addr, "--fib", "10"); !strings.Contains(got, want) {
			t.Errorf("route get %s lacks %q:\n%s", addr, want, got)
		}
	}

	// An MRT dump of the first 3000 IPv4 and 1000 IPv6 routes of the
	// shipped tables into FIB 20.
	v4, _ := tables.LoadV4()
	v6, _ := tables.LoadV6()
	routes := append(v4[:3000:3000], v6[:1000]...)
	mrt := filepath.Join(dir, "rib.mrt")
	f, err := os.Create(mrt)
	if err != nil {
		t.Fatal(err)
	}
	if err := tables.WriteMRT(f, routes); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out = d.ok("route", "load", mrt, "--fib", "20", "--via", "192.0.2.2", "--via", "192.0.2.3", "--via", "2001:db8:1::2", "--quiet")
	if !strings.Contains(out, "loaded 4000 routes into fib 20") {
		t.Fatalf("mrt load said %q", out)
	}
	got := d.ok("route", "get", routes[0].Prefix.Addr().String(), "--fib", "20")
	if !strings.Contains(got, routes[0].Prefix.String()) {
		t.Fatalf("route get %s:\n%s", routes[0].Prefix, got)
	}
	if got := d.ok("route", "get", "198.51.100.7", "--fib", "20"); strings.Contains(got, "198.51.100.0/24 source") {
		t.Fatalf("fib 10's ip route table leaked into fib 20:\n%s", got)
	}
	d.fails([]string{"route", "load", mrt, "--fib", "20", "--format", "bogus", "--via", "192.0.2.2"}, "--format")
}
