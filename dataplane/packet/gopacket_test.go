package packet

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// crossCheck compares p (Parse's result r for frame) with gopacket's
// decoding of the same bytes, field by field where both decode. It judges
// only frames both accept — Parse OK or an addressing reason, gopacket
// without an error layer, or with one only for an upper-layer protocol it
// does not know — and reports whether it did. gopacket's Truncated flag is
// ignored: v1.1.19 sets it on every packet with a hop-by-hop header (it
// subtracts the header from the payload but not from the payload length).
// hasTag says a tag was passed out of band (gopacket sees only inline ones).
func crossCheck(t testing.TB, frame []byte, hasTag bool, p *Parsed, r Reason) bool {
	t.Helper()
	if r != OK && !r.Addressing() {
		return false
	}
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	if e := pkt.ErrorLayer(); e != nil {
		msg := e.Error().Error()
		if !strings.HasPrefix(msg, "Unable to decode IPProtocol") && !strings.HasPrefix(msg, "Layer type not currently supported") {
			return false
		}
	}
	errorf := func(format string, args ...any) {
		t.Helper()
		t.Errorf("frame %x: %s\nParsed: %+v", frame, fmt.Sprintf(format, args...), *p)
	}

	eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if [6]byte(eth.DstMAC) != p.DstMAC || [6]byte(eth.SrcMAC) != p.SrcMAC {
		errorf("MACs: gopacket %v > %v", eth.SrcMAC, eth.DstMAC)
	}
	var tags []*layers.Dot1Q
	for _, l := range pkt.Layers() {
		if q, ok := l.(*layers.Dot1Q); ok {
			tags = append(tags, q)
		}
	}
	if len(tags) != int(p.InlineTags) {
		errorf("gopacket has %d tags, Parse %d inline", len(tags), p.InlineTags)
		return true
	}
	tpid := uint16(eth.EthernetType)
	for i, q := range tags {
		gtci := uint16(q.Priority)<<13 | q.VLANIdentifier
		if q.DropEligible {
			gtci |= 0x1000
		}
		tci, tp := p.OuterTCI, p.OuterTPID
		if i == 1 || hasTag {
			tci, tp = p.InnerTCI, p.InnerTPID
		}
		if gtci != tci || tpid != tp {
			errorf("tag %d: gopacket tpid %#x tci %#x, Parse %#x %#x", i, tpid, gtci, tp, tci)
		}
		tpid = uint16(q.Type)
	}
	if p.Family == NonIP {
		return true
	}
	if tpid != p.EtherType {
		errorf("EtherType: gopacket %#x", tpid)
	}

	switch p.Family {
	case IPv4:
		ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok {
			errorf("gopacket has no IPv4 layer")
			return true
		}
		if ip.Version != 4 || int(ip.IHL)*4 != p.HdrLen || ip.TOS != p.TOS || int(ip.Length) != p.L3Len ||
			uint32(ip.Id) != p.FragID || ip.TTL != p.TTL || uint8(ip.Protocol) != p.Proto ||
			ip.Flags&layers.IPv4DontFragment != 0 != p.DF || ip.Flags&layers.IPv4MoreFragments != 0 != p.MF ||
			ip.FragOffset*8 != p.FragOff {
			errorf("IPv4 header: gopacket %+v", *ip)
		}
		if a, _ := netip.AddrFromSlice(ip.SrcIP); a != p.Src {
			errorf("IPv4 src: gopacket %v", ip.SrcIP)
		}
		if a, _ := netip.AddrFromSlice(ip.DstIP); a != p.Dst {
			errorf("IPv4 dst: gopacket %v", ip.DstIP)
		}
	case IPv6:
		ip, ok := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		if !ok {
			errorf("gopacket has no IPv6 layer")
			return true
		}
		if ip.TrafficClass != p.TOS || int(ip.Length)+40 != p.L3Len || ip.HopLimit != p.TTL {
			errorf("IPv6 header: gopacket %+v", *ip)
		}
		if a, _ := netip.AddrFromSlice(ip.SrcIP); a != p.Src {
			errorf("IPv6 src: gopacket %v", ip.SrcIP)
		}
		if a, _ := netip.AddrFromSlice(ip.DstIP); a != p.Dst {
			errorf("IPv6 dst: gopacket %v", ip.DstIP)
		}
		// With a hop-by-hop header gopacket v1.1.19 ends the payload
		// hop-by-hop-length bytes too late, reading link padding as
		// extension-header or upper-layer data: its view past the
		// hop-by-hop header is comparable only without padding.
		if p.Family == IPv6 && frame[p.L3Off+6] == extHopByHop && len(frame) > p.L3Off+p.L3Len {
			return true
		}
		if f, ok := pkt.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment); ok {
			if !p.FragHeader || f.FragmentOffset*8 != p.FragOff || f.Identification != p.FragID ||
				(f.FragmentOffset != 0 || f.MoreFragments) != p.Fragment {
				errorf("IPv6 fragment header: gopacket %+v", *f)
			}
			if p.NonInitial && uint8(f.NextHeader) != p.Proto {
				errorf("IPv6 fragment next header: gopacket %v", f.NextHeader)
			}
		} else if p.FragHeader {
			errorf("gopacket saw no fragment header")
		}
	}

	if l, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
		if p.Proto != ProtoTCP || !p.HasPorts || uint16(l.SrcPort) != p.SrcPort || uint16(l.DstPort) != p.DstPort {
			errorf("TCP: gopacket %v > %v", l.SrcPort, l.DstPort)
		}
	} else if p.Family == IPv4 && p.Proto == ProtoTCP && !p.Fragment && p.HasPorts {
		errorf("gopacket decoded no TCP")
	}
	if l, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
		if p.Proto != ProtoUDP || !p.HasPorts || uint16(l.SrcPort) != p.SrcPort || uint16(l.DstPort) != p.DstPort {
			errorf("UDP: gopacket %v > %v", l.SrcPort, l.DstPort)
		}
	} else if p.Family == IPv4 && p.Proto == ProtoUDP && !p.Fragment && p.HasPorts {
		errorf("gopacket decoded no UDP")
	}
	// gopacket decodes protocol 1 as ICMPv4 and 58 as ICMPv6 under either IP
	// version; Parse only under the version each belongs to (RFC 4443 §1),
	// so only those are compared.
	if l, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok && p.Family == IPv4 {
		if !p.HasICMP || l.TypeCode.Type() != p.ICMPType || l.TypeCode.Code() != p.ICMPCode {
			errorf("ICMP: gopacket %v", l.TypeCode)
		}
	}
	if l, ok := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok && p.Family == IPv6 {
		if !p.HasICMP || l.TypeCode.Type() != p.ICMPType || l.TypeCode.Code() != p.ICMPCode {
			errorf("ICMPv6: gopacket %v", l.TypeCode)
		}
	}
	return true
}

// corpus returns valid frames across tagging, both families, IPv4 options,
// IPv6 extension headers, fragments and upper layers.
func corpus(t testing.TB) [][]byte {
	const (
		udp  = layers.IPProtocolUDP
		tcp  = layers.IPProtocolTCP
		icmp = layers.IPProtocolICMPv6
		dopt = layers.IPProtocolIPv6Destination
		rt   = layers.IPProtocolIPv6Routing
		frag = layers.IPProtocolIPv6Fragment
	)
	tagSets := [][]tagSpec{
		nil,
		{{layers.EthernetTypeDot1Q, 100, 0}},
		{{layers.EthernetTypeDot1Q, 4094, 7}},
		{{layers.EthernetTypeQinQ, 1, 0}, {layers.EthernetTypeDot1Q, 200, 3}},
	}
	optSets := [][]layers.IPv4Option{
		nil,
		{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}},
		{{OptionType: 1}, {OptionType: 0x07, OptionLength: 11, OptionData: make([]byte, 9)}, {OptionType: 0}},
		{{OptionType: 0x83, OptionLength: 39, OptionData: make([]byte, 37)}},
	}
	type v6ext struct {
		nh   layers.IPProtocol
		hdrs func(upper layers.IPProtocol) []byte
	}
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	extSets := []v6ext{
		{},
		{dopt, func(u layers.IPProtocol) []byte { return extHeader(u, 0, 60) }},
		{layers.IPProtocolIPv6HopByHop, func(u layers.IPProtocol) []byte {
			return cat(extHeader(rt, 0, 0), extHeader(dopt, 0, 43), extHeader(u, 2, 60))
		}},
		{frag, func(u layers.IPProtocol) []byte { return fragHeader(u, 0, true, 77) }},
		{frag, func(u layers.IPProtocol) []byte { return fragHeader(u, 181, false, 78) }},
	}
	var out [][]byte
	payloads := [][]byte{nil, []byte("x"), make([]byte, 200)}
	for _, tags := range tagSets {
		for _, l4 := range []string{"udp", "tcp", "icmp", ""} {
			for _, pl := range payloads {
				for i, opts := range optSets {
					s := frameSpec{tags: tags, l4: l4, sport: 1000 + uint16(i), dport: 2000, payload: pl,
						opts: opts, proto: 253, tos: uint8(i * 4)}
					out = append(out, s.build(t))
					s.flags = layers.IPv4MoreFragments
					out = append(out, s.build(t))
					s.flags, s.fragOff = 0, 100
					out = append(out, s.build(t))
				}
				for i, e := range extSets {
					if l4 == "" && len(pl) == 0 {
						continue // gopacket rejects an empty IPv6 payload
					}
					s := frameSpec{v6: true, tags: tags, l4: l4, sport: 1000, dport: 2000 + uint16(i), payload: pl, proto: 253}
					if e.hdrs != nil {
						upper := map[string]layers.IPProtocol{"udp": udp, "tcp": tcp, "icmp": icmp, "": 253}[l4]
						s.ext, s.extNH = e.hdrs(upper), e.nh
					}
					out = append(out, s.build(t))
				}
			}
		}
	}
	out = append(out, ethHeader(EtherTypeARP, make([]byte, 28)...))
	return out
}

func TestGopacketCrossCheck(t *testing.T) {
	frames := corpus(t)
	for _, f := range frames {
		var p Parsed
		r := Parse(f, false, 0, 0, &p)
		if r != OK {
			t.Fatalf("Parse(%x) = %v", f, r)
		}
		if !crossCheck(t, f, false, &p, r) {
			t.Errorf("gopacket rejected corpus frame %x", f)
		}
	}
	t.Logf("%d frames cross-checked", len(frames))
}

// TestGopacketCrossCheckStrippedTag parses the same frames as if the kernel
// had stripped an outer S-tag: the inline tags must then be the inner ones.
func TestGopacketCrossCheckStrippedTag(t *testing.T) {
	n := 0
	for _, f := range corpus(t) {
		var p Parsed
		r := Parse(f, true, TPID8021AD, 42, &p)
		if r == TooManyVLANTags {
			continue
		}
		if r != OK || p.VID() != 42 {
			t.Fatalf("Parse(%x) = %v, VID %d", f, r, p.VID())
		}
		if crossCheck(t, f, true, &p, r) {
			n++
		}
	}
	if n == 0 {
		t.Fatal("nothing cross-checked")
	}
}

// recorder is a testing.TB that only records whether Errorf was called.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Helper()               {}

// TestCrossCheckDetectsMismatch makes sure crossCheck can fail: each
// corrupted field must be noticed.
func TestCrossCheckDetectsMismatch(t *testing.T) {
	f := frameSpec{tags: []tagSpec{{layers.EthernetTypeDot1Q, 5, 0}}, l4: "tcp", sport: 1, dport: 2,
		opts: []layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}}}.build(t)
	f6 := frameSpec{v6: true, l4: "udp", ext: fragHeader(layers.IPProtocolUDP, 0, true, 5), extNH: layers.IPProtocolIPv6Fragment}.build(t)
	for name, c := range map[string]struct {
		frame []byte
		edit  func(*Parsed)
	}{
		"src port": {f, func(p *Parsed) { p.SrcPort++ }},
		"vlan":     {f, func(p *Parsed) { p.OuterTCI++ }},
		"hdrlen":   {f, func(p *Parsed) { p.HdrLen -= 4 }},
		"dst":      {f, func(p *Parsed) { p.Dst = v4src }},
		"ttl":      {f, func(p *Parsed) { p.TTL-- }},
		"df":       {f, func(p *Parsed) { p.DF = !p.DF }},
		"mac":      {f, func(p *Parsed) { p.SrcMAC[5]++ }},
		"frag id":  {f6, func(p *Parsed) { p.FragID++ }},
		"v6 len":   {f6, func(p *Parsed) { p.L3Len++ }},
	} {
		p := mustParse(t, c.frame)
		c.edit(p)
		rec := &recorder{TB: t}
		if !crossCheck(rec, c.frame, false, p, OK) || !rec.failed {
			t.Errorf("%s: corrupted field not detected", name)
		}
	}
}
