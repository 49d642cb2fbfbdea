package packet

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Test frames are built with gopacket; extension headers it cannot
// serialise are raw bytes inside a gopacket.Payload.

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
	macC = [6]byte{0x02, 0, 0, 0, 0, 0x0c}
	macD = [6]byte{0x02, 0, 0, 0, 0, 0x0d}
)

// frameSpec describes a test frame.
type frameSpec struct {
	dstMAC net.HardwareAddr // default macB
	tags   []tagSpec        // inline tags, outer first
	v6     bool
	src    string // default 192.0.2.1 / 2001:db8::1
	dst    string // default 198.51.100.1 / 2001:db8:1::1
	ttl    uint8  // default 64
	tos    uint8
	id     uint16
	// IPv4 only.
	opts    []layers.IPv4Option
	flags   layers.IPv4Flag
	fragOff uint16 // in 8-byte units, as on the wire
	// IPv6 only: the raw extension header chain and the next header that
	// names its first header.
	ext   []byte
	extNH layers.IPProtocol
	// l4 is "udp", "tcp", "icmp" (ICMP or ICMPv6 echo request) or "" for a
	// raw payload with protocol proto.
	l4      string
	proto   layers.IPProtocol
	sport   uint16
	dport   uint16
	payload []byte
}

type tagSpec struct {
	tpid layers.EthernetType
	vid  uint16
	pcp  uint8
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func (s frameSpec) build(t testing.TB) []byte {
	t.Helper()
	dstMAC := s.dstMAC
	if dstMAC == nil {
		dstMAC = macB
	}
	ttl := s.ttl
	if ttl == 0 {
		ttl = 64
	}
	et := layers.EthernetTypeIPv4
	src, dst := s.src, s.dst
	if s.v6 {
		et = layers.EthernetTypeIPv6
		if src == "" {
			src = "2001:db8::1"
		}
		if dst == "" {
			dst = "2001:db8:1::1"
		}
	} else {
		if src == "" {
			src = "192.0.2.1"
		}
		if dst == "" {
			dst = "198.51.100.1"
		}
	}
	var ls []gopacket.SerializableLayer
	first := et
	if len(s.tags) > 0 {
		first = s.tags[0].tpid
	}
	ls = append(ls, &layers.Ethernet{SrcMAC: macA, DstMAC: dstMAC, EthernetType: first})
	for i, tg := range s.tags {
		next := et
		if i+1 < len(s.tags) {
			next = s.tags[i+1].tpid
		}
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: tg.vid, Priority: tg.pcp, Type: next})
	}
	proto := s.proto
	switch s.l4 {
	case "udp":
		proto = layers.IPProtocolUDP
	case "tcp":
		proto = layers.IPProtocolTCP
	case "icmp":
		proto = layers.IPProtocolICMPv4
		if s.v6 {
			proto = layers.IPProtocolICMPv6
		}
	}
	var netLayer gopacket.NetworkLayer
	if s.v6 {
		ip := &layers.IPv6{Version: 6, TrafficClass: s.tos, HopLimit: ttl, NextHeader: proto,
			SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
		netLayer = ip
		ls = append(ls, ip)
		if len(s.ext) > 0 {
			ip.NextHeader = s.extNH
			// The extension headers and the upper layer become one payload.
			l4 := s.l4bytes(t, ip, proto)
			ls = append(ls, gopacket.Payload(append(append([]byte(nil), s.ext...), l4...)))
			return serialize(t, ls...)
		}
	} else {
		ip := &layers.IPv4{Version: 4, TOS: s.tos, TTL: ttl, Protocol: proto, Id: s.id,
			Flags: s.flags, FragOffset: s.fragOff, Options: s.opts,
			SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
		netLayer = ip
		ls = append(ls, ip)
	}
	ls = append(ls, s.l4layers(netLayer)...)
	return serialize(t, ls...)
}

func (s frameSpec) l4layers(nl gopacket.NetworkLayer) []gopacket.SerializableLayer {
	pl := gopacket.Payload(s.payload)
	switch s.l4 {
	case "udp":
		u := &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}
		u.SetNetworkLayerForChecksum(nl)
		return []gopacket.SerializableLayer{u, pl}
	case "tcp":
		tc := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport),
			Seq: 1, Window: 1024, SYN: true}
		tc.SetNetworkLayerForChecksum(nl)
		return []gopacket.SerializableLayer{tc, pl}
	case "icmp":
		if s.v6 {
			ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
			ic.SetNetworkLayerForChecksum(nl)
			return []gopacket.SerializableLayer{ic, &layers.ICMPv6Echo{Identifier: 7, SeqNumber: 9}, pl}
		}
		return []gopacket.SerializableLayer{
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 9}, pl}
	}
	return []gopacket.SerializableLayer{pl}
}

// l4bytes serialises the upper layer alone, checksummed against ip.
func (s frameSpec) l4bytes(t testing.TB, ip *layers.IPv6, proto layers.IPProtocol) []byte {
	cp := *ip
	cp.NextHeader = proto
	return serialize(t, s.l4layers(&cp)...)
}

// extHeader returns a generic IPv6 extension header (hop-by-hop, routing
// type 0 with no addresses, destination options) of 8*(1+units) bytes.
func extHeader(nh layers.IPProtocol, units int, kind byte) []byte {
	h := make([]byte, 8*(1+units))
	h[0], h[1] = byte(nh), byte(units)
	if kind == 43 {
		h[2], h[3] = 0, 0 // routing type 0, segments left 0
	} else {
		h[2], h[3] = 1, byte(len(h)-4) // one PadN option filling the header
	}
	return h
}

// fragHeader returns an IPv6 fragment header.
func fragHeader(nh layers.IPProtocol, off uint16, more bool, id uint32) []byte {
	h := make([]byte, 8)
	h[0] = byte(nh)
	v := off << 3
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(h[2:], v)
	binary.BigEndian.PutUint32(h[4:], id)
	return h
}

func mustParse(t testing.TB, frame []byte) *Parsed {
	t.Helper()
	var p Parsed
	if r := Parse(frame, false, 0, 0, &p); r != OK {
		t.Fatalf("Parse = %v, want ok", r)
	}
	return &p
}

// fixIPv4Checksum recomputes the header checksum after a test mutated the
// header at l3.
func fixIPv4Checksum(frame []byte, l3 int) {
	hl := int(frame[l3]&0x0f) * 4
	frame[l3+10], frame[l3+11] = 0, 0
	binary.BigEndian.PutUint16(frame[l3+10:], Checksum(frame[l3:l3+hl]))
}

var (
	v4src = netip.MustParseAddr("192.0.2.1")
	v4dst = netip.MustParseAddr("198.51.100.1")
	v4rtr = netip.MustParseAddr("203.0.113.1")
	v6src = netip.MustParseAddr("2001:db8::1")
	v6dst = netip.MustParseAddr("2001:db8:1::1")
	v6rtr = netip.MustParseAddr("2001:db8:ffff::1")
)
