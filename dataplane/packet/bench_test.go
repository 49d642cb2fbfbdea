package packet

import (
	"testing"

	"github.com/google/gopacket/layers"
)

// BenchmarkForwardUDP60 is the fast path on a minimum-size frame: Parse,
// FlowHash, DecTTL and an untagged → tagged RewriteL2. The frame is copied
// back in each iteration (as the receive path copies it) so the TTL does
// not run out.
func BenchmarkForwardUDP60(b *testing.B) {
	for _, c := range []struct {
		name string
		s    frameSpec
	}{
		{"v4", frameSpec{l4: "udp", sport: 1, dport: 2, payload: make([]byte, 18)}},
		{"v6", frameSpec{v6: true, l4: "udp", sport: 1, dport: 2, payload: make([]byte, 18)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			frame := c.s.build(b)
			buf := inBuffer(frame)
			var p Parsed
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				copy(buf[headroom:], frame)
				if _, r := forward(buf, headroom, len(frame), &p); r != OK {
					b.Fatal(r)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name string
		s    frameSpec
	}{
		{"udp4", udp4()},
		{"tcp6-qinq-ext", frameSpec{v6: true, l4: "tcp", sport: 1, dport: 2,
			tags: []tagSpec{{layers.EthernetTypeQinQ, 1, 0}, {layers.EthernetTypeDot1Q, 2, 0}},
			ext:  extHeader(layers.IPProtocolTCP, 0, 60), extNH: layers.IPProtocolIPv6Destination}},
	} {
		b.Run(c.name, func(b *testing.B) {
			frame := c.s.build(b)
			var p Parsed
			for b.Loop() {
				Parse(frame, false, 0, 0, &p)
			}
		})
	}
}

func BenchmarkBuildError(b *testing.B) {
	for _, c := range []struct {
		name string
		s    frameSpec
		kind ICMPKind
	}{
		{"v4-time-exceeded-1500", frameSpec{l4: "udp", payload: make([]byte, 1472)}, ICMPTimeExceeded},
		{"v6-packet-too-big-1500", frameSpec{v6: true, l4: "udp", payload: make([]byte, 1452)}, ICMPPacketTooBig},
		{"v4-net-unreachable-60", udp4(), ICMPNetUnreachable},
	} {
		b.Run(c.name, func(b *testing.B) {
			frame := c.s.build(b)
			p := mustParse(b, frame)
			src := v4rtr
			if c.s.v6 {
				src = v6rtr
			}
			out := make([]byte, MaxICMPv6Error+MaxL2Header)
			for b.Loop() {
				n, r := BuildError(out[MaxL2Header:], frame, p, c.kind, 1280, src)
				if r != OK {
					b.Fatal(r)
				}
				WriteL2(out, MaxL2Header, p.SrcMAC, p.DstMAC, Tags{}, p.EtherType)
				_ = n
			}
		})
	}
}

func BenchmarkBuildEchoReply(b *testing.B) {
	frame := frameSpec{l4: "icmp", payload: make([]byte, 56)}.build(b)
	p := mustParse(b, frame)
	out := make([]byte, 2048)
	for b.Loop() {
		if _, r := BuildEchoReply(out, frame, p, p.Dst); r != OK {
			b.Fatal(r)
		}
	}
}

func BenchmarkFragment1500To576(b *testing.B) {
	frame := frameSpec{proto: 253, payload: make([]byte, 1480)}.build(b)
	p := mustParse(b, frame)
	bufs := make([][]byte, 16)
	out := make([][]byte, 16)
	for i := range bufs {
		bufs[i] = make([]byte, 576)
	}
	for b.Loop() {
		copy(out, bufs)
		if _, r := Fragment(out, frame, p, 576); r != OK {
			b.Fatal(r)
		}
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := make([]byte, 1500)
	b.SetBytes(1500)
	for b.Loop() {
		Checksum(buf)
	}
}

func BenchmarkFlowHash(b *testing.B) {
	p := mustParse(b, udp6().build(b))
	for b.Loop() {
		FlowHash(p)
	}
}
