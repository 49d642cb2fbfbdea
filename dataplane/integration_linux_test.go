//go:build linux

package dataplane_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/fibd/fibd/dataplane/backend"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/netnstest"
)

// customer is one customer's hosts: a client on its own port, a client
// behind the shared VLAN trunk, and a server. Both customers use exactly
// the same addresses.
type customer struct {
	name          string
	fib           adj.FIBID
	vlan          uint16
	client, trunk *host
	server        *host
	clientPort    adj.PortID
	serverPort    adj.PortID
	trunkPort     adj.PortID
}

const serverMTU = 1280

// twoCustomers builds the topology around a fibd engine using
// packet I/O kind:
//
//	cA ── ra1 ┐            ┌ ra2 ── sA     FIB 10
//	cB ── rb1 ┤  fibd (rt) ├ rb2 ── sB     FIB 20
//	          └ trunk ─ switch ─┬─ tA (VLAN 100 → FIB 10)
//	                            └─ tB (VLAN 200 → FIB 20)
//
// Clients are 192.0.2.10 (trunk clients 203.0.113.10), servers
// 198.51.100.10 behind a 1280-byte link, in both FIBs; IPv6 likewise in
// 2001:db8::/32. Each server also owns 2001:db8:99::10, reached through a
// route whose next hop is the server's link-local fe80::10.
func twoCustomers(t *testing.T, kind string) (*topo, []*customer) {
	tp := newTopo(t, kind)
	sw := netnstest.New(t, "sw")
	trunkR, trunkS := netnstest.Name("t"), netnstest.Name("t")
	netnstest.Veth(t, trunkR, tp.rtr, trunkS, sw)
	access := map[uint16]string{}
	var cs []*customer
	for i, c := range []*customer{{name: "customer A", fib: 10, vlan: 100}, {name: "customer B", fib: 20, vlan: 200}} {
		rc, rs := netnstest.Name("r"), netnstest.Name("r")
		tag := string(rune('a' + i))
		c.client = tp.host("c"+tag, rc, tp.rtr, 0, []string{"192.0.2.10/24", "2001:db8:1::10/64"}, "192.0.2.1", "2001:db8:1::1")
		c.server = tp.host("s"+tag, rs, tp.rtr, serverMTU, []string{"198.51.100.10/24", "2001:db8:2::10/64", "fe80::10/64"}, "198.51.100.1", "2001:db8:2::1")
		c.server.Exec("ip", "-6", "addr", "add", "2001:db8:99::10/128", "dev", "lo")
		sp := netnstest.Name("s")
		access[c.vlan] = sp
		c.trunk = tp.host("t"+tag, sp, sw, 0, []string{"203.0.113.10/24", "2001:db8:3::10/64"}, "203.0.113.1", "2001:db8:3::1")
		// The test switch copies frames through plain packet sockets, which
		// would carry a veth's partial checksums as they are: let the
		// trunk hosts compute theirs, as hosts behind a real switch do.
		c.trunk.Exec("ethtool", "-K", c.trunk.ifname, "tx", "off", "tso", "off", "gso", "off")
		c.clientPort = tp.bind(rc, 0, c.fib, "192.0.2.1/24", "2001:db8:1::1/64")
		c.serverPort = tp.bind(rs, 0, c.fib, "198.51.100.1/24", "2001:db8:2::1/64")
		c.trunkPort = tp.bind(trunkR, c.vlan, c.fib, "203.0.113.1/24", "2001:db8:3::1/64")
		if err := tp.fib(c.fib).Add(fib.Route{Prefix: netip.MustParsePrefix("2001:db8:99::/64"), Source: "static", Preference: fib.PrefStatic,
			Paths: []fib.Path{{Kind: fib.PathGateway, Gateway: netip.MustParseAddr("fe80::10"), Port: c.serverPort}}}); err != nil {
			t.Fatal(err)
		}
		serveHTTP(t, c.server.NS, c.name)
		cs = append(cs, c)
	}
	sw.Exec("ip", "link", "set", trunkS, "up")
	startSwitch(t, sw, trunkS, access)
	return tp, cs
}

func TestTwoCustomersAFPacket(t *testing.T) { testTwoCustomers(t, backend.AFPacket) }
func TestTwoCustomersXDP(t *testing.T)      { testTwoCustomers(t, backend.XDP) }

func testTwoCustomers(t *testing.T, kind string) {
	needTools(t, "ping", "curl", "traceroute", "ethtool")
	tp, cs := twoCustomers(t, kind)
	ping := func(h *host, args ...string) []string {
		return append([]string{"ping", "-c", "2", "-i", "0.2", "-W", "2"}, args...)
	}
	curl := func(args ...string) []string {
		return append([]string{"curl", "-sS", "--max-time", "10"}, args...)
	}
	for _, c := range cs {
		for _, h := range []*host{c.client, c.trunk} {
			gw4, gw6 := "192.0.2.1", "2001:db8:1::1"
			if h == c.trunk {
				gw4, gw6 = "203.0.113.1", "2001:db8:3::1"
			}
			where := fmt.Sprintf("%s %s", c.name, map[bool]string{true: "trunk", false: "client"}[h == c.trunk])
			t.Run(where+"/gateway answers ping", func(t *testing.T) {
				wantIn(t, run(t, h.NS, true, ping(h, gw4)...), "from "+gw4)
				wantIn(t, run(t, h.NS, true, ping(h, "-6", gw6)...), "from "+gw6)
			})
			t.Run(where+"/reaches its own server", func(t *testing.T) {
				run(t, h.NS, true, ping(h, "198.51.100.10")...)
				wantIn(t, run(t, h.NS, true, curl("http://198.51.100.10/")...), c.name+"\n")
				wantIn(t, run(t, h.NS, true, curl("-6", "http://[2001:db8:2::10]/")...), c.name+"\n")
			})
		}
		t.Run(c.name+"/ttl expiry answered by the router", func(t *testing.T) {
			wantIn(t, run(t, c.client.NS, false, "ping", "-c", "1", "-t", "1", "-W", "2", "198.51.100.10"), "From 192.0.2.1", "Time to live exceeded")
			wantIn(t, run(t, c.client.NS, false, "ping", "-6", "-c", "1", "-t", "1", "-W", "2", "2001:db8:2::10"), "From 2001:db8:1::1", "Time exceeded")
			out := run(t, c.client.NS, true, "traceroute", "-n", "-q", "1", "-w", "2", "-m", "4", "198.51.100.10")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) < 3 || !strings.Contains(lines[1], "192.0.2.1 ") || !strings.Contains(lines[2], "198.51.100.10") {
				t.Fatalf("traceroute:\n%s", out)
			}
		})
		t.Run(c.name+"/unknown destination is unreachable", func(t *testing.T) {
			wantIn(t, run(t, c.client.NS, false, "ping", "-c", "1", "-W", "2", "198.18.5.5"), "Destination Net Unreachable")
			wantIn(t, run(t, c.client.NS, false, "ping", "-6", "-c", "1", "-W", "2", "2001:db8:77::1"), "No route")
		})
		t.Run(c.name+"/path MTU", func(t *testing.T) {
			out := run(t, c.client.NS, false, "ping", "-c", "2", "-i", "0.3", "-W", "2", "-M", "do", "-s", "1400", "198.51.100.10")
			wantIn(t, out, "mtu = 1280")
			out = run(t, c.client.NS, false, "ping", "-6", "-c", "2", "-i", "0.3", "-W", "2", "-M", "do", "-s", "1400", "2001:db8:2::10")
			wantIn(t, out, "mtu=1280")
			// A 200 kB upload crosses the 1280-byte link only if path MTU
			// discovery completes (the client's TCP starts at 1500).
			for _, url := range []string{"http://198.51.100.10/", "http://[2001:db8:2::10]/"} {
				wantIn(t, run(t, c.client.NS, true, "sh", "-c", "head -c 200000 /dev/zero | curl -sS --max-time 20 --data-binary @- "+url),
					fmt.Sprintf("%s got 200000 bytes", c.name))
			}
		})
		t.Run(c.name+"/link-local next hop", func(t *testing.T) {
			run(t, c.client.NS, true, ping(c.client, "-6", "2001:db8:99::10")...)
		})
	}
	t.Run("forwarded counters rose in both FIBs", func(t *testing.T) {
		fc := tp.e.FIBCounters()
		for _, c := range cs {
			if fc[c.fib].Forwarded < 20 {
				t.Fatalf("FIB %d forwarded %d", c.fib, fc[c.fib].Forwarded)
			}
			for _, p := range tp.e.Ports() {
				if p.ID == c.clientPort && p.Counters.Forwarded == 0 {
					t.Fatalf("port %s forwarded nothing: %+v", p.Name, p.Counters)
				}
				if p.Backend != kind {
					t.Fatalf("port %s runs on %s, want %s", p.Name, p.Backend, kind)
				}
				// The backend's own counters prove which path moved the
				// packets.
				rx, tx := "afpacket_rx_frames", "afpacket_tx_frames"
				if kind == backend.XDP {
					rx, tx = "xdp_rx_packets", "xdp_tx_packets"
				}
				if p.IO[rx] == 0 || p.IO[tx] == 0 {
					t.Fatalf("port %s: %s=%d %s=%d", p.Name, rx, p.IO[rx], tx, p.IO[tx])
				}
			}
		}
	})
}
