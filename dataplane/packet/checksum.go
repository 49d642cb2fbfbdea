package packet

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// The Internet checksum (RFC 1071) is the one's-complement of the
// one's-complement sum of 16-bit words. Because 2^16 ≡ 1 (mod 2^16−1), the
// sum can be accumulated 64 bits at a time and folded at the end, which is
// what Sum does; Fold reduces it to 16 bits.

// Sum adds b to the running one's-complement sum acc and returns the new,
// unfolded sum. Pieces of one checksummed message may be summed separately
// as long as every piece but the last has even length (an odd trailing byte
// is padded with zero, RFC 1071 §4.1).
func Sum(acc uint64, b []byte) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[0:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	if len(b) >= 4 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint32(b)), c)
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b)), c)
		b = b[2:]
	}
	if len(b) == 1 {
		acc, c = bits.Add64(acc, uint64(b[0])<<8, c)
	}
	acc, c = bits.Add64(acc, c, 0)
	return acc + c // cannot carry again: acc is 0 when c is 1
}

// Fold reduces a Sum to 16 bits, not complemented: 0xffff means the
// message verifies when its checksum field was included.
func Fold(acc uint64) uint16 {
	s := (acc >> 32) + (acc & 0xffffffff)
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 16) + (s & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	return uint16(s)
}

// Checksum returns the Internet checksum of b, ready to store.
func Checksum(b []byte) uint16 { return ^Fold(Sum(0, b)) }

// PseudoHeaderSum returns the Sum of the TCP/UDP/ICMPv6 pseudo-header: for
// IPv4 source, destination, protocol and length (RFC 793 §3.1, RFC 768);
// for IPv6 source, destination, 32-bit length and next header (RFC 8200
// §8.1). src and dst must be of one family, IPv4 as 4-byte addresses.
func PseudoHeaderSum(src, dst netip.Addr, proto uint8, length int) uint64 {
	var acc uint64
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		acc = uint64(binary.BigEndian.Uint32(s[:])) + uint64(binary.BigEndian.Uint32(d[:]))
	} else {
		s, d := src.As16(), dst.As16()
		acc = Sum(Sum(0, s[:]), d[:])
	}
	return addSum(acc, uint64(proto)+uint64(length))
}

// addSum adds v to a Sum with end-around carry.
func addSum(acc, v uint64) uint64 {
	s, c := bits.Add64(acc, v, 0)
	return s + c
}

// UpdateChecksum returns checksum hc after one 16-bit word of the covered
// data changed from old to new: RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m').
// Unlike RFC 1141's form it equals a full recomputation bit for bit —
// including when the result is 0x0000 — unless the covered data becomes all
// zeros (0x0000 vs 0xffff, the same number in one's complement), which an
// IP header never is.
func UpdateChecksum(hc, old, new uint16) uint16 {
	s := uint32(^hc) + uint32(^old) + uint32(new)
	s = (s >> 16) + (s & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	return ^uint16(s)
}

// l4ChecksumOffset returns where the checksum sits in the upper-layer
// header and the header's minimum length.
func l4ChecksumOffset(p *Parsed) (off, minLen int, ok bool) {
	switch {
	case p.Proto == ProtoTCP:
		return 16, 20, true
	case p.Proto == ProtoUDP:
		return 6, 8, true
	case p.Proto == ProtoICMPv6 && p.Family == IPv6:
		return 2, 4, true
	case p.Proto == ProtoICMP && p.Family == IPv4:
		return 2, 4, true
	}
	return 0, 0, false
}

// FillL4Checksum computes and stores the full TCP, UDP, ICMP or ICMPv6
// checksum of the packet p describes. It is for frames the kernel handed
// over with a partial checksum (AF_PACKET's TP_STATUS_CSUMNOTREADY, i.e.
// CHECKSUM_PARTIAL from a local sender or a veth): the checksum field then
// holds only the pseudo-header sum, and forwarding the frame as is would
// put a wrong checksum on the wire. The field is recomputed from scratch,
// whatever it held. A UDP checksum of 0 is sent as 0xffff (RFC 768).
// Fragments, other protocols and truncated headers return BadL4.
//
// For IPv6 with a routing header the pseudo-header should use the final
// destination (RFC 8200 §8.1); fibd uses the header's destination, which
// is what a local sender's partial checksum was computed for up to now.
func FillL4Checksum(frame []byte, p *Parsed) Reason {
	if p.Family == NonIP {
		return NotIP
	}
	off, minLen, ok := l4ChecksumOffset(p)
	if !ok || p.Fragment {
		return BadL4
	}
	l4 := frame[p.L4Off : p.L3Off+p.L3Len]
	if len(l4) < minLen {
		return BadL4
	}
	l4[off], l4[off+1] = 0, 0
	var acc uint64
	if p.Proto != ProtoICMP {
		acc = PseudoHeaderSum(p.Src, p.Dst, p.Proto, len(l4))
	}
	c := ^Fold(Sum(acc, l4))
	if c == 0 && p.Proto == ProtoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[off:], c)
	return OK
}

// VerifyL4Checksum reports whether the TCP, UDP, ICMP or ICMPv6 checksum of
// an unfragmented packet verifies. A zero UDP-over-IPv4 checksum means "none"
// (RFC 768) and verifies.
func VerifyL4Checksum(frame []byte, p *Parsed) bool {
	off, minLen, ok := l4ChecksumOffset(p)
	if !ok || p.Fragment {
		return false
	}
	l4 := frame[p.L4Off : p.L3Off+p.L3Len]
	if len(l4) < minLen {
		return false
	}
	if p.Proto == ProtoUDP && p.Family == IPv4 && l4[off] == 0 && l4[off+1] == 0 {
		return true
	}
	var acc uint64
	if p.Proto != ProtoICMP {
		acc = PseudoHeaderSum(p.Src, p.Dst, p.Proto, len(l4))
	}
	return Fold(Sum(acc, l4)) == 0xffff
}

// LooksPartial reports whether the TCP or UDP checksum of the packet p
// describes looks like a partial one: the field holds exactly the folded
// pseudo-header sum, which is what a sender that offloaded the checksum
// leaves there (Linux's CHECKSUM_PARTIAL: ~tcp_v4_check(len, s, d, 0)).
// Backends that carry no checksum metadata (AF_XDP) use it to find the
// frames a veth peer or a local sender left unfinished. A complete checksum
// matches only by a 1-in-65536 coincidence, and then FillL4Checksum
// rewrites the same value, so acting on a false positive is harmless.
func LooksPartial(frame []byte, p *Parsed) bool {
	if p.Fragment || (p.Proto != ProtoTCP && p.Proto != ProtoUDP) {
		return false
	}
	off, minLen, _ := l4ChecksumOffset(p)
	l4 := frame[p.L4Off : p.L3Off+p.L3Len]
	if len(l4) < minLen {
		return false
	}
	field := binary.BigEndian.Uint16(l4[off:])
	return field == Fold(PseudoHeaderSum(p.Src, p.Dst, p.Proto, len(l4)))
}

// udpCsumOffset is where UDP keeps its checksum; a transport checksum
// that offloads to this offset is UDP's, whose 0 means "none".
const udpCsumOffset = 6

// CompletePartial completes a partial transport checksum from the offsets
// the kernel reported with the frame (virtio_net_hdr's csum_start and
// csum_offset, counted from the frame's first byte), as the kernel's own
// skb_checksum_help does: the field at start+offset holds the pseudo-header
// sum, and the one's complement of the sum of everything from start to the
// end of the IP packet goes there. Unlike FillL4Checksum it needs to know
// nothing of the protocol, so the inner checksum of a tunnelled packet is
// completed where it is. Offsets outside the IP packet return BadL4 and
// change nothing.
func CompletePartial(frame []byte, p *Parsed, start, offset int) Reason {
	if p.Family == NonIP {
		return NotIP
	}
	end := p.L3Off + p.L3Len
	if start < p.L4Off || offset < 0 || start+offset+2 > end || end > len(frame) {
		return BadL4
	}
	c := ^Fold(Sum(0, frame[start:end]))
	if c == 0 && offset == udpCsumOffset {
		c = 0xffff // RFC 768: 0 would mean "no checksum"
	}
	binary.BigEndian.PutUint16(frame[start+offset:], c)
	return OK
}
