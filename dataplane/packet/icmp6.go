package packet

import (
	"encoding/binary"
	"net/netip"
)

// ICMPv6 types (RFC 4443).
const (
	icmpv6DestUnreach   = 1
	icmpv6PacketTooBig  = 2
	icmpv6TimeExceeded  = 3
	icmpv6ParamProblem  = 4
	icmpv6EchoRequest   = 128
	icmpv6EchoReply     = 129
	icmpv6ErrorHeader   = ipv6HeaderLen + 8
	ipv6VersionTCFlow0  = 0x60000000
	ipv6TrafficClassOff = 20
)

// icmpv6Codes maps each ICMPKind to its ICMPv6 type and code.
var icmpv6Codes = [NumICMPKinds][2]uint8{
	ICMPTimeExceeded:        {icmpv6TimeExceeded, 0},
	ICMPNetUnreachable:      {icmpv6DestUnreach, 0},
	ICMPHostUnreachable:     {icmpv6DestUnreach, 3},
	ICMPProtocolUnreachable: {icmpv6ParamProblem, 1},
	ICMPPortUnreachable:     {icmpv6DestUnreach, 4},
	ICMPPacketTooBig:        {icmpv6PacketTooBig, 0},
	ICMPAdminProhibited:     {icmpv6DestUnreach, 1},
	ICMPParamProblem:        {icmpv6ParamProblem, 0},
	ICMPUnrecognizedOption:  {icmpv6ParamProblem, 2},
	ICMPBeyondScope:         {icmpv6DestUnreach, 2},
}

// putIPv6Header writes the fixed header of a message fibd originates. The
// flow label is 0: these are one-off messages, not flows (RFC 6437 §2).
func putIPv6Header(h []byte, tc uint8, payload int, src, dst netip.Addr) {
	binary.BigEndian.PutUint32(h[0:], ipv6VersionTCFlow0|uint32(tc)<<ipv6TrafficClassOff)
	binary.BigEndian.PutUint16(h[4:], uint16(payload))
	h[6], h[7] = ProtoICMPv6, ICMPHopLimit
	s, d := src.As16(), dst.As16()
	copy(h[8:24], s[:])
	copy(h[24:40], d[:])
}

// icmpv6Checksum returns the checksum of the ICMPv6 message m, pseudo-header
// included (RFC 4443 §2.3).
func icmpv6Checksum(m []byte, src, dst netip.Addr) uint16 {
	return ^Fold(Sum(PseudoHeaderSum(src, dst, ProtoICMPv6, len(m)), m))
}

// buildError6 writes an ICMPv6 error about the IPv6 packet orig: type, code,
// checksum, a 32-bit field (MTU, pointer or unused), then the quote.
func buildError6(dst, orig []byte, p *Parsed, kind ICMPKind, param uint32, src netip.Addr) (int, Reason) {
	q := min(len(orig), MaxICMPv6Error-icmpv6ErrorHeader)
	n := icmpv6ErrorHeader + q
	if len(dst) < n {
		return 0, BufferTooSmall
	}
	h := dst[:n]
	putIPv6Header(h, 0, n-ipv6HeaderLen, src, p.Src)
	m := h[ipv6HeaderLen:]
	tc := icmpv6Codes[kind]
	m[0], m[1], m[2], m[3] = tc[0], tc[1], 0, 0
	var rest uint32
	switch kind {
	case ICMPPacketTooBig, ICMPParamProblem, ICMPUnrecognizedOption:
		rest = param
	case ICMPProtocolUnreachable:
		rest = uint32(p.ProtoOff)
	}
	binary.BigEndian.PutUint32(m[4:], rest)
	copy(m[8:], orig[:q])
	binary.BigEndian.PutUint16(m[2:], icmpv6Checksum(m, src, p.Src))
	return n, OK
}

// buildEcho6 writes an echo reply carrying the request's ICMPv6 message msg,
// with the request's traffic class.
func buildEcho6(dst, msg []byte, p *Parsed, src netip.Addr) (int, Reason) {
	n := ipv6HeaderLen + len(msg)
	if len(dst) < n {
		return 0, BufferTooSmall
	}
	h := dst[:n]
	putIPv6Header(h, p.TOS, len(msg), src, p.Src)
	m := h[ipv6HeaderLen:]
	copy(m, msg)
	m[0], m[1], m[2], m[3] = icmpv6EchoReply, 0, 0, 0
	binary.BigEndian.PutUint16(m[2:], icmpv6Checksum(m, src, p.Src))
	return n, OK
}
