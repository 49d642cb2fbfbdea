package neigh

import (
	"encoding/binary"
	"net/netip"

	"github.com/fibd/fibd/fib/adj"
)

const (
	// IPv6HeaderLen is the fixed IPv6 header.
	IPv6HeaderLen = 40
	protoICMPv6   = 58
	// ndHopLimit is the hop limit every ND message is sent with and must
	// arrive with (RFC 4861 §7.1.1, §7.1.2): it proves the sender is on-link.
	ndHopLimit = 255
)

// AllNodes is ff02::1, the destination of unsolicited advertisements
// (RFC 4861 §7.2.4: answers to DAD solicitations).
var AllNodes = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 1})

// ICMPv6Checksum returns the ones'-complement checksum of icmp under the
// IPv6 pseudo-header (RFC 8200 §8.1, upper-layer length = len(icmp), next
// header 58). With the checksum field zeroed the result is the value to
// store; over a message whose checksum is correct the result is 0.
func ICMPv6Checksum(src, dst netip.Addr, icmp []byte) uint16 {
	s16, d16 := src.As16(), dst.As16()
	var sum uint64
	sum = sumBytes(sum, s16[:])
	sum = sumBytes(sum, d16[:])
	sum += uint64(len(icmp)) + protoICMPv6
	sum = sumBytes(sum, icmp)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// sumBytes adds b to the running ones'-complement sum as 16-bit big-endian
// words, the last odd byte padded with zero.
func sumBytes(sum uint64, b []byte) uint64 {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		sum += v>>48 + v>>32&0xffff + v>>16&0xffff + v&0xffff
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// SolicitedNode returns the solicited-node multicast address of a,
// ff02::1:ffXX:XXXX with the low 24 bits of a (RFC 4291 §2.7.1). a must be
// IPv6; for anything else it returns the zero Addr.
func SolicitedNode(a netip.Addr) netip.Addr {
	if !a.Is6() || a.Is4In6() {
		return netip.Addr{}
	}
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// isSolicitedNode reports whether a has the ff02::1:ff00:0/104 form.
func isSolicitedNode(a netip.Addr) bool {
	b := a.As16()
	return a.Is6() && b == [16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]}
}

// MulticastMAC maps an IPv6 multicast address to its Ethernet group
// address, 33:33 followed by the low 32 bits (RFC 2464 §7).
func MulticastMAC(a netip.Addr) adj.MAC {
	b := a.As16()
	return adj.MAC{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// SolicitedNodeMAC is the Ethernet group address of a's solicited-node
// multicast address, 33:33:ff:XX:XX:XX.
func SolicitedNodeMAC(a netip.Addr) adj.MAC {
	return MulticastMAC(SolicitedNode(a))
}

// ipv6Header is the part of an IPv6 header ND validation needs.
type ipv6Header struct {
	src, dst netip.Addr
	hopLimit uint8
}

// parseICMPv6 checks the IPv6 header of an ND packet and returns it with the
// ICMPv6 message (trailing link-layer padding cut off by the payload
// length). Only the checks every ND message shares are done here.
func parseICMPv6(pkt []byte) (ipv6Header, []byte, error) {
	if len(pkt) < IPv6HeaderLen {
		return ipv6Header{}, nil, ErrTruncated
	}
	if pkt[0]>>4 != 6 {
		return ipv6Header{}, nil, ErrIPv6Header
	}
	if pkt[6] != protoICMPv6 {
		// RFC 4861 does not forbid extension headers before ND messages,
		// but nothing legitimate sends them and Linux drops them too.
		return ipv6Header{}, nil, ErrNotICMPv6
	}
	plen := int(binary.BigEndian.Uint16(pkt[4:6]))
	if IPv6HeaderLen+plen > len(pkt) {
		return ipv6Header{}, nil, ErrTruncated
	}
	h := ipv6Header{
		src:      netip.AddrFrom16([16]byte(pkt[8:24])),
		dst:      netip.AddrFrom16([16]byte(pkt[24:40])),
		hopLimit: pkt[7],
	}
	return h, pkt[IPv6HeaderLen : IPv6HeaderLen+plen], nil
}

// putIPv6Header writes a 40-byte IPv6 header for an ICMPv6 payload of plen
// bytes with hop limit 255.
func putIPv6Header(b []byte, src, dst netip.Addr, plen int) {
	binary.BigEndian.PutUint32(b[0:4], 6<<28)
	binary.BigEndian.PutUint16(b[4:6], uint16(plen))
	b[6] = protoICMPv6
	b[7] = ndHopLimit
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
}
