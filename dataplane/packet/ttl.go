package packet

import "encoding/binary"

// DecTTL decrements the IPv4 TTL or IPv6 hop limit of the packet p
// describes, in place, and p.TTL with it. A packet that arrived with TTL or
// hop limit 0 or 1 must not be forwarded (RFC 1812 §5.3.1, RFC 8200 §3):
// DecTTL then leaves it untouched — so an ICMP Time Exceeded can quote it as
// received — and returns TTLExceeded or HopLimitExceeded.
//
// The IPv4 header checksum is updated incrementally (RFC 1624) rather than
// recomputed: the TTL shares a 16-bit word with the protocol, so the word
// changes by exactly 0x0100.
func DecTTL(frame []byte, p *Parsed) Reason {
	switch p.Family {
	case IPv4:
		ip := frame[p.L3Off:]
		if ip[8] <= 1 {
			return TTLExceeded
		}
		old := binary.BigEndian.Uint16(ip[8:])
		ip[8]--
		hc := binary.BigEndian.Uint16(ip[10:])
		binary.BigEndian.PutUint16(ip[10:], UpdateChecksum(hc, old, old-0x0100))
	case IPv6:
		ip := frame[p.L3Off:]
		if ip[7] <= 1 {
			return HopLimitExceeded
		}
		ip[7]--
	default:
		return NotIP
	}
	p.TTL--
	return OK
}
