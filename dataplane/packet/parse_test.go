package packet

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket/layers"
)

func udp4() frameSpec {
	return frameSpec{l4: "udp", sport: 1234, dport: 7777, payload: []byte("hello")}
}

func udp6() frameSpec {
	return frameSpec{v6: true, l4: "udp", sport: 1234, dport: 7777, payload: []byte("hello")}
}

// with returns a frame built from s after f changed the spec.
func (s frameSpec) with(f func(*frameSpec)) frameSpec { f(&s); return s }

// mutated returns a builder that builds s and then edits the bytes.
func mutated(s frameSpec, f func(b []byte)) func(t testing.TB) []byte {
	return func(t testing.TB) []byte { b := s.build(t); f(b); return b }
}

func built(s frameSpec) func(t testing.TB) []byte { return s.build }

func rawFrame(b []byte) func(t testing.TB) []byte { return func(testing.TB) []byte { return b } }

func ethHeader(et uint16, rest ...byte) []byte {
	b := append(append(append([]byte(nil), macB...), macA...), byte(et>>8), byte(et))
	return append(b, rest...)
}

func TestParseReasons(t *testing.T) {
	const l3 = 14
	srcAt := func(s frameSpec, a string) frameSpec { return s.with(func(f *frameSpec) { f.src = a }) }
	dstAt := func(s frameSpec, a string) frameSpec { return s.with(func(f *frameSpec) { f.dst = a }) }
	tags := func(s frameSpec, ts ...tagSpec) frameSpec { return s.with(func(f *frameSpec) { f.tags = ts }) }
	ext := func(nh layers.IPProtocol, e ...[]byte) frameSpec {
		var b []byte
		for _, h := range e {
			b = append(b, h...)
		}
		return udp6().with(func(f *frameSpec) { f.ext, f.extNH = b, nh })
	}
	const (
		hbh  = layers.IPProtocolIPv6HopByHop
		rt   = layers.IPProtocolIPv6Routing
		dopt = layers.IPProtocolIPv6Destination
		frag = layers.IPProtocolIPv6Fragment
		udp  = layers.IPProtocolUDP
	)
	longChain := func(n int) frameSpec {
		var hs [][]byte
		for i := 0; i < n; i++ {
			nh := dopt
			if i == n-1 {
				nh = udp
			}
			hs = append(hs, extHeader(nh, 0, 60))
		}
		return ext(dopt, hs...)
	}

	cases := []struct {
		name   string
		frame  func(t testing.TB) []byte
		hasTag bool
		tpid   uint16
		tci    uint16
		want   Reason
	}{
		{"udp4", built(udp4()), false, 0, 0, OK},
		{"udp6", built(udp6()), false, 0, 0, OK},
		{"arp is not an error", rawFrame(ethHeader(EtherTypeARP, make([]byte, 46)...)), false, 0, 0, OK},
		{"ipv6 with allowed extension chain", built(ext(hbh, extHeader(rt, 0, 0), extHeader(dopt, 0, 43), extHeader(udp, 1, 60))), false, 0, 0, OK},
		{"ipv6 chain of MaxExtHeaders", built(longChain(MaxExtHeaders)), false, 0, 0, OK},

		{"frame shorter than ethernet", rawFrame(make([]byte, 13)), false, 0, 0, TooShort},
		{"frame ends inside tag", rawFrame(ethHeader(TPID8021Q, 0, 5)), false, 0, 0, TooShort},
		{"three inline tags", built(tags(udp4(), tagSpec{layers.EthernetTypeQinQ, 10, 0}, tagSpec{layers.EthernetTypeDot1Q, 20, 0}, tagSpec{layers.EthernetTypeDot1Q, 30, 0})), false, 0, 0, TooManyVLANTags},
		{"stripped tag plus two inline", built(tags(udp4(), tagSpec{layers.EthernetTypeDot1Q, 20, 0}, tagSpec{layers.EthernetTypeDot1Q, 30, 0})), true, 0, 10, TooManyVLANTags},
		{"inline vid 4095", built(tags(udp4(), tagSpec{layers.EthernetTypeDot1Q, 4095, 0})), false, 0, 0, VLANReserved},
		{"stripped vid 4095", built(udp4()), true, TPID8021Q, 0x2fff, VLANReserved},

		{"ipv4 shorter than 20", func(t testing.TB) []byte { return udp4().build(t)[:l3+19] }, false, 0, 0, IPv4TooShort},
		{"ipv4 ethertype version 6", mutated(udp4(), func(b []byte) { b[l3] = 0x65; fixIPv4Checksum(b, l3) }), false, 0, 0, BadVersion},
		{"ipv6 ethertype version 4", mutated(udp6(), func(b []byte) { b[l3] = 0x40 }), false, 0, 0, BadVersion},
		{"ihl 4", mutated(udp4(), func(b []byte) { b[l3] = 0x44 }), false, 0, 0, BadIHL},
		{"ihl 0", mutated(udp4(), func(b []byte) { b[l3] = 0x40 }), false, 0, 0, BadIHL},
		{"total length below header", mutated(udp4(), func(b []byte) { binary.BigEndian.PutUint16(b[l3+2:], 19); fixIPv4Checksum(b, l3) }), false, 0, 0, BadTotalLength},
		{"total length below options", mutated(udp4().with(func(f *frameSpec) {
			f.opts = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
		}), func(b []byte) {
			binary.BigEndian.PutUint16(b[l3+2:], 22)
			fixIPv4Checksum(b, l3)
		}), false, 0, 0, BadTotalLength},
		{"total length beyond frame", mutated(udp4(), func(b []byte) { binary.BigEndian.PutUint16(b[l3+2:], uint16(len(b)-l3+1)); fixIPv4Checksum(b, l3) }), false, 0, 0, BadTotalLength},
		{"ipv4 checksum", mutated(udp4(), func(b []byte) { b[l3+10] ^= 0x40 }), false, 0, 0, BadChecksum},
		{"ipv4 header bit flip", mutated(udp4(), func(b []byte) { b[l3+12] ^= 1 }), false, 0, 0, BadChecksum},

		{"ipv6 shorter than 40", func(t testing.TB) []byte { return udp6().build(t)[:l3+39] }, false, 0, 0, IPv6TooShort},
		{"ipv6 payload length beyond frame", mutated(udp6(), func(b []byte) { binary.BigEndian.PutUint16(b[l3+4:], uint16(len(b)-l3-40+1)) }), false, 0, 0, IPv6PayloadLength},
		{"ext header longer than packet", built(frameSpec{v6: true, ext: extHeader(udp, 0, 60)[:6], extNH: dopt, proto: 59}), false, 0, 0, IPv6ExtHeader},
		{"ext header length field too big", mutated(ext(dopt, extHeader(udp, 0, 60)), func(b []byte) { b[l3+41] = 20 }), false, 0, 0, IPv6ExtHeader},
		{"hop-by-hop not first", built(ext(dopt, extHeader(hbh, 0, 60), extHeader(udp, 0, 0))), false, 0, 0, IPv6ExtHeader},
		{"two fragment headers", built(ext(frag, fragHeader(frag, 0, true, 1), fragHeader(udp, 0, true, 1))), false, 0, 0, IPv6ExtHeader},
		{"chain longer than MaxExtHeaders", built(longChain(MaxExtHeaders + 1)), false, 0, 0, IPv6ExtChainTooLong},

		{"src 0/8", built(srcAt(udp4(), "0.1.2.3")), false, 0, 0, MartianSource},
		{"src 0.0.0.0", built(srcAt(udp4(), "0.0.0.0")), false, 0, 0, MartianSource},
		{"src 127/8", built(srcAt(udp4(), "127.0.0.1")), false, 0, 0, MartianSource},
		{"src multicast", built(srcAt(udp4(), "224.0.0.1")), false, 0, 0, MartianSource},
		{"src class E", built(srcAt(udp4(), "240.0.0.1")), false, 0, 0, MartianSource},
		{"src limited broadcast", built(srcAt(udp4(), "255.255.255.255")), false, 0, 0, MartianSource},
		{"src ::", built(srcAt(udp6(), "::")), false, 0, 0, MartianSource},
		{"src ::1", built(srcAt(udp6(), "::1")), false, 0, 0, MartianSource},
		{"src v4-compatible", built(srcAt(udp6(), "::c000:201")), false, 0, 0, MartianSource},
		{"src v4-mapped", built(srcAt(udp6(), "::ffff:192.0.2.1")), false, 0, 0, MartianSource},
		{"src v6 multicast", built(srcAt(udp6(), "ff02::1")), false, 0, 0, MartianSource},
		{"src 169.254/16", built(srcAt(udp4(), "169.254.1.1")), false, 0, 0, LinkLocalSource},
		{"src fe80::/10", built(srcAt(udp6(), "febf::1")), false, 0, 0, LinkLocalSource},

		{"dst 0/8", built(dstAt(udp4(), "0.0.0.7")), false, 0, 0, MartianDest},
		{"dst 127/8", built(dstAt(udp4(), "127.1.2.3")), false, 0, 0, MartianDest},
		{"dst class E", built(dstAt(udp4(), "250.0.0.1")), false, 0, 0, MartianDest},
		{"dst ::", built(dstAt(udp6(), "::")), false, 0, 0, MartianDest},
		{"dst ::1", built(dstAt(udp6(), "::1")), false, 0, 0, MartianDest},
		{"dst v4-mapped", built(dstAt(udp6(), "::ffff:198.51.100.1")), false, 0, 0, MartianDest},
		{"dst multicast scope 0", built(dstAt(udp6(), "ff00::1")), false, 0, 0, MartianDest},
		{"dst interface-local multicast", built(dstAt(udp6(), "ff11::1")), false, 0, 0, MartianDest},
		{"dst limited broadcast", built(dstAt(udp4(), "255.255.255.255")), false, 0, 0, BroadcastDest},
		{"dst 224.0.0.5", built(dstAt(udp4(), "224.0.0.5")), false, 0, 0, MulticastDest},
		{"dst 239/8", built(dstAt(udp4(), "239.1.1.1")), false, 0, 0, MulticastDest},
		{"dst ff02::1", built(dstAt(udp6(), "ff02::1")), false, 0, 0, MulticastDest},
		{"dst ff0e::1", built(dstAt(udp6(), "ff0e::1")), false, 0, 0, MulticastDest},
		{"dst 169.254/16", built(dstAt(udp4(), "169.254.0.9")), false, 0, 0, LinkLocalDest},
		{"dst fe80::/10", built(dstAt(udp6(), "fe80::9")), false, 0, 0, LinkLocalDest},
		{"unicast ip in l2 broadcast", built(udp4().with(func(f *frameSpec) { f.dstMAC = layers.EthernetBroadcast })), false, 0, 0, LinkBroadcast},
		{"unicast ip in l2 multicast", built(udp6().with(func(f *frameSpec) { f.dstMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1} })), false, 0, 0, LinkBroadcast},
		{"source checked before destination", built(dstAt(srcAt(udp4(), "127.0.0.1"), "224.0.0.1")), false, 0, 0, MartianSource},
	}
	seen := map[Reason]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Parsed
			got := Parse(c.frame(t), c.hasTag, c.tpid, c.tci, &p)
			if got != c.want {
				t.Fatalf("Parse = %v, want %v", got, c.want)
			}
			if got.Addressing() && (!p.Src.IsValid() || !p.Dst.IsValid() || !p.HasPorts || p.DstPort != 7777) {
				t.Errorf("addressing reason %v left Parsed incomplete: %+v", got, p)
			}
		})
		seen[c.want] = true
	}
	for r := OK; r <= LinkBroadcast; r++ {
		if !seen[r] {
			t.Errorf("no case for parse reason %v", r)
		}
	}
}

func TestParseFieldsIPv4(t *testing.T) {
	s := frameSpec{l4: "tcp", sport: 40000, dport: 443, tos: 0xb8, id: 0x1234, ttl: 17,
		flags: layers.IPv4DontFragment, payload: make([]byte, 100),
		opts: []layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}}} // router alert
	p := mustParse(t, s.build(t))
	want := Parsed{
		DstMAC: [6]byte(macB), SrcMAC: [6]byte(macA), EtherType: EtherTypeIPv4, L3Off: 14,
		Family: IPv4, Src: v4src, Dst: v4dst, TTL: 17, TOS: 0xb8, Proto: ProtoTCP, ProtoOff: 9,
		HdrLen: 24, L4Off: 38, L3Len: 24 + 20 + 100, DF: true, FragID: 0x1234,
		HasPorts: true, SrcPort: 40000, DstPort: 443,
	}
	if *p != want {
		t.Errorf("Parse =\n%+v\nwant\n%+v", *p, want)
	}
}

func TestParseFragments(t *testing.T) {
	first := mustParse(t, udp4().with(func(f *frameSpec) { f.flags = layers.IPv4MoreFragments; f.id = 9 }).build(t))
	if !first.Fragment || first.NonInitial || !first.HasPorts || !first.MF {
		t.Errorf("IPv4 first fragment: %+v", first)
	}
	later := mustParse(t, udp4().with(func(f *frameSpec) { f.fragOff = 3 }).build(t))
	if !later.Fragment || !later.NonInitial || later.HasPorts || later.FragOff != 24 || later.MF {
		t.Errorf("IPv4 last fragment: %+v", later)
	}

	const udp = layers.IPProtocolUDP
	f6 := udp6().with(func(f *frameSpec) {
		f.ext, f.extNH = fragHeader(udp, 0, true, 0xdeadbeef), layers.IPProtocolIPv6Fragment
	})
	p := mustParse(t, f6.build(t))
	if !p.FragHeader || !p.Fragment || p.NonInitial || p.FragID != 0xdeadbeef || !p.HasPorts || p.Proto != ProtoUDP || p.HdrLen != 48 || p.ProtoOff != 40 {
		t.Errorf("IPv6 first fragment: %+v", p)
	}
	f6.ext = fragHeader(udp, 100, false, 1)
	p = mustParse(t, f6.build(t))
	if !p.Fragment || !p.NonInitial || p.FragOff != 800 || p.HasPorts || p.Proto != ProtoUDP {
		t.Errorf("IPv6 non-initial fragment: %+v", p)
	}
	f6.ext = fragHeader(udp, 0, false, 1)
	p = mustParse(t, f6.build(t))
	if !p.FragHeader || p.Fragment || p.NonInitial || !p.HasPorts {
		t.Errorf("IPv6 atomic fragment: %+v", p)
	}
}

func TestParseVLAN(t *testing.T) {
	q := func(tpid layers.EthernetType, vid uint16, pcp uint8) tagSpec { return tagSpec{tpid, vid, pcp} }
	cases := []struct {
		name                string
		tags                []tagSpec
		hasTag              bool
		tpid, tci           uint16
		nTags, inline       uint8
		outerTPID, outerTCI uint16
		innerTPID, innerTCI uint16
		l3Off               int
		vid                 uint16
	}{
		{"untagged", nil, false, 0, 0, 0, 0, 0, 0, 0, 0, 14, 0},
		{"stripped, tpid unknown", nil, true, 0, 0x2064, 1, 0, TPID8021Q, 0x2064, 0, 0, 14, 100},
		{"stripped S-tag", nil, true, TPID8021AD, 7, 1, 0, TPID8021AD, 7, 0, 0, 14, 7},
		{"inline C-tag", []tagSpec{q(layers.EthernetTypeDot1Q, 100, 5)}, false, 0, 0, 1, 1, TPID8021Q, 0xa064, 0, 0, 18, 100},
		{"inline QinQ", []tagSpec{q(layers.EthernetTypeQinQ, 300, 0), q(layers.EthernetTypeDot1Q, 20, 0)}, false, 0, 0, 2, 2, TPID8021AD, 300, TPID8021Q, 20, 22, 300},
		{"stripped outer, inline inner", []tagSpec{q(layers.EthernetTypeDot1Q, 20, 0)}, true, TPID8021AD, 300, 2, 1, TPID8021AD, 300, TPID8021Q, 20, 18, 300},
		{"priority tag", []tagSpec{q(layers.EthernetTypeDot1Q, 0, 3)}, false, 0, 0, 1, 1, TPID8021Q, 0x6000, 0, 0, 18, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Parsed
			if r := Parse(udp4().with(func(f *frameSpec) { f.tags = c.tags }).build(t), c.hasTag, c.tpid, c.tci, &p); r != OK {
				t.Fatalf("Parse = %v", r)
			}
			if p.Tags != c.nTags || p.InlineTags != c.inline || p.OuterTPID != c.outerTPID || p.OuterTCI != c.outerTCI ||
				p.InnerTPID != c.innerTPID || p.InnerTCI != c.innerTCI || p.L3Off != c.l3Off || p.VID() != c.vid ||
				p.EtherType != EtherTypeIPv4 || p.Dst != v4dst {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func TestParseICMP(t *testing.T) {
	p := mustParse(t, frameSpec{l4: "icmp"}.build(t))
	if !p.HasICMP || p.ICMPType != 8 || p.ICMPCode != 0 || p.HasPorts {
		t.Errorf("ICMP echo: %+v", p)
	}
	p = mustParse(t, frameSpec{v6: true, l4: "icmp"}.build(t))
	if !p.HasICMP || p.ICMPType != 128 || p.Proto != ProtoICMPv6 {
		t.Errorf("ICMPv6 echo: %+v", p)
	}
	// Protocol 1 inside IPv6 is not ICMPv6.
	p = mustParse(t, frameSpec{v6: true, proto: layers.IPProtocolICMPv4, payload: []byte{8, 0, 0, 0}}.build(t))
	if p.HasICMP {
		t.Errorf("ICMPv4 in IPv6 decoded as ICMP: %+v", p)
	}
}

func TestParseIgnoresPadding(t *testing.T) {
	b := udp4().build(t) // gopacket pads to 60 bytes
	p := mustParse(t, b)
	if p.L3Len != 20+8+5 || len(b) != 60 {
		t.Errorf("L3Len = %d, frame %d bytes", p.L3Len, len(b))
	}
}

func TestDstLinkLocal(t *testing.T) {
	for a, want := range map[string]bool{
		"169.254.3.4": true, "224.0.0.251": true, "224.0.1.1": false, "198.51.100.1": false,
		"fe80::1": true, "ff02::1:ff00:1": true, "ff05::2": false, "2001:db8::1": false,
	} {
		p := Parsed{Family: IPv4, Dst: netip.MustParseAddr(a)}
		if p.Dst.Is6() {
			p.Family = IPv6
		}
		if got := p.DstLinkLocal(); got != want {
			t.Errorf("DstLinkLocal(%s) = %v, want %v", a, got, want)
		}
	}
}

func TestReasonNames(t *testing.T) {
	seen := map[string]Reason{}
	for r := Reason(0); r < NumReasons; r++ {
		s := r.String()
		if s == "" || s == "unknown" {
			t.Errorf("reason %d has no name", r)
		}
		if o, dup := seen[s]; dup {
			t.Errorf("reasons %d and %d share name %q", o, r, s)
		}
		seen[s] = r
	}
	if NumReasons.String() != "unknown" {
		t.Error("NumReasons has a name")
	}
	for _, r := range []Reason{MartianSource, LinkLocalSource, MartianDest, BroadcastDest, MulticastDest, LinkLocalDest, LinkBroadcast} {
		if !r.Addressing() {
			t.Errorf("%v.Addressing() = false", r)
		}
	}
	for _, r := range []Reason{OK, BadChecksum, IPv6ExtChainTooLong, TTLExceeded} {
		if r.Addressing() {
			t.Errorf("%v.Addressing() = true", r)
		}
	}
}
