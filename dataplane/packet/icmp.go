package packet

import "net/netip"

// Size limits for ICMP errors: the whole IP packet, header included.
const (
	// MaxICMPv4Error: RFC 1812 §4.3.2.3 — quote as much of the offending
	// datagram as fits without the error exceeding 576 bytes.
	MaxICMPv4Error = 576
	// MaxICMPv6Error: RFC 4443 §2.4(c) — without exceeding the minimum
	// IPv6 MTU.
	MaxICMPv6Error = 1280
)

// ICMPHopLimit is the TTL / hop limit of every message fibd originates
// (RFC 1700's default TTL, Linux's default hop limit).
const ICMPHopLimit = 64

// ICMPKind names an ICMP error independently of the IP family, so the
// forwarder maps a route's or a check's outcome to one kind and BuildError
// picks the type and code for the packet's family.
type ICMPKind uint8

const (
	// ICMPTimeExceeded: TTL/hop limit exceeded in transit (IPv4 11/0, IPv6 3/0).
	ICMPTimeExceeded ICMPKind = iota
	// ICMPNetUnreachable: no route (IPv4 3/0, IPv6 1/0).
	ICMPNetUnreachable
	// ICMPHostUnreachable: an "unreachable" route or a failed neighbour
	// (IPv4 3/1, IPv6 1/3 address unreachable).
	ICMPHostUnreachable
	// ICMPProtocolUnreachable: a packet to the router with a protocol it
	// does not speak (IPv4 3/2; IPv6 4/1 "unrecognized next header"
	// pointing at Parsed.ProtoOff, RFC 8200 §4).
	ICMPProtocolUnreachable
	// ICMPPortUnreachable: UDP to a closed port of the router (IPv4 3/3,
	// IPv6 1/4).
	ICMPPortUnreachable
	// ICMPPacketTooBig: DF set (IPv4 3/4 "fragmentation needed" with the
	// next-hop MTU, RFC 1191 §4) or any IPv6 packet over the MTU (IPv6 2,
	// RFC 4443 §3.2). The MTU is BuildError's param.
	ICMPPacketTooBig
	// ICMPAdminProhibited: a "prohibit" route (IPv4 3/13, RFC 1812
	// §5.2.7.1; IPv6 1/1).
	ICMPAdminProhibited
	// ICMPParamProblem: a bad header field at octet param of the offending
	// packet (IPv4 12/0, IPv6 4/0).
	ICMPParamProblem
	// ICMPUnrecognizedOption: an unrecognized option at octet param (IPv6
	// 4/2, which RFC 4443 §2.4(e.3) lets reach multicast destinations;
	// IPv4 12/0).
	ICMPUnrecognizedOption
	// ICMPBeyondScope: a packet from a link-local source that would leave
	// its link (IPv6 1/2 "beyond scope of source address", RFC 4443 §3.1;
	// IPv4, which has no such code, 3/1).
	ICMPBeyondScope
	// NumICMPKinds is the number of ICMPKind values.
	NumICMPKinds
)

var icmpKindNames = [NumICMPKinds]string{
	"time-exceeded", "net-unreachable", "host-unreachable", "protocol-unreachable",
	"port-unreachable", "packet-too-big", "admin-prohibited", "param-problem",
	"unrecognized-option", "beyond-scope",
}

func (k ICMPKind) String() string {
	if k < NumICMPKinds {
		return icmpKindNames[k]
	}
	return "unknown"
}

// ShouldSendError reports whether an ICMP error of the given kind may be
// sent about the packet p describes, and if not which rule forbids it. It
// implements RFC 1812 §4.3.2.7 and RFC 4443 §2.4(e): no error about
//   - an ICMP error (or an ICMP message too short to tell),
//   - a non-initial fragment,
//   - a packet to an IP broadcast or multicast address, or sent as a
//     link-layer broadcast or multicast — except that IPv6 Packet Too Big and
//     Parameter Problem code 2 are allowed (RFC 4443 §2.4(e.3)),
//   - a packet whose source does not name one host (unspecified, loopback,
//     multicast, broadcast, class E, IPv4-mapped).
//
// Rate limiting (RFC 1812 §4.3.2.8, RFC 4443 §2.4(f)) is the caller's: ask
// ShouldSendError first, so suppressed packets spend no tokens.
func ShouldSendError(p *Parsed, kind ICMPKind) (bool, Reason) {
	if p.Family == NonIP {
		return false, NotIP
	}
	if p.NonInitial {
		return false, ICMPAboutFragment
	}
	if isICMPError(p) {
		return false, ICMPAboutError
	}
	if dstGroup(p) || p.L2Group() {
		exempt := p.Family == IPv6 && (kind == ICMPPacketTooBig || kind == ICMPUnrecognizedOption)
		if !exempt {
			return false, ICMPAboutMulticast
		}
	}
	if !srcUnicast(p) {
		return false, ICMPAboutBadSource
	}
	return true, OK
}

// isICMPError reports whether the packet is an ICMP error message, or an
// ICMP message whose type is unknown (then it is treated as one, the safe
// side of RFC 1812 §4.3.2.7).
func isICMPError(p *Parsed) bool {
	switch {
	case p.Family == IPv4 && p.Proto == ProtoICMP:
		if !p.HasICMP {
			return true
		}
		switch p.ICMPType {
		case 0, 8, 9, 10, 13, 14, 15, 16, 17, 18: // informational, RFC 792/1256/950
			return false
		}
		return true
	case p.Family == IPv6 && p.Proto == ProtoICMPv6:
		// RFC 4443 §2.1: types 0–127 are errors.
		return !p.HasICMP || p.ICMPType < 128
	}
	return false
}

// BuildError writes into dst an IP packet carrying an ICMP (IPv4) or ICMPv6
// (IPv6) error of the given kind about the packet p describes in frame, and
// returns its length. The message is sent from src (the router's address in
// the packet's FIB, of the packet's family) to the offender's source, with
// TTL/hop limit ICMPHopLimit, and quotes as much of the offending IP packet
// as fits in MaxICMPv4Error / MaxICMPv6Error bytes. param is the next-hop
// MTU for ICMPPacketTooBig and the octet pointer for the parameter
// problems, ignored otherwise. kind must be one of the constants.
//
// Quote the packet as received: build before DecTTL or any rewrite. dst
// must not overlap frame; MaxICMPv6Error bytes always suffice. BuildError
// applies ShouldSendError itself, so a suppressed error returns 0 and the
// suppressing reason.
func BuildError(dst, frame []byte, p *Parsed, kind ICMPKind, param uint32, src netip.Addr) (int, Reason) {
	if ok, why := ShouldSendError(p, kind); !ok {
		return 0, why
	}
	orig := frame[p.L3Off : p.L3Off+p.L3Len]
	if p.Family == IPv4 {
		if !src.Is4() {
			return 0, ICMPNoSource
		}
		return buildError4(dst, orig, p, kind, param, src)
	}
	if !src.Is6() || src.Is4In6() {
		return 0, ICMPNoSource
	}
	return buildError6(dst, orig, p, kind, param, src)
}

// BuildEchoReply writes into dst an ICMP or ICMPv6 echo reply to the echo
// request p describes in frame, sent from src (normally p.Dst, the router's
// address the request went to; for a request to a multicast or broadcast
// address the address of the receiving port), and returns its length. The
// identifier, sequence number and data are echoed whole (RFC 792, RFC 4443
// §4.2), so dst needs as many bytes as the request's IP packet.
//
// The request must be a complete, unfragmented echo request whose checksum
// verifies (RFC 1122 §3.2.2, RFC 4443 §2.3) from a unicast source. The reply
// carries no IPv4 options and no IPv6 extension headers: fibd does not
// implement record-route or timestamp (RFC 1122 §3.2.2.6 says SHOULD).
func BuildEchoReply(dst, frame []byte, p *Parsed, src netip.Addr) (int, Reason) {
	var want uint8
	switch p.Family {
	case IPv4:
		want = icmpv4EchoRequest
		if !src.Is4() {
			return 0, ICMPNoSource
		}
	case IPv6:
		want = icmpv6EchoRequest
		if !src.Is6() || src.Is4In6() {
			return 0, ICMPNoSource
		}
	default:
		return 0, NotIP
	}
	if p.Fragment {
		return 0, EchoFragmented
	}
	if !p.HasICMP || p.ICMPType != want || p.ICMPCode != 0 {
		return 0, NotEchoRequest
	}
	msg := frame[p.L4Off : p.L3Off+p.L3Len]
	if len(msg) < 8 {
		return 0, NotEchoRequest
	}
	if !VerifyL4Checksum(frame, p) {
		return 0, BadL4Checksum
	}
	if !srcUnicast(p) {
		return 0, ICMPAboutBadSource
	}
	if p.Family == IPv4 {
		return buildEcho4(dst, msg, p, src)
	}
	return buildEcho6(dst, msg, p, src)
}
