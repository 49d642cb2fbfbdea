package packet

import (
	"testing"

	"github.com/google/gopacket/layers"
)

// forward is the per-packet work the forwarding loop does with this
// package, in the order it will do it.
func forward(buf []byte, start, n int, p *Parsed) (int, Reason) {
	frame := buf[start : start+n]
	if r := Parse(frame, false, 0, 0, p); r != OK {
		return 0, r
	}
	_ = FlowHash(p)
	if r := DecTTL(frame, p); r != OK {
		return 0, r
	}
	return RewriteL2(buf, start, p, macC, macD, Tags{Outer: 200}), OK
}

func TestNoAllocs(t *testing.T) {
	udp := udp4().build(t)
	v6ext := frameSpec{v6: true, l4: "tcp", sport: 1, dport: 2, tags: []tagSpec{{layers.EthernetTypeQinQ, 1, 0}, {layers.EthernetTypeDot1Q, 2, 0}},
		ext: append(extHeader(layers.IPProtocolIPv6Routing, 0, 0), extHeader(layers.IPProtocolTCP, 0, 43)...), extNH: layers.IPProtocolIPv6HopByHop}.build(t)
	echo4 := frameSpec{l4: "icmp", payload: make([]byte, 56)}.build(t)
	echo6 := frameSpec{v6: true, l4: "icmp", payload: make([]byte, 56)}.build(t)
	big := frameSpec{proto: 253, payload: make([]byte, 1480)}.build(t)
	p4, p6, pe4, pe6, pbig := mustParse(t, udp), mustParse(t, v6ext), mustParse(t, echo4), mustParse(t, echo6), mustParse(t, big)
	out := make([]byte, 2048)
	frags := make([][]byte, 16)
	bufs := make([][]byte, 16)
	for i := range bufs {
		bufs[i] = make([]byte, 576)
	}
	fwdBuf := inBuffer(udp)
	var p Parsed
	cases := map[string]func(){
		"Parse IPv4":        func() { Parse(udp, false, 0, 0, &p) },
		"Parse IPv6 QinQ":   func() { Parse(v6ext, false, 0, 0, &p) },
		"Parse stripped":    func() { Parse(udp, true, 0, 100, &p) },
		"DecTTL":            func() { q := *p4; q.TTL = 64; udp[14+8] = 64; fixIPv4Checksum(udp, 14); DecTTL(udp, &q) },
		"RewriteL2":         func() { RewriteL2(fwdBuf, headroom, p4, macC, macD, Tags{Outer: 100}) },
		"Push/PopVLAN":      func() { PopVLAN(fwdBuf, PushVLAN(fwdBuf, headroom, TPID8021Q, 5)) },
		"FlowHash":          func() { FlowHash(p6) },
		"BuildError v4":     func() { BuildError(out, udp, p4, ICMPNetUnreachable, 0, v4rtr) },
		"BuildError v6":     func() { BuildError(out, v6ext, p6, ICMPPacketTooBig, 1280, v6rtr) },
		"BuildEchoReply v4": func() { BuildEchoReply(out, echo4, pe4, v4dst) },
		"BuildEchoReply v6": func() { BuildEchoReply(out, echo6, pe6, v6dst) },
		"ShouldSendError":   func() { ShouldSendError(p6, ICMPTimeExceeded) },
		"Fragment":          func() { copy(frags, bufs); Fragment(frags, big, pbig, 576) },
		"FillL4Checksum":    func() { FillL4Checksum(v6ext, p6) },
		"forward":           func() { copy(fwdBuf[headroom:], udp); forward(fwdBuf, headroom, len(udp), &p) },
	}
	for name, f := range cases {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per run", name, n)
		}
	}
	// The Fragment case must have done real work.
	if n, r := Fragment(frags, big, pbig, 576); r != OK || n != 3 {
		t.Errorf("Fragment = %d, %v", n, r)
	}
}
