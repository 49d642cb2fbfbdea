//go:build linux

package dataplane_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/backend"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/netnstest"
)

// TestJumboFramesAFPacket: a client and a server on 9000-byte links, and
// a second server on a 1500-byte one, all in FIB 10. A 9000-byte ping (v4
// and v6, DF set) crosses the router whole; a 200 kB HTTP upload goes
// through in jumbo segments; towards the 1500-byte link the router answers
// "fragmentation needed" / "packet too big" with MTU 1500, the client's
// kernel learns it, and the same upload goes through (PMTU discovery).
func TestJumboFramesAFPacket(t *testing.T) {
	needTools(t, "ping", "curl")
	tp := newTopo(t, backend.AFPacket)
	rc, rj, rs := netnstest.Name("j"), netnstest.Name("j"), netnstest.Name("j")
	client := tp.host("jc", rc, tp.rtr, 9000, []string{"192.0.2.10/24", "2001:db8:1::10/64"}, "192.0.2.1", "2001:db8:1::1")
	jumbo := tp.host("jj", rj, tp.rtr, 9000, []string{"198.51.100.10/24", "2001:db8:2::10/64"}, "198.51.100.1", "2001:db8:2::1")
	small := tp.host("js", rs, tp.rtr, 1500, []string{"203.0.113.10/24", "2001:db8:3::10/64"}, "203.0.113.1", "2001:db8:3::1")
	cp := tp.bind(rc, 0, 10, "192.0.2.1/24", "2001:db8:1::1/64")
	tp.bind(rj, 0, 10, "198.51.100.1/24", "2001:db8:2::1/64")
	tp.bind(rs, 0, 10, "203.0.113.1/24", "2001:db8:3::1/64")
	serveHTTP(t, jumbo.NS, "jumbo")
	serveHTTP(t, small.NS, "small")

	port := func(id adj.PortID) dataplane.PortInfo {
		for _, p := range tp.e.Ports() {
			if p.ID == id {
				return p
			}
		}
		t.Fatalf("no port %d", id)
		return dataplane.PortInfo{}
	}
	before := port(cp).Counters
	run(t, client.NS, true, "ping", "-c", "3", "-i", "0.2", "-W", "2", "-M", "do", "-s", "8972", "198.51.100.10")
	run(t, client.NS, true, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "-M", "do", "-s", "8952", "2001:db8:2::10")
	after := port(cp).Counters
	if after.Drops["truncated"] != 0 {
		t.Fatalf("%d frames truncated on the jumbo port", after.Drops["truncated"])
	}
	if pkts, bytes := after.RxPackets-before.RxPackets, after.RxBytes-before.RxBytes; pkts < 6 || bytes < 6*9000 {
		t.Fatalf("the client port received %d frames, %d bytes: the 9000-byte pings did not cross whole", pkts, bytes)
	}

	body := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(body, []byte(strings.Repeat("fibd jumbo ", 200_000/11+1)[:200_000]), 0o644); err != nil {
		t.Fatal(err)
	}
	upload := func(url, want string) {
		t.Helper()
		out := run(t, client.NS, true, "curl", "-sS", "--max-time", "15", "--data-binary", "@"+body, url)
		wantIn(t, out, want)
	}
	upload("http://198.51.100.10/", "jumbo got 200000 bytes")
	upload("http://[2001:db8:2::10]/", "jumbo got 200000 bytes")

	// Towards the 1500-byte link: told, learnt, and the upload fits.
	out, _ := client.Try("ping", "-c", "2", "-i", "0.3", "-W", "1", "-M", "do", "-s", "8972", "203.0.113.10")
	if !strings.Contains(out, "mtu = 1500") && !strings.Contains(out, "mtu=1500") {
		t.Fatalf("no fragmentation-needed with MTU 1500 from the router:\n%s", out)
	}
	out, _ = client.Try("ping", "-6", "-c", "2", "-i", "0.3", "-W", "1", "-M", "do", "-s", "8952", "2001:db8:3::10")
	if !strings.Contains(out, "mtu=1500") && !strings.Contains(out, "mtu = 1500") {
		t.Fatalf("no packet-too-big with MTU 1500 from the router:\n%s", out)
	}
	upload("http://203.0.113.10/", "small got 200000 bytes")
	upload("http://[2001:db8:3::10]/", "small got 200000 bytes")
	if tb := port(cp).Counters.Drops["too-big"]; tb == 0 {
		t.Fatal("no too-big drops counted for the DF packets towards the 1500-byte link")
	}
}

// TestJumboInterfaceRefusedByXDP: an interface whose MTU needs frames
// longer than an AF_XDP chunk holds is refused with --io=xdp, saying why,
// and --io=auto opens it with AF_PACKET.
func TestJumboInterfaceRefusedByXDP(t *testing.T) {
	netnstest.Require(t)
	ns := netnstest.New(t, "jx")
	a, b := netnstest.Name("j"), netnstest.Name("j")
	netnstest.Veth(t, a, ns, b, ns)
	ns.Exec("ip", "link", "set", a, "mtu", "9000")
	ns.Exec("ip", "link", "set", a, "up")
	for kind, want := range map[string]string{backend.XDP: "MTU needs frames longer", backend.Auto: backend.AFPacket} {
		open, err := backend.Opener(kind, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ios []dataplane.PacketIO
		var got string
		err = ns.Do(func() error {
			var oerr error
			ios, got, oerr = open(a, 0, dataplane.OpenOptions{FrameCap: 9022})
			return oerr
		})
		for _, io := range ios {
			io.Close()
		}
		switch {
		case kind == backend.XDP && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("--io=xdp on a 9000-byte MTU: %v, want refused (%q)", err, want)
		case kind == backend.Auto && (err != nil || got != want):
			t.Errorf("--io=auto on a 9000-byte MTU: backend %q, %v; want %s", got, err, want)
		}
	}
}
