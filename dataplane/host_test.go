package dataplane_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/pktiotest"
	"github.com/fibd/fibd/fib/adj"
)

var custMAC = adj.MAC{2, 0xaa, 0, 0, 0, 1}

// hostRig is the founding example in memory: eth0 in FIB 10 and eth1 in
// FIB 20 with the same addresses, FIB 10 with a host stack.
func hostRig(t *testing.T) (*rig, *pktiotest.Host, adj.PortID, adj.PortID) {
	t.Helper()
	r := newRig(t, 2)
	p10 := r.port("eth0", 0, 10, "192.0.2.1/24", "2001:db8:a::1/64", "fe80::1/64")
	p20 := r.port("eth1", 0, 20, "192.0.2.1/24", "2001:db8:a::1/64")
	for _, c := range []struct {
		fib  adj.FIBID
		port adj.PortID
	}{{10, p10}, {20, p20}} {
		r.neighbor(c.fib, c.port, "192.0.2.10", custMAC)
		r.neighbor(c.fib, c.port, "2001:db8:a::10", custMAC)
	}
	h := pktiotest.NewHost("fibd-fib10")
	if err := r.e.AttachHost(10, h); err != nil {
		t.Fatal(err)
	}
	return r, h, p10, p20
}

// ipLayers serializes an IP packet (no link layer) from its layers.
func ipLayers(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	for _, l := range ls {
		if c, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			_ = c.SetNetworkLayerForChecksum(ls[0].(gopacket.NetworkLayer))
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(buf.Bytes())
}

func ip4(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, SrcIP: netip.MustParseAddr(src).AsSlice(), DstIP: netip.MustParseAddr(dst).AsSlice(), Protocol: proto}
}

func ip6(src, dst string, nh layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: netip.MustParseAddr(src).AsSlice(), DstIP: netip.MustParseAddr(dst).AsSlice(), NextHeader: nh}
}

func tcpSYN() *layers.TCP {
	return &layers.TCP{SrcPort: 40000, DstPort: 80, SYN: true, Seq: 1, Window: 1000}
}

// toRouter wraps an IP packet in an Ethernet frame to ifname's MAC.
func toRouter(ifindex int, pkt []byte) []byte {
	et := []byte{0x08, 0x00}
	if pkt[0]>>4 == 6 {
		et = []byte{0x86, 0xdd}
	}
	dst := ifMAC(ifindex)
	f := append(append(append([]byte{}, dst[:]...), custMAC[:]...), et...)
	return append(f, pkt...)
}

// hostGot waits (bounded) for the host to receive n packets.
func hostGot(t *testing.T, h *pktiotest.Host, n int) [][]byte {
	t.Helper()
	var got [][]byte
	for deadline := time.Now().Add(2 * time.Second); len(got) < n && time.Now().Before(deadline); {
		got = append(got, h.Received()...)
		if len(got) < n {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if len(got) != n {
		t.Fatalf("host received %d packets, want %d", len(got), n)
	}
	return got
}

func hostInfo(t *testing.T, r *rig, id adj.FIBID) dataplane.HostInfo {
	t.Helper()
	for _, hi := range r.e.Hosts() {
		if hi.FIB == id {
			return hi
		}
	}
	t.Fatalf("fib %d has no host stack", id)
	return dataplane.HostInfo{}
}

func TestHostGetsTCPAndUDPOnlyInItsFIB(t *testing.T) {
	r, h, _, _ := hostRig(t)
	for _, pkt := range [][]byte{
		ipLayers(t, ip4("192.0.2.10", "192.0.2.1", layers.IPProtocolTCP), tcpSYN()),
		ipLayers(t, ip6("2001:db8:a::10", "2001:db8:a::1", layers.IPProtocolTCP), tcpSYN()),
		ipLayers(t, ip4("192.0.2.10", "192.0.2.1", layers.IPProtocolUDP), &layers.UDP{SrcPort: 5000, DstPort: 53}, gopacket.Payload("q")),
		ipLayers(t, ip4("192.0.2.10", "192.0.2.1", layers.IPProtocolGRE), gopacket.Payload("gre!")),
	} {
		r.inject("eth0", toRouter(0, pkt), dataplane.RxMeta{})
		got := hostGot(t, h, 1)
		if !slices.Equal(got[0], pkt) {
			t.Fatalf("host got % x, want % x", got[0], pkt)
		}
		// FIB 20 has the same address and no host: the same packet is the
		// router's, and FIB 10's host never sees it.
		r.inject("eth1", toRouter(1, pkt), dataplane.RxMeta{})
		r.settle()
		if got := h.Received(); len(got) != 0 {
			t.Fatalf("FIB 20's packet reached FIB 10's host: % x", got[0])
		}
	}
	r.quiet("eth0") // no port unreachable, no protocol unreachable from FIB 10
	if hi := hostInfo(t, r, 10); hi.Punted != 4 || hi.Delivered != 4 {
		t.Fatalf("host counters %+v, want 4 punted and delivered", hi)
	}
	// UDP and GRE to FIB 20's router are answered as before: unreachable.
	r.expect("eth1", 2)
	if d := r.e.Ports(); len(d) != 2 {
		t.Fatal(d)
	}
}

func TestHostLeavesEchoRequestsAndOwnErrorsToFibd(t *testing.T) {
	r, h, _, _ := hostRig(t)
	echo := ipLayers(t, ip4("192.0.2.10", "192.0.2.1", layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1})
	r.inject("eth0", toRouter(0, echo), dataplane.RxMeta{})
	if got := r.expect("eth0", 1); got[0].Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4).TypeCode.Type() != 0 {
		t.Fatal("no echo reply from fibd")
	}
	reply := ipLayers(t, ip4("192.0.2.10", "192.0.2.1", layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 1, Seq: 1})
	r.inject("eth0", toRouter(0, reply), dataplane.RxMeta{})
	hostGot(t, h, 1) // a reply to the host's ping

	// A "fragmentation needed" about the host's TCP goes to the host
	// (PMTU discovery); one about fibd's own echo reply does not.
	quoteTCP := ipLayers(t, ip4("192.0.2.1", "203.0.113.5", layers.IPProtocolTCP), tcpSYN())
	quoteReply := ipLayers(t, ip4("192.0.2.1", "192.0.2.10", layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 1, Seq: 1})
	for i, q := range [][]byte{quoteTCP, quoteReply} {
		e := ipLayers(t, ip4("192.0.2.10", "192.0.2.1", layers.IPProtocolICMPv4),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 4), Seq: 1400}, gopacket.Payload(q[:28]))
		r.inject("eth0", toRouter(0, e), dataplane.RxMeta{})
		r.settle()
		time.Sleep(5 * time.Millisecond)
		if got := len(h.Received()); got != 1-i {
			t.Fatalf("error %d: host got %d packets, want %d", i, got, 1-i)
		}
	}
	// Neighbour solicitations stay fibd's: it answers them itself.
	ns := ipLayers(t, &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6,
		SrcIP: netip.MustParseAddr("2001:db8:a::10").AsSlice(), DstIP: netip.MustParseAddr("2001:db8:a::1").AsSlice()},
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(135, 0)},
		&layers.ICMPv6NeighborSolicitation{TargetAddress: netip.MustParseAddr("2001:db8:a::1").AsSlice(),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: custMAC[:]}}})
	r.inject("eth0", toRouter(0, ns), dataplane.RxMeta{})
	r.expect("eth0", 1)
	if got := h.Received(); len(got) != 0 {
		t.Fatalf("host got ND: % x", got[0])
	}
}

func TestHostInjectsAsLocallyOriginated(t *testing.T) {
	r, h, _, _ := hostRig(t)
	pkt := ipLayers(t, ip4("192.0.2.1", "192.0.2.10", layers.IPProtocolUDP), &layers.UDP{SrcPort: 53, DstPort: 5000}, gopacket.Payload("a"))
	h.Send(pkt)
	got := r.expect("eth0", 1)[0]
	eth := got.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	ip := got.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if adj.MAC(eth.DstMAC) != custMAC || adj.MAC(eth.SrcMAC) != ifMAC(0) || ip.TTL != 64 {
		t.Fatalf("injected frame: %v -> %v TTL %d, want %v -> %v TTL 64 (not decremented)", eth.SrcMAC, eth.DstMAC, ip.TTL, ifMAC(0), custMAC)
	}
	if !slices.Equal(got.Data()[14:], pkt) {
		t.Fatal("injected packet changed on the way")
	}
	pkt6 := ipLayers(t, ip6("2001:db8:a::1", "2001:db8:a::10", layers.IPProtocolUDP), &layers.UDP{SrcPort: 53, DstPort: 5000})
	h.Send(pkt6)
	r.expect("eth0", 1)
	r.quiet("eth1")
	if hi := hostInfo(t, r, 10); hi.Injected != 2 {
		t.Fatalf("injected %d, want 2", hi.Injected)
	}
}

func TestHostCannotSpoofIntoTheNetwork(t *testing.T) {
	r, h, _, _ := hostRig(t)
	for _, src := range []string{"192.0.2.99", "198.51.100.1"} {
		h.Send(ipLayers(t, ip4(src, "192.0.2.10", layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}))
	}
	h.Send(ipLayers(t, ip6("2001:db8:a::99", "2001:db8:a::10", layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}))
	// A link-local destination has no port to go out of.
	h.Send(ipLayers(t, ip6("2001:db8:a::1", "fe80::10", layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}))
	deadline := time.Now().Add(2 * time.Second)
	for hostInfo(t, r, 10).Drops["host-spoofed"] < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	r.quiet("eth0")
	r.quiet("eth1")
	hi := hostInfo(t, r, 10)
	if hi.Drops["host-spoofed"] != 3 || hi.Drops["host-link-scoped"] != 1 || hi.Injected != 0 {
		t.Fatalf("host counters %+v: want 3 host-spoofed, 1 host-link-scoped, nothing injected", hi)
	}
}

func TestHostLearnsPathMTUAndUnreachables(t *testing.T) {
	r, h, _, _ := hostRig(t)
	big := ipLayers(t, &layers.IPv4{Version: 4, TTL: 64, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP,
		SrcIP: netip.MustParseAddr("192.0.2.1").AsSlice(), DstIP: netip.MustParseAddr("192.0.2.10").AsSlice()},
		tcpSYN(), gopacket.Payload(make([]byte, 1600)))
	h.Send(big)
	got := hostGot(t, h, 1)[0]
	p := gopacket.NewPacket(got, layers.LayerTypeIPv4, gopacket.Default)
	icmp, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ok || icmp.TypeCode != layers.CreateICMPv4TypeCode(3, 4) || icmp.Seq != 1500 {
		t.Fatalf("host got %v, want fragmentation needed, MTU 1500", p)
	}
	big6 := ipLayers(t, ip6("2001:db8:a::1", "2001:db8:a::10", layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}, gopacket.Payload(make([]byte, 1500)))
	h.Send(big6)
	p = gopacket.NewPacket(hostGot(t, h, 1)[0], layers.LayerTypeIPv6, gopacket.Default)
	if icmp6, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); !ok || icmp6.TypeCode.Type() != layers.ICMPv6TypePacketTooBig {
		t.Fatalf("host got %v, want packet too big", p)
	}
	// No DF: fibd fragments to the port's MTU, as the kernel would.
	h.Send(ipLayers(t, ip4("192.0.2.1", "192.0.2.10", layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}, gopacket.Payload(make([]byte, 2000))))
	r.expect("eth0", 2)
	// Nowhere to go: the host's connect() hears so at once.
	h.Send(ipLayers(t, ip4("192.0.2.1", "203.0.113.5", layers.IPProtocolTCP), tcpSYN()))
	p = gopacket.NewPacket(hostGot(t, h, 1)[0], layers.LayerTypeIPv4, gopacket.Default)
	if icmp, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); !ok || icmp.TypeCode != layers.CreateICMPv4TypeCode(3, 0) {
		t.Fatalf("host got %v, want net unreachable", p)
	}
	r.quiet("eth0")
}

func TestHostMirrorsGlobalAddresses(t *testing.T) {
	r, h, p10, _ := hostRig(t)
	want := []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8:a::1/64")}
	waitAddrs := func(want []netip.Prefix) {
		t.Helper()
		var got []netip.Prefix
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if got, _, _ = h.Addrs(); slices.Equal(got, want) {
				return
			}
		}
		t.Fatalf("host addresses %v, want %v", got, want)
	}
	waitAddrs(want) // fe80::1 stays on its port
	if _, mtu, _ := h.Addrs(); mtu != 1500 {
		t.Fatalf("host MTU %d, want the port's 1500", mtu)
	}
	extra := netip.MustParsePrefix("198.51.100.1/25")
	if err := r.fib(10).AddAddress(p10, extra); err != nil {
		t.Fatal(err)
	}
	waitAddrs([]netip.Prefix{want[0], extra, want[1]})
	if err := r.fib(10).DeleteAddress(p10, want[0]); err != nil {
		t.Fatal(err)
	}
	waitAddrs([]netip.Prefix{extra, want[1]})
}

// TestHostFloodNeverBlocksOtherFIBs fills FIB 10's punt queue with a host
// that stopped reading: the excess is dropped and counted, the worker of
// the interface never waits, and FIB 20's router on the same worker keeps
// answering.
func TestHostFloodNeverBlocksOtherFIBs(t *testing.T) {
	r := newRig(t, 1)
	p10 := r.port("eth0", 10, 10, "192.0.2.1/24")
	r.port("eth0", 20, 20, "192.0.2.1/24")
	r.neighbor(10, p10, "192.0.2.10", custMAC)
	h := pktiotest.NewHost("fibd-fib10")
	if err := r.e.AttachHost(10, h); err != nil {
		t.Fatal(err)
	}
	h.Block(true)
	syn := ipLayers(t, ip4("192.0.2.10", "192.0.2.1", layers.IPProtocolTCP), tcpSYN())
	const flood = dataplane.HostQueueLen + 300
	tagged := func(vlan uint16, pkt []byte) []byte {
		f := toRouter(0, pkt)
		return append(append(append(f[:12:12], 0x81, 0x00, byte(vlan>>8), byte(vlan)), f[12:14]...), pkt...)
	}
	for i := range flood {
		r.inject("eth0", tagged(10, syn), dataplane.RxMeta{})
		if i%500 == 499 {
			r.settle()
		}
	}
	echo := ipLayers(t, ip4("192.0.2.10", "192.0.2.1", layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1})
	r.neighbor(20, 2, "192.0.2.10", custMAC)
	r.inject("eth0", tagged(20, echo), dataplane.RxMeta{})
	r.expect("eth0", 1) // FIB 20 answered while FIB 10's host is stuck
	r.settle()
	hi := hostInfo(t, r, 10)
	// The queue holds HostQueueLen buffers, the writer's blocked batch
	// among them: that many punted, the rest dropped.
	if hi.Punted+hi.Drops["host-queue-full"] != flood || hi.Punted != dataplane.HostQueueLen {
		t.Fatalf("host counters %+v: want %d punted or dropped with the queue's bound of %d", hi, flood, dataplane.HostQueueLen)
	}
	for _, p := range r.e.Ports() {
		if p.Counters.Accounted() != p.Counters.RxPackets {
			t.Fatalf("port %s: %d received, %d accounted", p.Name, p.Counters.RxPackets, p.Counters.Accounted())
		}
	}
	h.Block(false)
	hostGot(t, h, int(hi.Punted))
}

func TestHostDetachRestoresTheRouterAlone(t *testing.T) {
	r, h, _, _ := hostRig(t)
	if err := r.e.AttachHost(10, pktiotest.NewHost("again")); err == nil {
		t.Fatal("a second host stack for FIB 10 was attached")
	}
	if err := r.e.DetachHost(10); err != nil {
		t.Fatal(err)
	}
	r.inject("eth0", toRouter(0, ipLayers(t, ip4("192.0.2.10", "192.0.2.1", layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2})), dataplane.RxMeta{})
	r.expect("eth0", 1) // port unreachable again
	if got := h.Received(); len(got) != 0 {
		t.Fatal("a detached host got a packet")
	}
	if err := r.e.DetachHost(10); err == nil {
		t.Fatal("detached twice")
	}
}

func TestHostPuntAllocatesNothing(t *testing.T) {
	r, h, _, _ := hostRig(t)
	h.Block(true) // the fake's capture allocates; a stuck host does not
	syn := toRouter(0, ipLayers(t, ip4("192.0.2.10", "192.0.2.1", layers.IPProtocolTCP), tcpSYN()))
	if a := dataplane.ForwardAllocs(r.e, "eth0", syn, dataplane.RxMeta{}, 1000); a != 0 {
		t.Fatalf("%v allocations per punted (or queue-full) packet", a)
	}
}
