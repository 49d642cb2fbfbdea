package packet_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/fibd/fibd/dataplane/packet"
)

// A 60-byte untagged UDP frame 192.0.2.1:1234 → 198.51.100.1:7777, TTL 64.
func exampleFrame() []byte {
	f := make([]byte, 60)
	copy(f, []byte{0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00})
	ip := f[14:]
	copy(ip, []byte{0x45, 0, 0, 33, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1})
	binary.BigEndian.PutUint16(ip[10:], packet.Checksum(ip[:20]))
	copy(ip[20:], []byte{0x04, 0xd2, 0x1e, 0x61, 0, 13, 0, 0, 'h', 'e', 'l', 'l', 'o'})
	return f
}

// The forwarding loop's use of the package: parse, check, hash, decrement,
// rewrite. Frames are read at an offset (headroom) so the egress tag can
// be pushed without moving the packet.
func Example_forward() {
	const headroom = 64
	buf := make([]byte, headroom+2048)
	n := copy(buf[headroom:], exampleFrame())

	var p packet.Parsed // one per worker, reused
	frame := buf[headroom : headroom+n]
	if r := packet.Parse(frame, false, 0, 0, &p); r != packet.OK {
		fmt.Println("drop:", r) // counters[r]++ ; Addressing() reasons may still be local
		return
	}
	fmt.Println(p.Src, "→", p.Dst, "proto", p.Proto, "ports", p.SrcPort, p.DstPort)
	path := packet.FlowHash(&p) % 4 // ECMP among 4 paths
	_ = path
	if r := packet.DecTTL(frame, &p); r != packet.OK {
		fmt.Println("drop:", r) // and BuildError(..., ICMPTimeExceeded, ...) before rewriting
		return
	}
	nextHop := [6]byte{0x02, 0, 0, 0, 0, 0x0c}
	ours := [6]byte{0x02, 0, 0, 0, 0, 0x0d}
	start := packet.RewriteL2(buf, headroom, &p, nextHop, ours, packet.Tags{Outer: 200}) // egress port VLAN 200
	out := buf[start : p.L3Off+p.L3Len+headroom]                                         // padding trimmed

	var q packet.Parsed
	fmt.Println(packet.Parse(out, false, 0, 0, &q), "vlan", q.VID(), "ttl", q.TTL, "len", len(out))
	// Output:
	// 192.0.2.1 → 198.51.100.1 proto 17 ports 1234 7777
	// ok vlan 200 ttl 63 len 51
}

// An ICMP error is built as a bare IP packet at an offset of at least
// MaxL2Header into a scratch buffer; WriteL2 then puts the Ethernet header
// in front of it.
func ExampleBuildError() {
	frame := exampleFrame()
	var p packet.Parsed
	packet.Parse(frame, false, 0, 0, &p)

	router := netip.MustParseAddr("203.0.113.1") // the router's address in this FIB
	scratch := make([]byte, packet.MaxL2Header+packet.MaxICMPv6Error)
	n, r := packet.BuildError(scratch[packet.MaxL2Header:], frame, &p, packet.ICMPNetUnreachable, 0, router)
	if r != packet.OK {
		fmt.Println("no ICMP:", r)
		return
	}
	start := packet.WriteL2(scratch, packet.MaxL2Header, p.SrcMAC, p.DstMAC, packet.Tags{}, packet.EtherTypeIPv4)
	reply := scratch[start : packet.MaxL2Header+n]

	var q packet.Parsed
	packet.Parse(reply, false, 0, 0, &q)
	fmt.Println(q.Src, "→", q.Dst, "ICMP type", q.ICMPType, "code", q.ICMPCode, "length", q.L3Len)
	// Output:
	// 203.0.113.1 → 192.0.2.1 ICMP type 3 code 0 length 61
}
