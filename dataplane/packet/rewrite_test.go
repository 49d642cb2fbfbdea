package packet

import (
	"bytes"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

const headroom = 64

// inBuffer copies frame into a fresh buffer behind headroom bytes.
func inBuffer(frame []byte) []byte {
	buf := make([]byte, headroom+len(frame))
	copy(buf[headroom:], frame)
	return buf
}

type ingress struct {
	name      string
	tags      []tagSpec
	hasTag    bool
	tpid, tci uint16
}

var ingresses = []ingress{
	{name: "untagged"},
	{name: "kernel-stripped", hasTag: true, tci: 10},
	{name: "inline C-tag", tags: []tagSpec{{layers.EthernetTypeDot1Q, 10, 2}}},
	{name: "inline QinQ", tags: []tagSpec{{layers.EthernetTypeQinQ, 300, 0}, {layers.EthernetTypeDot1Q, 20, 0}}},
	{name: "stripped S-tag, inline C-tag", tags: []tagSpec{{layers.EthernetTypeDot1Q, 20, 0}}, hasTag: true, tpid: TPID8021AD, tci: 300},
}

// TestRewriteL2Matrix: every ingress tagging × untagged and tagged egress
// yields a frame with the new MACs, exactly the egress tag, and the IP
// packet untouched in place.
func TestRewriteL2Matrix(t *testing.T) {
	for _, in := range ingresses {
		for _, tci := range []uint16{0, 5<<13 | 200} {
			for _, s := range []frameSpec{udp4(), udp6()} {
				s.tags = in.tags
				frame := s.build(t)
				buf := inBuffer(frame)
				var p Parsed
				if r := Parse(buf[headroom:], in.hasTag, in.tpid, in.tci, &p); r != OK {
					t.Fatalf("%s: Parse = %v", in.name, r)
				}
				l3 := headroom + p.L3Off
				ipBefore := append([]byte(nil), buf[l3:]...)
				start := RewriteL2(buf, headroom, &p, macC, macD, Tags{Outer: tci})
				out := buf[start:]
				if &out[len(out)-1] != &buf[len(buf)-1] || !bytes.Equal(buf[l3:], ipBefore) {
					t.Fatalf("%s: the IP packet moved or changed", in.name)
				}
				var q Parsed
				if r := Parse(out, false, 0, 0, &q); r != OK {
					t.Fatalf("%s → tci %#x: Parse(rewritten) = %v", in.name, tci, r)
				}
				wantTags := uint8(0)
				if tci != 0 {
					wantTags = 1
				}
				if q.DstMAC != macC || q.SrcMAC != macD || q.Tags != wantTags || q.OuterTCI != tci ||
					q.EtherType != p.EtherType || q.Src != p.Src || q.DstPort != 7777 {
					t.Errorf("%s → tci %#x: rewritten frame %+v", in.name, tci, q)
				}
				if !crossCheck(t, out, false, &q, OK) {
					t.Errorf("%s → tci %#x: gopacket rejects %x", in.name, tci, out)
				}
			}
		}
	}
}

func TestWriteL2(t *testing.T) {
	buf := make([]byte, 100)
	copy(buf[MaxL2Header:], "payload")
	start := WriteL2(buf, MaxL2Header, macC, macD, Tags{Outer: 77}, EtherTypeARP)
	if start != VLANTagLen {
		t.Fatalf("tagged header starts at %d", start)
	}
	pkt := gopacket.NewPacket(buf[start:], layers.LayerTypeEthernet, gopacket.Default)
	q, ok := pkt.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
	if !ok || q.VLANIdentifier != 77 || q.Type != layers.EthernetTypeARP {
		t.Fatalf("gopacket: %v", pkt)
	}
	if start := WriteL2(buf, MaxL2Header, macC, macD, Tags{}, EtherTypeIPv4); start != 2*VLANTagLen {
		t.Fatalf("untagged header starts at %d", start)
	}
	// QinQ: an 802.1ad S-tag, then the C-tag.
	start = WriteL2(buf, MaxL2Header, macC, macD, Tags{OuterTPID: TPID8021AD, Outer: 100, Inner: 200}, EtherTypeIPv4)
	if start != 0 {
		t.Fatalf("QinQ header starts at %d", start)
	}
	var p Parsed
	Parse(buf[:MaxL2Header+20], false, 0, 0, &p)
	if p.Tags != 2 || p.OuterTPID != TPID8021AD || p.VID() != 100 || p.InnerTPID != TPID8021Q || p.InnerTCI != 200 || p.EtherType != EtherTypeIPv4 {
		t.Fatalf("QinQ header parsed as %+v", p)
	}
}

func TestPushPopSetVLAN(t *testing.T) {
	frame := udp4().build(t)
	buf := inBuffer(frame)

	start := PushVLAN(buf, headroom, TPID8021Q, 100)
	p := mustParse(t, buf[start:])
	if p.Tags != 1 || p.VID() != 100 || p.OuterTPID != TPID8021Q || p.DstMAC != [6]byte(macB) || p.SrcMAC != [6]byte(macA) {
		t.Fatalf("after push: %+v", p)
	}
	start = PushVLAN(buf, start, TPID8021AD, 300) // QinQ: new outer S-tag
	p = mustParse(t, buf[start:])
	if p.Tags != 2 || p.VID() != 300 || p.OuterTPID != TPID8021AD || p.InnerTCI != 100 {
		t.Fatalf("after second push: %+v", p)
	}
	SetVLAN(buf[start:], 1<<13|301)
	p = mustParse(t, buf[start:])
	if p.VID() != 301 || p.OuterTCI>>13 != 1 || p.OuterTPID != TPID8021AD {
		t.Fatalf("after set: %+v", p)
	}
	start = PopVLAN(buf, start)
	start = PopVLAN(buf, start)
	if start != headroom || !bytes.Equal(buf[start:], frame) {
		t.Fatalf("push, push, pop, pop did not restore the frame")
	}
	SetMACs(buf[start:], macC, macD)
	p = mustParse(t, buf[start:])
	if p.DstMAC != macC || p.SrcMAC != macD {
		t.Fatalf("SetMACs: %+v", p)
	}
}
