//go:build linux

package dataplane_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/backend"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/internal/vlanswitch"
)

func TestQinQTrunkAFPacket(t *testing.T) { testQinQTrunk(t, backend.AFPacket) }
func TestQinQTrunkXDP(t *testing.T)      { testQinQTrunk(t, backend.XDP) }

// testQinQTrunk terminates QinQ from a userspace access switch: two
// tenants share S-VLAN 100 with C-VLANs 201 and 202, a third has plain
// VLAN 100, all with the same addresses (192.0.2.10 behind the trunk,
// 198.51.100.10 as their server), each in its own FIB. Each tenant's
// request reaches its own server only, and a pair nobody bound reaches
// nothing. It runs with 802.1ad (0x88a8) and 802.1Q (0x8100) outer tags.
func testQinQTrunk(t *testing.T, kind string) {
	needTools(t, "ping", "curl", "ethtool")
	for _, tpid := range []uint16{vlanswitch.Dot1AD, vlanswitch.Dot1Q} {
		t.Run(fmt.Sprintf("outer %#04x", tpid), func(t *testing.T) {
			tp := newTopo(t, kind)
			sw := netnstest.New(t, "sw")
			trunkR, trunkS := netnstest.Name("t"), netnstest.Name("t")
			netnstest.Veth(t, trunkR, tp.rtr, trunkS, sw)
			type tenant struct {
				name string
				fib  adj.FIBID
				tags vlanswitch.Tags
				host *host
			}
			tenants := []*tenant{
				{name: "tenant A", fib: 10, tags: vlanswitch.Tags{TPID: tpid, Outer: 100, Inner: 201}},
				{name: "tenant B", fib: 20, tags: vlanswitch.Tags{TPID: tpid, Outer: 100, Inner: 202}},
				{name: "tenant C", fib: 30, tags: vlanswitch.Tags{TPID: vlanswitch.Dot1Q, Outer: 100}},
			}
			access := map[vlanswitch.Tags]string{}
			for i, tn := range tenants {
				tag := string(rune('a' + i))
				ap := netnstest.Name("a")
				access[tn.tags] = ap
				tn.host = tp.host("q"+tag, ap, sw, 0, []string{"192.0.2.10/24", "2001:db8:1::10/64"}, "192.0.2.1", "2001:db8:1::1")
				// The switch copies frames through packet sockets: no
				// partial checksums from the hosts behind it.
				tn.host.Exec("ethtool", "-K", tn.host.ifname, "tx", "off", "tso", "off", "gso", "off")
				rs := netnstest.Name("r")
				srv := tp.host("s"+tag, rs, tp.rtr, 0, []string{"198.51.100.10/24", "2001:db8:2::10/64"}, "198.51.100.1", "2001:db8:2::1")
				serveHTTP(t, srv.NS, tn.name)
				tp.bindSpec(dataplane.PortSpec{Interface: trunkR, VLAN: tn.tags.Outer, Inner: tn.tags.Inner, OuterTPID: tn.tags.TPID},
					tn.fib, "192.0.2.1/24", "2001:db8:1::1/64")
				tp.bind(rs, 0, tn.fib, "198.51.100.1/24", "2001:db8:2::1/64")
			}
			// A pair no port has: its host must reach nothing.
			stray := netnstest.Name("a")
			access[vlanswitch.Tags{TPID: tpid, Outer: 100, Inner: 999}] = stray
			strayHost := tp.host("qx", stray, sw, 0, []string{"192.0.2.10/24", "2001:db8:1::10/64"}, "192.0.2.1", "2001:db8:1::1")
			sw.Exec("ip", "link", "set", trunkS, "up")
			startTaggedSwitch(t, sw, trunkS, access)

			for _, tn := range tenants {
				run(t, tn.host.NS, true, "ping", "-c", "2", "-i", "0.2", "-W", "2", "192.0.2.1")
				out := run(t, tn.host.NS, true, "curl", "-sS", "--max-time", "5", "http://198.51.100.10/")
				wantIn(t, out, tn.name)
				for _, other := range tenants {
					if other != tn && strings.Contains(out, other.name) {
						t.Fatalf("%s reached %s's server: %q", tn.name, other.name, out)
					}
				}
				run(t, tn.host.NS, true, "ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", "2001:db8:2::10")
			}
			run(t, strayHost.NS, false, "ping", "-c", "2", "-i", "0.2", "-W", "1", "192.0.2.1")
			u := tp.e.Unknown()[trunkR]
			if u.QinQ == 0 || u.LastTPID != tpid || u.LastOuter != 100 || u.LastInner != 999 {
				t.Fatalf("unknown tags on the trunk: %+v; want QinQ frames, last %#04x/100/999", u, tpid)
			}
		})
	}
}

// startTaggedSwitch runs an access switch with any tags per access port.
func startTaggedSwitch(t *testing.T, ns *netnstest.NS, trunk string, access map[vlanswitch.Tags]string) {
	t.Helper()
	var sw *vlanswitch.Switch
	if err := ns.Do(func() (err error) { sw, err = vlanswitch.StartTagged(trunk, access); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Stop)
}
