package dataplane_test

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

var (
	clientMAC = adj.MAC{2, 0xcc, 0, 0, 0, 1}
	serverMAC = adj.MAC{2, 0x5e, 0, 0, 0, 1}
)

// twoPorts sets up FIB id with a client side on ifA (192.0.2.1/24,
// 2001:db8:1::1/64) and a server side on ifB (198.51.100.1/24,
// 2001:db8:2::1/64) with the server 198.51.100.10 / 2001:db8:2::10 known
// statically.
func (r *rig) twoPorts(id adj.FIBID, ifA, ifB string, vlanA uint16, srv adj.MAC) (a, b adj.PortID) {
	a = r.port(ifA, vlanA, id, "192.0.2.1/24", "2001:db8:1::1/64")
	b = r.port(ifB, 0, id, "198.51.100.1/24", "2001:db8:2::1/64")
	r.neighbor(id, b, "198.51.100.10", srv)
	r.neighbor(id, b, "2001:db8:2::10", srv)
	r.neighbor(id, a, "192.0.2.10", clientMAC)
	r.neighbor(id, a, "2001:db8:1::10", clientMAC)
	return a, b
}

func ipv4Of(t *testing.T, p gopacket.Packet) *layers.IPv4 {
	t.Helper()
	ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ip == nil {
		t.Fatalf("no IPv4 layer in %v", p)
	}
	return ip
}

func ethOf(t *testing.T, p gopacket.Packet) *layers.Ethernet {
	t.Helper()
	e, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if e == nil {
		t.Fatalf("no Ethernet layer in %v", p)
	}
	return e
}

// verifyIPv4Checksum recomputes the header checksum of the IPv4 header in p.
func verifyIPv4Checksum(t *testing.T, ip *layers.IPv4) {
	t.Helper()
	h := ip.Contents
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	if sum != 0xffff {
		t.Fatalf("IPv4 header checksum does not verify: %#04x", ip.Checksum)
	}
}

func TestForwardRewritesAndDecrementsTTL(t *testing.T) {
	r := newRig(t, 2)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), ttl: 9, payload: 18}), dataplane.RxMeta{})
	p := r.expect("eth1", 1)[0]
	eth := ethOf(t, p)
	if adj.MAC(eth.DstMAC) != serverMAC || adj.MAC(eth.SrcMAC) != ifMAC(1) {
		t.Fatalf("MACs %v → %v", eth.SrcMAC, eth.DstMAC)
	}
	ip := ipv4Of(t, p)
	if ip.TTL != 8 {
		t.Fatalf("TTL %d, want 8", ip.TTL)
	}
	verifyIPv4Checksum(t, ip)
	if udp := p.Layer(layers.LayerTypeUDP); udp == nil {
		t.Fatal("UDP payload lost")
	}
	r.inject("eth0", build(t, frameSpec{src: "2001:db8:1::10", dst: "2001:db8:2::10", dstMAC: ifMAC(0), ttl: 9}), dataplane.RxMeta{})
	p = r.expect("eth1", 1)[0]
	ip6 := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if ip6.HopLimit != 8 || adj.MAC(ethOf(t, p).DstMAC) != serverMAC {
		t.Fatalf("IPv6: hop limit %d, dst MAC %v", ip6.HopLimit, ethOf(t, p).DstMAC)
	}
	st := r.e.Ports()
	if st[0].Counters.Forwarded != 2 || st[1].Counters.TxPackets != 2 {
		t.Fatalf("counters: in %+v out %+v", st[0].Counters, st[1].Counters)
	}
}

// Two customers with identical addressing in FIB 10 and FIB 20: each
// client's packet reaches its own server, never the other's.
func TestSameAddressesInTwoFIBs(t *testing.T) {
	r := newRig(t, 4)
	other := adj.MAC{2, 0x5e, 0, 0, 0, 2}
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	r.twoPorts(20, "eth2", "eth3", 0, other)
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
	r.inject("eth2", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(2)}), dataplane.RxMeta{})
	if got := adj.MAC(ethOf(t, r.expect("eth1", 1)[0]).DstMAC); got != serverMAC {
		t.Fatalf("FIB 10 went to %v", got)
	}
	if got := adj.MAC(ethOf(t, r.expect("eth3", 1)[0]).DstMAC); got != other {
		t.Fatalf("FIB 20 went to %v", got)
	}
	r.quiet("eth1")
	r.quiet("eth3")
}

// One trunk: VLAN 100 is FIB 10, VLAN 200 is FIB 20; tags arrive inline or
// stripped by the kernel, and the return traffic carries the right tag.
func TestVLANTrunkClassifiesByTag(t *testing.T) {
	r := newRig(t, 3)
	other := adj.MAC{2, 0x5e, 0, 0, 0, 2}
	r.twoPorts(10, "eth0", "eth1", 100, serverMAC)
	r.port("eth0", 200, 20, "192.0.2.1/24")
	b20 := r.port("eth2", 0, 20, "198.51.100.1/24")
	r.neighbor(20, b20, "198.51.100.10", other)
	pa, _ := r.e.PortByName("eth0.200")
	r.neighbor(20, pa.ID(), "192.0.2.10", clientMAC)

	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), vlan: 100}), dataplane.RxMeta{})
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}), dataplane.RxMeta{HasVLAN: true, VLAN: 200, VLANTPID: 0x8100})
	if p := r.expect("eth1", 1)[0]; p.Layer(layers.LayerTypeDot1Q) != nil {
		t.Fatal("egress on the untagged port kept a tag")
	}
	r.expect("eth2", 1)
	// Server replies come back tagged with their customer's VLAN.
	r.inject("eth2", build(t, frameSpec{src: "198.51.100.10", dst: "192.0.2.10", dstMAC: ifMAC(2)}), dataplane.RxMeta{})
	p := r.expect("eth0", 1)[0]
	tag, _ := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
	if tag == nil || tag.VLANIdentifier != 200 || adj.MAC(ethOf(t, p).DstMAC) != clientMAC {
		t.Fatalf("return frame tag %v", tag)
	}
	// A VLAN nobody bound is dropped and counted.
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), vlan: 300}), dataplane.RxMeta{})
	r.settle()
	if u := r.e.Unknown()["eth0"]; u.VLAN != 1 || u.LastOuter != 300 || u.LastTPID != 0x8100 {
		t.Fatalf("unknown tags on eth0: %+v, want 1 frame, last 0x8100/300", u)
	}
}

func TestTTLExpiryAnswersFromIngressAddress(t *testing.T) {
	r := newRig(t, 2)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), ttl: 1}), dataplane.RxMeta{})
	p := r.expect("eth0", 1)[0]
	ip := ipv4Of(t, p)
	icmp, _ := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if icmp == nil || icmp.TypeCode.Type() != layers.ICMPv4TypeTimeExceeded {
		t.Fatalf("want time exceeded, got %v", p)
	}
	if ip.SrcIP.String() != "192.0.2.1" || ip.DstIP.String() != "192.0.2.10" || adj.MAC(ethOf(t, p).DstMAC) != clientMAC {
		t.Fatalf("time exceeded %v → %v", ip.SrcIP, ip.DstIP)
	}
	r.quiet("eth1")
}

func TestMissAndRouteKindsAnswerTheRightICMP(t *testing.T) {
	r := newRig(t, 2)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	r.route(10, "203.0.113.0/26", fib.Path{Kind: fib.PathBlackhole})
	r.route(10, "203.0.113.64/26", fib.Path{Kind: fib.PathProhibit})
	r.route(10, "203.0.113.128/26", fib.Path{Kind: fib.PathUnreachable})
	for _, c := range []struct {
		dst  string
		want *layers.ICMPv4TypeCode
	}{
		{"198.18.0.1", ptr(layers.CreateICMPv4TypeCode(3, 0))}, // no route: net unreachable
		{"203.0.113.1", nil}, // blackhole: silence
		{"203.0.113.65", ptr(layers.CreateICMPv4TypeCode(3, 13))}, // prohibit
		{"203.0.113.129", ptr(layers.CreateICMPv4TypeCode(3, 1))}, // unreachable: host
	} {
		r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: c.dst, dstMAC: ifMAC(0)}), dataplane.RxMeta{})
		if c.want == nil {
			r.settle()
			r.quiet("eth0")
			continue
		}
		icmp, _ := r.expect("eth0", 1)[0].Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if icmp == nil || icmp.TypeCode != *c.want {
			t.Fatalf("%s: got %v, want %v", c.dst, icmp, *c.want)
		}
	}
	r.quiet("eth1")
}

func ptr[T any](v T) *T { return &v }

func TestPathMTU(t *testing.T) {
	r := newRig(t, 2)
	_, b := r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	gw := "198.51.100.20"
	r.neighbor(10, b, gw, serverMAC)
	r.route(10, "203.0.113.0/24", via(gw))
	id, _ := r.reg.Adjacencies().Lookup(adj.Key{FIB: 10, Port: b, Addr: netip.MustParseAddr(gw)})
	r.reg.Adjacencies().Get(id).SetMTU(1280)

	// DF set: fragmentation needed, carrying the adjacency's MTU.
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "203.0.113.5", dstMAC: ifMAC(0), df: true, payload: 1400}), dataplane.RxMeta{})
	icmp, _ := r.expect("eth0", 1)[0].Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if icmp == nil || icmp.TypeCode != layers.CreateICMPv4TypeCode(3, 4) || icmp.Seq != 1280 {
		t.Fatalf("want frag needed with MTU 1280, got %v", icmp)
	}
	// DF clear: fragmented, every fragment within the MTU.
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "203.0.113.5", dstMAC: ifMAC(0), payload: 1400, id: 77}), dataplane.RxMeta{})
	frags := r.expect("eth1", 2)
	total := 0
	for _, f := range frags {
		ip := ipv4Of(t, f)
		if int(ip.Length) > 1280 || ip.Id != 77 || ip.TTL != 63 {
			t.Fatalf("fragment len %d id %d ttl %d", ip.Length, ip.Id, ip.TTL)
		}
		verifyIPv4Checksum(t, ip)
		total += int(ip.Length) - 20
	}
	if total != 1400+8 {
		t.Fatalf("fragments carry %d bytes, want %d", total, 1408)
	}
	// IPv6: Packet Too Big.
	r.route(10, "2001:db8:99::/48", fib.Path{Kind: fib.PathGateway, Gateway: netip.MustParseAddr("2001:db8:2::10")})
	id6, _ := r.reg.Adjacencies().Lookup(adj.Key{FIB: 10, Port: b, Addr: netip.MustParseAddr("2001:db8:2::10")})
	r.reg.Adjacencies().Get(id6).SetMTU(1280)
	r.inject("eth0", build(t, frameSpec{src: "2001:db8:1::10", dst: "2001:db8:99::1", dstMAC: ifMAC(0), payload: 1400}), dataplane.RxMeta{})
	p := r.expect("eth0", 1)[0]
	icmp6, _ := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if icmp6 == nil || icmp6.TypeCode.Type() != layers.ICMPv6TypePacketTooBig {
		t.Fatalf("want packet too big, got %v", p)
	}
}

func TestEchoToRouterInEachFIB(t *testing.T) {
	r := newRig(t, 4)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	r.twoPorts(20, "eth2", "eth3", 0, serverMAC)
	for _, c := range []struct{ ifname, dst string }{{"eth0", "192.0.2.1"}, {"eth2", "192.0.2.1"}, {"eth0", "198.51.100.1"}, {"eth2", "2001:db8:1::1"}} {
		src := "192.0.2.10"
		if netip.MustParseAddr(c.dst).Is6() {
			src = "2001:db8:1::10"
		}
		mac := ifMAC(0)
		if c.ifname == "eth2" {
			mac = ifMAC(2)
		}
		r.inject(c.ifname, build(t, frameSpec{src: src, dst: c.dst, dstMAC: mac, proto: "icmp-echo", payload: 32}), dataplane.RxMeta{})
		p := r.expect(c.ifname, 1)[0]
		if l := p.Layer(layers.LayerTypeICMPv4); l != nil {
			if l.(*layers.ICMPv4).TypeCode.Type() != layers.ICMPv4TypeEchoReply || ipv4Of(t, p).SrcIP.String() != c.dst {
				t.Fatalf("%s %s: %v", c.ifname, c.dst, p)
			}
		} else if l := p.Layer(layers.LayerTypeICMPv6); l == nil || l.(*layers.ICMPv6).TypeCode.Type() != layers.ICMPv6TypeEchoReply {
			t.Fatalf("%s %s: %v", c.ifname, c.dst, p)
		}
	}
}

// Without a static neighbour the packet waits for ARP, and goes out once
// the reply arrives.
func TestARPResolutionQueuesThenDelivers(t *testing.T) {
	r := newRig(t, 2)
	r.port("eth0", 0, 10, "192.0.2.1/24")
	r.port("eth1", 0, 10, "198.51.100.1/24")
	r.neighbor(10, 1, "192.0.2.10", clientMAC)
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
	req := r.expect("eth1", 1)[0]
	arp, _ := req.Layer(layers.LayerTypeARP).(*layers.ARP)
	if arp == nil || arp.Operation != layers.ARPRequest || netip.AddrFrom4([4]byte(arp.DstProtAddress)).String() != "198.51.100.10" ||
		netip.AddrFrom4([4]byte(arp.SourceProtAddress)).String() != "198.51.100.1" {
		t.Fatalf("want an ARP request for 198.51.100.10 from 198.51.100.1, got %v", req)
	}
	reply := gopacket.NewSerializeBuffer()
	gopacket.SerializeLayers(reply, gopacket.SerializeOptions{},
		&layers.Ethernet{SrcMAC: hw(serverMAC), DstMAC: hw(ifMAC(1)), EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: hw(serverMAC), SourceProtAddress: []byte{198, 51, 100, 10},
			DstHwAddress: hw(ifMAC(1)), DstProtAddress: []byte{198, 51, 100, 1}})
	r.inject("eth1", reply.Bytes(), dataplane.RxMeta{})
	p := r.expect("eth1", 1)[0]
	if eth := ethOf(t, p); adj.MAC(eth.DstMAC) != serverMAC || p.Layer(layers.LayerTypeUDP) == nil {
		t.Fatalf("queued packet: %v", p)
	}
	// The router answers ARP for its own address.
	ask := gopacket.NewSerializeBuffer()
	gopacket.SerializeLayers(ask, gopacket.SerializeOptions{},
		&layers.Ethernet{SrcMAC: hw(clientMAC), DstMAC: hw(adj.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: hw(clientMAC), SourceProtAddress: []byte{192, 0, 2, 10},
			DstHwAddress: make([]byte, 6), DstProtAddress: []byte{192, 0, 2, 1}})
	r.inject("eth0", ask.Bytes(), dataplane.RxMeta{})
	ans, _ := r.expect("eth0", 1)[0].Layer(layers.LayerTypeARP).(*layers.ARP)
	if ans == nil || ans.Operation != layers.ARPReply || adj.MAC(ans.SourceHwAddress) != ifMAC(0) {
		t.Fatalf("ARP answer %v", ans)
	}
}

func TestPortDownDrops(t *testing.T) {
	r := newRig(t, 2)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	r.links.setUp("eth1", false)
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
	r.settle()
	r.quiet("eth1")
	if d := r.e.Ports()[0].Counters.Drops["egress-down"]; d != 1 {
		t.Fatalf("egress-down drops %d, want 1", d)
	}
	r.links.setUp("eth1", true)
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
	// Coming up, the port announces its addresses (a gratuitous ARP, an
	// unsolicited NA), then forwards again.
	var garp, na, fwd int
	for _, p := range r.expect("eth1", 3) {
		if a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok && a.Operation == layers.ARPRequest &&
			string(a.SourceProtAddress) == string(a.DstProtAddress) {
			garp++
		}
		if p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement) != nil {
			na++
		}
		if p.Layer(layers.LayerTypeUDP) != nil {
			fwd++
		}
	}
	if garp != 1 || na != 1 || fwd != 1 {
		t.Fatalf("after the port came up: %d gratuitous ARP, %d NA, %d forwarded, want 1 each", garp, na, fwd)
	}
}

// The whole per-batch forwarding function — parse, classify, look up,
// check, rewrite, stage, transmit — allocates nothing.
func TestForwardingAllocatesNothing(t *testing.T) {
	r := newRig(t, 3)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	r.port("eth2", 100, 10)
	for _, c := range []struct {
		name  string
		frame []byte
		meta  dataplane.RxMeta
	}{
		{"ipv4", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}), dataplane.RxMeta{}},
		{"ipv6", build(t, frameSpec{src: "2001:db8:1::10", dst: "2001:db8:2::10", dstMAC: ifMAC(0)}), dataplane.RxMeta{}},
		{"ipv4-ttl-expired-icmp", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), ttl: 1}), dataplane.RxMeta{}},
	} {
		if n := dataplane.ForwardAllocs(r.e, "eth0", c.frame, c.meta, 500); n != 0 {
			t.Errorf("%s: %v allocations per packet", c.name, n)
		}
	}
	if fwd := r.e.Ports()[0].Counters.Forwarded; fwd < 1000 {
		t.Fatalf("only %d forwarded: the measured path did not forward", fwd)
	}
	// The edge filters too: strict uRPF on the ingress port, a
	// source-routed packet dropped.
	if err := r.e.SetPortSettings(r.e.Ports()[0].ID, dataplane.PortSettings{RPF: dataplane.RPFStrict}); err != nil {
		t.Fatal(err)
	}
	lsrr := withOptions(build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}), []byte{131, 7, 4, 198, 51, 100, 10, 0})
	for name, frame := range map[string][]byte{
		"ipv4-strict-rpf":   build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}),
		"ipv4-source-route": lsrr,
	} {
		if n := dataplane.ForwardAllocs(r.e, "eth0", frame, dataplane.RxMeta{}, 500); n != 0 {
			t.Errorf("%s: %v allocations per packet", name, n)
		}
	}
}

// BenchmarkForwardBatch is the forwarding loop's own cost per packet
// (parse, classify, look up, rewrite, stage, hand to the packet I/O) on a
// full batch, without the kernel's receive and transmit work.
func BenchmarkForwardBatch(b *testing.B) {
	r := newRig(&testing.T{}, 2)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	frame := build(&testing.T{}, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), payload: 18})
	dataplane.ForwardBench(b, r.e, "eth0", frame, dataplane.BatchSize)
}
