package packet

import (
	"encoding/binary"
	"net/netip"
)

// ICMP types and codes (RFC 792, RFC 1191, RFC 1812 §5.2.7.1).
const (
	icmpv4EchoReply      = 0
	icmpv4DestUnreach    = 3
	icmpv4EchoRequest    = 8
	icmpv4TimeExceeded   = 11
	icmpv4ParamProblem   = 12
	icmpv4CodeFragNeeded = 4
)

// icmpv4Codes maps each ICMPKind to its IPv4 type and code.
var icmpv4Codes = [NumICMPKinds][2]uint8{
	ICMPTimeExceeded:        {icmpv4TimeExceeded, 0},
	ICMPNetUnreachable:      {icmpv4DestUnreach, 0},
	ICMPHostUnreachable:     {icmpv4DestUnreach, 1},
	ICMPProtocolUnreachable: {icmpv4DestUnreach, 2},
	ICMPPortUnreachable:     {icmpv4DestUnreach, 3},
	ICMPPacketTooBig:        {icmpv4DestUnreach, icmpv4CodeFragNeeded},
	ICMPAdminProhibited:     {icmpv4DestUnreach, 13},
	ICMPParamProblem:        {icmpv4ParamProblem, 0},
	ICMPUnrecognizedOption:  {icmpv4ParamProblem, 0},
	ICMPBeyondScope:         {icmpv4DestUnreach, 1},
}

// icmpv4Header is the IPv4 + ICMP header length of an error message.
const icmpv4Header = ipv4HeaderLen + 8

// putIPv4Header writes a 20-byte IPv4 header for a message fibd originates.
// DF stays clear so a path with a small MTU fragments rather than drops it;
// the identification is the caller's (no global counter on the packet
// path).
func putIPv4Header(h []byte, tos uint8, total int, id uint16, proto uint8, src, dst [4]byte) {
	h[0], h[1] = 0x45, tos
	binary.BigEndian.PutUint16(h[2:], uint16(total))
	binary.BigEndian.PutUint16(h[4:], id)
	h[6], h[7] = 0, 0
	h[8], h[9] = ICMPHopLimit, proto
	h[10], h[11] = 0, 0
	copy(h[12:16], src[:])
	copy(h[16:20], dst[:])
	binary.BigEndian.PutUint16(h[10:], Checksum(h[:ipv4HeaderLen]))
}

// buildError4 writes an ICMP error about the IPv4 packet orig (RFC 792
// format: type, code, checksum, 4 bytes that depend on the type, then the
// quote). Precedence is internetwork control (RFC 1812 §4.3.2.5 allows 6);
// the identification reuses the offender's, which is unique enough: the
// reassembly key also has source, destination and protocol, and ours differ.
func buildError4(dst, orig []byte, p *Parsed, kind ICMPKind, param uint32, src netip.Addr) (int, Reason) {
	q := min(len(orig), MaxICMPv4Error-icmpv4Header)
	n := icmpv4Header + q
	if len(dst) < n {
		return 0, BufferTooSmall
	}
	h := dst[:n]
	putIPv4Header(h, 0xc0, n, uint16(p.FragID), ProtoICMP, src.As4(), p.Src.As4())
	m := h[ipv4HeaderLen:]
	tc := icmpv4Codes[kind]
	m[0], m[1], m[2], m[3] = tc[0], tc[1], 0, 0
	var rest uint32
	switch kind {
	case ICMPPacketTooBig:
		rest = param & 0xffff // RFC 1191 §4: low 16 bits, high 16 unused
	case ICMPParamProblem, ICMPUnrecognizedOption:
		rest = (param & 0xff) << 24 // RFC 792: an octet pointer in the first octet
	}
	binary.BigEndian.PutUint32(m[4:], rest)
	copy(m[8:], orig[:q])
	binary.BigEndian.PutUint16(m[2:], Checksum(m))
	return n, OK
}

// buildEcho4 writes an echo reply carrying the request's ICMP message msg.
func buildEcho4(dst, msg []byte, p *Parsed, src netip.Addr) (int, Reason) {
	n := ipv4HeaderLen + len(msg)
	if len(dst) < n {
		return 0, BufferTooSmall
	}
	h := dst[:n]
	putIPv4Header(h, p.TOS, n, uint16(p.FragID), ProtoICMP, src.As4(), p.Src.As4())
	m := h[ipv4HeaderLen:]
	copy(m, msg)
	m[0], m[1], m[2], m[3] = icmpv4EchoReply, 0, 0, 0
	binary.BigEndian.PutUint16(m[2:], Checksum(m))
	return n, OK
}
