package dataplane_test

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket/layers"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// portDrops returns the port's drop count for reason name.
func (r *rig) portDrops(id adj.PortID, name string) uint64 {
	r.t.Helper()
	for _, p := range r.e.Ports() {
		if p.ID == id {
			return p.Counters.Drops[name]
		}
	}
	r.t.Fatalf("no port %d", id)
	return 0
}

// TestReversePathStrictAndLoose: with strict uRPF the client's own source
// passes and a spoofed one (no route back, or a route back through another
// port) is dropped and counted; loose passes the asymmetric one and still
// drops a source with no route or a blackholed one. Off passes everything.
func TestReversePathStrictAndLoose(t *testing.T) {
	r := newRig(t, 2)
	a, _ := r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	r.route(10, "203.0.113.0/24", via("198.51.100.10"))             // back through eth1: asymmetric for eth0
	r.route(10, "198.18.0.0/24", fib.Path{Kind: fib.PathBlackhole}) // a source that must not be routable
	r.route(10, "198.18.1.0/24", via("192.0.2.10"), via("198.51.100.10"))
	send := func(src string) bool {
		r.inject("eth0", build(t, frameSpec{src: src, dst: "198.51.100.10", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
		r.settle()
		return len(r.io("eth1").Written()) == 1
	}
	for _, tc := range []struct {
		mode                                       dataplane.RPFMode
		real, noRoute, asymmetric, blackhole, ecmp bool
	}{
		{dataplane.RPFOff, true, true, true, true, true},
		{dataplane.RPFLoose, true, false, true, false, true},
		{dataplane.RPFStrict, true, false, false, false, true},
	} {
		if err := r.e.SetPortSettings(a, dataplane.PortSettings{RPF: tc.mode}); err != nil {
			t.Fatal(err)
		}
		before := r.portDrops(a, "rpf")
		got := [5]bool{send("192.0.2.10"), send("10.9.9.9"), send("203.0.113.5"), send("198.18.0.5"), send("198.18.1.5")}
		want := [5]bool{tc.real, tc.noRoute, tc.asymmetric, tc.blackhole, tc.ecmp}
		if got != want {
			t.Fatalf("rpf %v: forwarded (real, no route, asymmetric, blackhole, ECMP member) = %v, want %v", tc.mode, got, want)
		}
		var refused uint64
		for _, ok := range want {
			if !ok {
				refused++
			}
		}
		if d := r.portDrops(a, "rpf") - before; d != refused {
			t.Fatalf("rpf %v: %d counted as rpf drops, want %d", tc.mode, d, refused)
		}
	}
}

// TestEdgeFilters: source-routed IPv4 is dropped unless the port allows
// it; a packet from one of the router's own addresses is a martian; the
// directed broadcast of a connected subnet is never forwarded; an IPv6
// packet from a link-local source that would leave its link is answered
// with destination unreachable code 2.
func TestEdgeFilters(t *testing.T) {
	r := newRig(t, 2)
	a, _ := r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	if err := r.fib(10).AddAddress(a, netip.MustParsePrefix("fe80::1/64")); err != nil {
		t.Fatal(err)
	}
	lsrr := withOptions(build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}),
		[]byte{131, 7, 4, 198, 51, 100, 10, 0})
	r.inject("eth0", lsrr, dataplane.RxMeta{})
	r.quiet("eth1")
	if r.portDrops(a, "source-route") != 1 {
		t.Fatal("a source-routed packet was not dropped as such")
	}
	if err := r.e.SetPortSettings(a, dataplane.PortSettings{AllowSourceRoute: true}); err != nil {
		t.Fatal(err)
	}
	r.inject("eth0", lsrr, dataplane.RxMeta{})
	r.expect("eth1", 1)

	r.inject("eth0", build(t, frameSpec{src: "198.51.100.1", dst: "198.51.100.10", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
	r.quiet("eth1")
	if r.portDrops(a, "own-source") != 1 {
		t.Fatal("a packet from the router's own address was not dropped as a martian")
	}

	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.255", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
	r.quiet("eth1")
	if r.portDrops(a, "directed-broadcast") != 1 {
		t.Fatal("a directed broadcast was not dropped as such")
	}

	r.inject("eth0", build(t, frameSpec{src: "fe80::10", dst: "2001:db8:2::10", dstMAC: ifMAC(0), srcMAC: clientMAC}), dataplane.RxMeta{})
	r.quiet("eth1")
	reply := r.expect("eth0", 1)[0]
	icmp, _ := reply.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	ip6, _ := reply.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if icmp == nil || icmp.TypeCode != layers.CreateICMPv6TypeCode(1, 2) || ip6.SrcIP.String() != "fe80::1" || ip6.DstIP.String() != "fe80::10" {
		t.Fatalf("beyond-scope answer: %v", reply)
	}
	if r.portDrops(a, packet.LinkLocalSource.String()) != 1 {
		t.Fatal("the link-local source was not counted")
	}
}

// withOptions inserts raw IPv4 options (a multiple of 4 bytes) after the
// fixed header of an untagged frame, fixing IHL, length and checksum.
func withOptions(frame, opts []byte) []byte {
	const l3 = 14
	out := append(append(append([]byte{}, frame[:l3+20]...), opts...), frame[l3+20:]...)
	ip := out[l3:]
	ip[0] = 0x40 | byte((20+len(opts))/4)
	total := int(ip[2])<<8 | int(ip[3]) + len(opts)
	ip[2], ip[3] = byte(total>>8), byte(total)
	ip[10], ip[11] = 0, 0
	c := packet.Checksum(ip[:20+len(opts)])
	ip[10], ip[11] = byte(c>>8), byte(c)
	return out
}

// TestReversePathIPv6: strict uRPF on IPv6 passes the client's own source
// and drops one with no route back, and one whose route back leaves
// through another port.
func TestReversePathIPv6(t *testing.T) {
	r := newRig(t, 2)
	a, _ := r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	r.route(10, "2001:db8:5::/48", via("2001:db8:2::10"))
	if err := r.e.SetPortSettings(a, dataplane.PortSettings{RPF: dataplane.RPFStrict}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src  string
		pass bool
	}{{"2001:db8:1::10", true}, {"2001:db8:9::5", false}, {"2001:db8:5::5", false}} {
		r.inject("eth0", build(t, frameSpec{src: tc.src, dst: "2001:db8:2::10", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
		r.settle()
		if got := len(r.io("eth1").Written()) == 1; got != tc.pass {
			t.Errorf("source %s: forwarded %v, want %v", tc.src, got, tc.pass)
		}
	}
	if d := r.portDrops(a, "rpf"); d != 2 {
		t.Fatalf("%d rpf drops, want 2", d)
	}
}
