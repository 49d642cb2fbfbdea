package packet

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// parsedAny parses frame and accepts OK or an addressing reason.
func parsedAny(t testing.TB, frame []byte) *Parsed {
	t.Helper()
	var p Parsed
	if r := Parse(frame, false, 0, 0, &p); r != OK && !r.Addressing() {
		t.Fatalf("Parse = %v", r)
	}
	return &p
}

// checkGenerated frames the IP packet ip (as an ICMP builder wrote it),
// parses it with Parse and gopacket, and checks the checksums and limits
// that every generated message must meet.
func checkGenerated(t testing.TB, ip []byte, fam Family) (*Parsed, gopacket.Packet) {
	t.Helper()
	buf := make([]byte, MaxL2Header+len(ip))
	copy(buf[MaxL2Header:], ip)
	et := uint16(EtherTypeIPv4)
	limit := MaxICMPv4Error
	if fam == IPv6 {
		et, limit = EtherTypeIPv6, MaxICMPv6Error
	}
	start := WriteL2(buf, MaxL2Header, macC, macD, Tags{}, et)
	frame := buf[start:]
	p := parsedAny(t, frame)
	if p.Family != fam || p.L3Len != len(ip) || p.TTL != ICMPHopLimit || p.Fragment {
		t.Fatalf("generated packet: %+v", p)
	}
	if !VerifyL4Checksum(frame, p) {
		t.Fatalf("generated ICMP checksum does not verify: %x", ip)
	}
	if !p.HasICMP {
		t.Fatalf("generated packet is not ICMP: %+v", p)
	}
	if p.ICMPType < 128 && p.ICMPType != 0 && len(ip) > limit { // errors only
		t.Fatalf("ICMP error of %d bytes exceeds %d", len(ip), limit)
	}
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	if fam == IPv4 {
		if _, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); !ok {
			t.Fatalf("gopacket finds no ICMPv4 in %x: %v", frame, pkt)
		}
	} else if _, ok := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); !ok {
		t.Fatalf("gopacket finds no ICMPv6 in %x: %v", frame, pkt)
	}
	crossCheck(t, frame, false, p, OK)
	return p, pkt
}

func TestShouldSendError(t *testing.T) {
	icmpErr4 := frameSpec{proto: layers.IPProtocolICMPv4, payload: []byte{3, 1, 0, 0, 0, 0, 0, 0}}
	icmpErr6 := frameSpec{v6: true, proto: layers.IPProtocolICMPv6, payload: []byte{1, 0, 0, 0, 0, 0, 0, 0}}
	src := func(s frameSpec, a string) frameSpec { s.src = a; return s }
	dst := func(s frameSpec, a string) frameSpec { s.dst = a; return s }
	bcastMAC := func(s frameSpec) frameSpec { s.dstMAC = layers.EthernetBroadcast; return s }
	cases := []struct {
		name string
		s    frameSpec
		kind ICMPKind
		want Reason
	}{
		{"udp4", udp4(), ICMPNetUnreachable, OK},
		{"udp6", udp6(), ICMPNetUnreachable, OK},
		{"echo request", frameSpec{l4: "icmp"}, ICMPTimeExceeded, OK},
		{"icmpv6 echo request", frameSpec{v6: true, l4: "icmp"}, ICMPTimeExceeded, OK},
		{"about an icmp error", icmpErr4, ICMPTimeExceeded, ICMPAboutError},
		{"about an icmpv6 error", icmpErr6, ICMPPacketTooBig, ICMPAboutError},
		{"about an unknown icmp type", frameSpec{proto: layers.IPProtocolICMPv4, payload: []byte{42, 0, 0, 0}}, ICMPTimeExceeded, ICMPAboutError},
		{"about a truncated icmp header", frameSpec{proto: layers.IPProtocolICMPv4, payload: []byte{8}}, ICMPTimeExceeded, ICMPAboutError},
		{"about a first fragment", udp4().with(func(f *frameSpec) { f.flags = layers.IPv4MoreFragments }), ICMPTimeExceeded, OK},
		{"about a non-initial fragment", udp4().with(func(f *frameSpec) { f.fragOff = 1 }), ICMPTimeExceeded, ICMPAboutFragment},
		{"about a non-initial v6 fragment", udp6().with(func(f *frameSpec) {
			f.ext, f.extNH = fragHeader(layers.IPProtocolUDP, 1, false, 1), layers.IPProtocolIPv6Fragment
		}), ICMPTimeExceeded, ICMPAboutFragment},
		{"to multicast", dst(udp4(), "224.0.0.5"), ICMPNetUnreachable, ICMPAboutMulticast},
		{"to broadcast", dst(udp4(), "255.255.255.255"), ICMPNetUnreachable, ICMPAboutMulticast},
		{"v4 multicast even for frag needed", dst(udp4(), "239.0.0.1"), ICMPPacketTooBig, ICMPAboutMulticast},
		{"to v6 multicast", dst(udp6(), "ff0e::1"), ICMPHostUnreachable, ICMPAboutMulticast},
		{"packet too big to v6 multicast", dst(udp6(), "ff0e::1"), ICMPPacketTooBig, OK},
		{"unrecognized option to v6 multicast", dst(udp6(), "ff0e::1"), ICMPUnrecognizedOption, OK},
		{"param problem 0 to v6 multicast", dst(udp6(), "ff0e::1"), ICMPParamProblem, ICMPAboutMulticast},
		{"link-layer broadcast", bcastMAC(udp4()), ICMPTimeExceeded, ICMPAboutMulticast},
		{"link-layer broadcast, v6 packet too big", bcastMAC(udp6()), ICMPPacketTooBig, OK},
		{"from 0.0.0.0", src(udp4(), "0.0.0.0"), ICMPNetUnreachable, ICMPAboutBadSource},
		{"from loopback", src(udp4(), "127.0.0.1"), ICMPNetUnreachable, ICMPAboutBadSource},
		{"from class E", src(udp4(), "240.1.1.1"), ICMPNetUnreachable, ICMPAboutBadSource},
		{"from ::", src(udp6(), "::"), ICMPNetUnreachable, ICMPAboutBadSource},
		{"from v6 multicast", src(udp6(), "ff05::1"), ICMPNetUnreachable, ICMPAboutBadSource},
		{"from v4-mapped", src(udp6(), "::ffff:192.0.2.1"), ICMPNetUnreachable, ICMPAboutBadSource},
		{"from link-local", src(udp6(), "fe80::1"), ICMPNetUnreachable, OK},
	}
	for _, c := range cases {
		p := parsedAny(t, c.s.build(t))
		ok, why := ShouldSendError(p, c.kind)
		if why != c.want || ok != (c.want == OK) {
			t.Errorf("%s: ShouldSendError = %v, %v; want %v", c.name, ok, why, c.want)
		}
		n, r := BuildError(make([]byte, MaxICMPv6Error), c.s.build(t), p, c.kind, 1280, map[bool]netip.Addr{false: v4rtr, true: v6rtr}[c.s.v6])
		if r != c.want || (n > 0) != (c.want == OK) {
			t.Errorf("%s: BuildError = %d, %v; want %v", c.name, n, r, c.want)
		}
	}
	var arp Parsed
	if ok, why := ShouldSendError(&arp, ICMPTimeExceeded); ok || why != NotIP {
		t.Errorf("ShouldSendError(non-IP) = %v, %v", ok, why)
	}
}

func TestBuildErrorIPv4(t *testing.T) {
	want := map[ICMPKind][2]uint8{
		ICMPTimeExceeded: {11, 0}, ICMPNetUnreachable: {3, 0}, ICMPHostUnreachable: {3, 1},
		ICMPProtocolUnreachable: {3, 2}, ICMPPortUnreachable: {3, 3}, ICMPPacketTooBig: {3, 4},
		ICMPAdminProhibited: {3, 13}, ICMPParamProblem: {12, 0}, ICMPUnrecognizedOption: {12, 0}, ICMPBeyondScope: {3, 1},
	}
	orig := frameSpec{tags: []tagSpec{{0x8100, 7, 0}}, l4: "tcp", sport: 3, dport: 4, id: 0x4242,
		opts:    []layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}},
		payload: []byte("quote me")}.build(t)
	op := mustParse(t, orig)
	ipOrig := orig[op.L3Off : op.L3Off+op.L3Len]
	for k := ICMPKind(0); k < NumICMPKinds; k++ {
		out := make([]byte, MaxICMPv4Error)
		n, r := BuildError(out, orig, op, k, 1400, v4rtr)
		if r != OK || n != 28+len(ipOrig) {
			t.Fatalf("%v: BuildError = %d, %v", k, n, r)
		}
		p, pkt := checkGenerated(t, out[:n], IPv4)
		if p.Src != v4rtr || p.Dst != v4src || p.ICMPType != want[k][0] || p.ICMPCode != want[k][1] {
			t.Errorf("%v: got %v > %v type %d code %d", k, p.Src, p.Dst, p.ICMPType, p.ICMPCode)
		}
		ic := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if !bytes.Equal(ic.Payload, ipOrig) {
			t.Errorf("%v: quote %x, want %x", k, ic.Payload, ipOrig)
		}
		rest := binary.BigEndian.Uint32(out[24:28])
		switch k {
		case ICMPPacketTooBig:
			if rest != 1400 {
				t.Errorf("next-hop MTU field %#x, want 1400 (RFC 1191)", rest)
			}
		case ICMPParamProblem, ICMPUnrecognizedOption:
			if rest != (1400&0xff)<<24 {
				t.Errorf("pointer field %#x", rest)
			}
		default:
			if rest != 0 {
				t.Errorf("%v: unused field %#x", k, rest)
			}
		}
	}
}

func TestBuildErrorIPv6(t *testing.T) {
	want := map[ICMPKind][2]uint8{
		ICMPTimeExceeded: {3, 0}, ICMPNetUnreachable: {1, 0}, ICMPHostUnreachable: {1, 3},
		ICMPProtocolUnreachable: {4, 1}, ICMPPortUnreachable: {1, 4}, ICMPPacketTooBig: {2, 0},
		ICMPAdminProhibited: {1, 1}, ICMPParamProblem: {4, 0}, ICMPUnrecognizedOption: {4, 2}, ICMPBeyondScope: {1, 2},
	}
	orig := frameSpec{v6: true, proto: 253, payload: []byte("quote me"),
		ext: extHeader(253, 0, 60), extNH: layers.IPProtocolIPv6Destination}.build(t)
	op := mustParse(t, orig)
	ipOrig := orig[op.L3Off : op.L3Off+op.L3Len]
	for k := ICMPKind(0); k < NumICMPKinds; k++ {
		out := make([]byte, MaxICMPv6Error)
		n, r := BuildError(out, orig, op, k, 1280, v6rtr)
		if r != OK || n != 48+len(ipOrig) {
			t.Fatalf("%v: BuildError = %d, %v", k, n, r)
		}
		p, pkt := checkGenerated(t, out[:n], IPv6)
		if p.Src != v6rtr || p.Dst != v6src || p.ICMPType != want[k][0] || p.ICMPCode != want[k][1] {
			t.Errorf("%v: got %v > %v type %d code %d", k, p.Src, p.Dst, p.ICMPType, p.ICMPCode)
		}
		ic := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		if !bytes.Equal(ic.Payload[4:], ipOrig) {
			t.Errorf("%v: quote %x, want %x", k, ic.Payload[4:], ipOrig)
		}
		rest := binary.BigEndian.Uint32(ic.Payload[:4])
		switch k {
		case ICMPPacketTooBig, ICMPParamProblem, ICMPUnrecognizedOption:
			if rest != 1280 {
				t.Errorf("%v: MTU/pointer field %d", k, rest)
			}
		case ICMPProtocolUnreachable:
			if rest != 40 { // the destination options header's next header byte
				t.Errorf("unrecognized next header pointer %d, want 40", rest)
			}
		default:
			if rest != 0 {
				t.Errorf("%v: unused field %#x", k, rest)
			}
		}
	}
}

// TestBuildErrorSizeLimits: quotes are cut so the error fits 576 bytes
// (IPv4) or 1280 (IPv6), and BuildError needs no more buffer than that.
func TestBuildErrorSizeLimits(t *testing.T) {
	for _, c := range []struct {
		s     frameSpec
		limit int
		src   netip.Addr
	}{
		{frameSpec{l4: "udp", sport: 1, dport: 2, payload: make([]byte, 1472)}, MaxICMPv4Error, v4rtr},
		{frameSpec{v6: true, l4: "udp", sport: 1, dport: 2, payload: make([]byte, 1452)}, MaxICMPv6Error, v6rtr},
	} {
		for i := range c.s.payload {
			c.s.payload[i] = byte(i)
		}
		orig := c.s.build(t)
		p := mustParse(t, orig)
		out := make([]byte, c.limit)
		n, r := BuildError(out, orig, p, ICMPPacketTooBig, 1280, c.src)
		if r != OK || n != c.limit {
			t.Fatalf("BuildError = %d, %v; want %d bytes", n, r, c.limit)
		}
		hdr := 28
		if c.s.v6 {
			hdr = 48
		}
		if !bytes.Equal(out[hdr:n], orig[p.L3Off:p.L3Off+n-hdr]) {
			t.Error("quote is not the start of the offending packet")
		}
		checkGenerated(t, out[:n], p.Family)
		if n, r := BuildError(out[:c.limit-1], orig, p, ICMPPacketTooBig, 1280, c.src); r != BufferTooSmall || n != 0 {
			t.Errorf("short buffer: BuildError = %d, %v", n, r)
		}
	}
}

func TestBuildErrorNoSource(t *testing.T) {
	f4, f6 := udp4().build(t), udp6().build(t)
	p4, p6 := mustParse(t, f4), mustParse(t, f6)
	out := make([]byte, MaxICMPv6Error)
	for name, c := range map[string]struct {
		f   []byte
		p   *Parsed
		src netip.Addr
	}{
		"v4 packet, v6 source": {f4, p4, v6rtr},
		"v4 packet, no source": {f4, p4, netip.Addr{}},
		"v6 packet, v4 source": {f6, p6, v4rtr},
		"v6 packet, v4-mapped": {f6, p6, netip.AddrFrom16(v4rtr.As16())},
	} {
		if n, r := BuildError(out, c.f, c.p, ICMPNetUnreachable, 0, c.src); r != ICMPNoSource || n != 0 {
			t.Errorf("%s: BuildError = %d, %v", name, n, r)
		}
	}
}

func TestBuildEchoReply(t *testing.T) {
	for _, s := range []frameSpec{
		{l4: "icmp"},
		{l4: "icmp", payload: []byte("x")},
		{l4: "icmp", payload: make([]byte, 1472), tos: 0x10},
		{l4: "icmp", payload: []byte("opts"), opts: []layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}}},
		{v6: true, l4: "icmp"},
		{v6: true, l4: "icmp", payload: []byte("odd"), tos: 0x20},
		{v6: true, l4: "icmp", payload: make([]byte, 1452)},
		{v6: true, l4: "icmp", payload: []byte("ext"), ext: extHeader(layers.IPProtocolICMPv6, 0, 60), extNH: layers.IPProtocolIPv6Destination},
	} {
		for i := range s.payload {
			s.payload[i] = byte(i * 7)
		}
		req := s.build(t)
		p := mustParse(t, req)
		src := p.Dst
		out := make([]byte, p.L3Len)
		n, r := BuildEchoReply(out, req, p, src)
		if r != OK {
			t.Fatalf("BuildEchoReply = %v", r)
		}
		q, pkt := checkGenerated(t, out[:n], p.Family)
		if q.Src != p.Dst || q.Dst != p.Src || q.HasPorts || q.TOS != p.TOS {
			t.Errorf("reply header %+v", q)
		}
		reqMsg := req[p.L4Off : p.L3Off+p.L3Len]
		repMsg := out[q.HdrLen:n]
		if !bytes.Equal(reqMsg[4:], repMsg[4:]) {
			t.Errorf("identifier, sequence or data changed: %x vs %x", reqMsg, repMsg)
		}
		if s.v6 {
			e := pkt.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
			if q.ICMPType != 129 || e.Identifier != 7 || e.SeqNumber != 9 {
				t.Errorf("ICMPv6 reply type %d, %+v", q.ICMPType, e)
			}
		} else {
			ic := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if q.ICMPType != 0 || ic.Id != 7 || ic.Seq != 9 || q.HdrLen != 20 {
				t.Errorf("ICMP reply %+v", ic)
			}
		}
	}
}

func TestBuildEchoReplyRejects(t *testing.T) {
	badSum := frameSpec{l4: "icmp", payload: []byte("abc")}.build(t)
	badSum[len(badSum)-1-(60-14-20-8-3)] ^= 0xff // the last payload byte, before padding
	cases := []struct {
		name  string
		frame []byte
		src   netip.Addr
		want  Reason
	}{
		{"udp", udp4().build(t), v4dst, NotEchoRequest},
		{"echo reply", frameSpec{proto: layers.IPProtocolICMPv4, payload: []byte{0, 0, 0xff, 0xff, 0, 0, 0, 0}}.build(t), v4dst, NotEchoRequest},
		{"short echo", frameSpec{proto: layers.IPProtocolICMPv4, payload: []byte{8, 0, 0xf7, 0xff}}.build(t), v4dst, NotEchoRequest},
		{"fragmented", frameSpec{l4: "icmp", flags: layers.IPv4MoreFragments}.build(t), v4dst, EchoFragmented},
		{"bad checksum", badSum, v4dst, BadL4Checksum},
		{"from martian", frameSpec{l4: "icmp", src: "127.0.0.1"}.build(t), v4dst, ICMPAboutBadSource},
		{"wrong family source", frameSpec{l4: "icmp"}.build(t), v6dst, ICMPNoSource},
		{"v6 wrong family source", frameSpec{v6: true, l4: "icmp"}.build(t), v4dst, ICMPNoSource},
		{"arp", ethHeader(EtherTypeARP, make([]byte, 46)...), v4dst, NotIP},
	}
	for _, c := range cases {
		p := parsedAny(t, c.frame)
		if n, r := BuildEchoReply(make([]byte, 2048), c.frame, p, c.src); r != c.want || n != 0 {
			t.Errorf("%s: BuildEchoReply = %d, %v; want %v", c.name, n, r, c.want)
		}
	}
	req := frameSpec{l4: "icmp", payload: make([]byte, 100)}.build(t)
	p := mustParse(t, req)
	if _, r := BuildEchoReply(make([]byte, p.L3Len-p.HdrLen+19), req, p, v4dst); r != BufferTooSmall {
		t.Errorf("short buffer: %v", r)
	}
}

// TestICMPKindNames keeps the kind names in step with the constants.
func TestICMPKindNames(t *testing.T) {
	for k := ICMPKind(0); k < NumICMPKinds; k++ {
		if k.String() == "" || k.String() == "unknown" {
			t.Errorf("kind %d unnamed", k)
		}
	}
}
