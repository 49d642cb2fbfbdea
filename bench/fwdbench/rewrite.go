package fwdbench

import (
	"encoding/binary"

	"github.com/fibd/fibd/dataplane/packet"
)

// Ethernet and IP layout the bare loops touch — nothing more is parsed.
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
// destination and source MAC from l2 (next hop, egress port), IPv4 TTL or
// IPv6 hop limit decremented, the IPv4 header checksum updated with
// dataplane/packet's RFC 1624 arithmetic, the engine's own. It reports
// false for frames to drop: not untagged IPv4/IPv6, too short for the IP
// header, or a TTL / hop limit that would expire (a real router answers
// with ICMP Time Exceeded; the bare loops only drop). It is the whole of
// the bare loops' work per frame: what they cost is the floor for any
// dataplane on the same packet I/O.
func bareRewrite(f []byte, l2 *[12]byte) bool {
	if len(f) < ethHdrLen {
		return false
	}
	switch binary.BigEndian.Uint16(f[12:14]) {
	case etherIPv4:
		if len(f) < ipv4MinFrame || f[ipv4TTLOff] <= 1 {
			return false
		}
		old := binary.BigEndian.Uint16(f[ipv4TTLOff:])
		f[ipv4TTLOff]--
		hc := binary.BigEndian.Uint16(f[ipv4CsumOff:])
		binary.BigEndian.PutUint16(f[ipv4CsumOff:], packet.UpdateChecksum(hc, old, old-0x0100))
	case etherIPv6:
		if len(f) < ipv6MinFrame || f[ipv6HopOff] <= 1 {
			return false
		}
		f[ipv6HopOff]--
	default:
		return false
	}
	copy(f[0:12], l2[:])
	return true
}
