package dataplane_test

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/packet"
)

// udpOK reports whether the UDP segment seg from src to dst carries a
// complete, correct checksum.
func udpOK(src, dst netip.Addr, seg []byte) bool {
	return packet.Fold(packet.Sum(packet.PseudoHeaderSum(src, dst, packet.ProtoUDP, len(seg)), seg)) == 0xffff
}

// makePartial turns the UDP checksum of seg into what a sender that
// offloaded it leaves: the folded pseudo-header sum.
func makePartial(src, dst netip.Addr, seg []byte) uint16 {
	v := packet.Fold(packet.PseudoHeaderSum(src, dst, packet.ProtoUDP, len(seg)))
	binary.BigEndian.PutUint16(seg[6:], v)
	return v
}

// TestPartialChecksumFollowsTheKernelsOffsets forwards an IPv4-in-IPv4
// packet whose inner UDP checksum was left partial: the kernel's
// CsumStart/CsumOffset point at the inner header, where the forwarder
// must complete it — re-deriving the offset from the outer header cannot.
func TestPartialChecksumFollowsTheKernelsOffsets(t *testing.T) {
	r := newRig(t, 2)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	outerSrc, outerDst := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("198.51.100.10")
	innerSrc, innerDst := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
	outer := &layers.IPv4{Version: 4, TTL: 64, SrcIP: outerSrc.AsSlice(), DstIP: outerDst.AsSlice(), Protocol: layers.IPProtocolIPv4}
	inner := &layers.IPv4{Version: 4, TTL: 64, SrcIP: innerSrc.AsSlice(), DstIP: innerDst.AsSlice(), Protocol: layers.IPProtocolUDP}
	udp := &layers.UDP{SrcPort: 4000, DstPort: 9}
	udp.SetNetworkLayerForChecksum(inner)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: hw(clientMAC), DstMAC: hw(ifMAC(0)), EthernetType: layers.EthernetTypeIPv4},
		outer, inner, udp, gopacket.Payload("tunnelled")); err != nil {
		t.Fatal(err)
	}
	frame := buf.Bytes()
	const l4 = 14 + 20 + 20
	makePartial(innerSrc, innerDst, frame[l4:])
	r.inject("eth0", frame, dataplane.RxMeta{CsumPartial: true, CsumStart: l4, CsumOffset: 6})
	out := r.expect("eth1", 1)[0].Data()
	if !udpOK(innerSrc, innerDst, out[l4:]) {
		t.Fatalf("inner UDP checksum %#04x not completed", binary.BigEndian.Uint16(out[l4+6:]))
	}
	if d := r.portInfo("eth0").Counters.Drops; len(d) != 0 {
		t.Fatalf("drops %v", d)
	}

	// The plain case: a partial UDP checksum is completed on the way out.
	f := build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), payload: 33})
	makePartial(outerSrc, outerDst, f[14+20:])
	r.inject("eth0", f, dataplane.RxMeta{CsumPartial: true, CsumStart: 14 + 20, CsumOffset: 6})
	if out := r.expect("eth1", 1)[0].Data(); !udpOK(outerSrc, outerDst, out[14+20:]) {
		t.Fatal("partial UDP checksum not completed")
	}
}

// TestPartialChecksumLeftAloneWhenNotForwarded: a packet that is answered
// with an ICMP error and dropped is not worth completing; the error quotes
// it as it came.
func TestPartialChecksumLeftAloneWhenNotForwarded(t *testing.T) {
	r := newRig(t, 2)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	src, dst := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("198.18.77.1") // no route
	f := build(t, frameSpec{src: src.String(), dst: dst.String(), dstMAC: ifMAC(0), payload: 33})
	partial := makePartial(src, dst, f[14+20:])
	r.inject("eth0", f, dataplane.RxMeta{CsumPartial: true, CsumStart: 14 + 20, CsumOffset: 6})
	p := r.expect("eth0", 1)[0]
	icmp, _ := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if icmp == nil || icmp.TypeCode.Type() != layers.ICMPv4TypeDestinationUnreachable {
		t.Fatalf("want net unreachable, got %v", p)
	}
	quoted := icmp.Payload
	if len(quoted) < 28 {
		t.Fatalf("quote of %d bytes", len(quoted))
	}
	if got := binary.BigEndian.Uint16(quoted[26:]); got != partial {
		t.Fatalf("quoted UDP checksum %#04x, want the partial %#04x as received (completed before the routing decision?)", got, partial)
	}
}
