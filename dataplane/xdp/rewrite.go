package xdp

import "encoding/binary"

// Ethernet and IP layout the bare loop touches — nothing more is parsed.
const (
	ethHdrLen    = 14
	etherIPv4    = 0x0800
	etherIPv6    = 0x86dd
	ipv4TTLOff   = ethHdrLen + 8
	ipv4CsumOff  = ethHdrLen + 10
	ipv4MinFrame = ethHdrLen + 20
	ipv6HopOff   = ethHdrLen + 7
	ipv6MinFrame = ethHdrLen + 40
)

// bareRewrite turns a received frame into the frame to transmit, in place:
// destination MAC = the next hop, source MAC = the egress port, IPv4 TTL or
// IPv6 hop limit decremented. It reports false for frames to drop: not
// untagged IPv4/IPv6, too short for the IP header, or a TTL / hop limit
// that would expire (RFC 1812 5.3.1; a real router would answer with ICMP
// Time Exceeded, the bare loop only drops).
func bareRewrite(f []byte, dst, src *[6]byte) bool {
	if len(f) < ethHdrLen {
		return false
	}
	switch binary.BigEndian.Uint16(f[12:14]) {
	case etherIPv4:
		if len(f) < ipv4MinFrame || f[ipv4TTLOff] <= 1 {
			return false
		}
		f[ipv4TTLOff]--
		// RFC 1624 incremental update for a TTL decrement: the TTL is the
		// high byte of its 16-bit word, so the one's-complement sum drops
		// by 0x0100 and the checksum rises by it, with end-around carry
		// (the same arithmetic as Linux's ip_decrease_ttl).
		c := uint32(binary.BigEndian.Uint16(f[ipv4CsumOff:])) + 0x0100
		c += c >> 16
		binary.BigEndian.PutUint16(f[ipv4CsumOff:], uint16(c))
	case etherIPv6:
		if len(f) < ipv6MinFrame || f[ipv6HopOff] <= 1 {
			return false
		}
		f[ipv6HopOff]--
	default:
		return false
	}
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	return true
}
