package packet

import (
	"encoding/binary"
	"net/netip"
)

// MaxExtHeaders bounds the IPv6 extension-header walk. Legitimate packets
// carry two or three; a longer chain is an attempt to hide the upper-layer
// header from filters (RFC 9098) and costs a walk per packet.
const MaxExtHeaders = 8

// IPv6 extension header numbers (RFC 8200 §4, IANA).
const (
	extHopByHop    = 0
	extRouting     = 43
	extFragment    = 44
	extAH          = 51
	extDestOpts    = 60
	extMobility    = 135
	extHIP         = 139
	extShim6       = 140
	ipv6HeaderLen  = 40
	ipv4HeaderLen  = 20
	ipv4MaxOptions = 40
)

// parseIPv4 validates the IPv4 header in the order of RFC 1812 §5.2.2 —
// except that lengths are checked before the checksum, which needs the
// header's bytes to exist — then decodes it and the upper-layer ports.
func parseIPv4(frame []byte, p *Parsed) Reason {
	p.Family = IPv4
	ip := frame[p.L3Off:]
	if len(ip) < ipv4HeaderLen {
		return IPv4TooShort
	}
	if ip[0]>>4 != 4 {
		return BadVersion
	}
	hl := int(ip[0]&0x0f) * 4
	if hl < ipv4HeaderLen {
		return BadIHL
	}
	tl := int(binary.BigEndian.Uint16(ip[2:]))
	if tl < hl || tl > len(ip) {
		return BadTotalLength
	}
	if Fold(Sum(0, ip[:hl])) != 0xffff {
		return BadChecksum
	}
	p.HdrLen, p.L3Len, p.L4Off = hl, tl, p.L3Off+hl
	p.TOS, p.TTL, p.Proto, p.ProtoOff = ip[1], ip[8], ip[9], 9
	p.FragID = uint32(binary.BigEndian.Uint16(ip[4:]))
	ff := binary.BigEndian.Uint16(ip[6:])
	p.DF, p.MF = ff&0x4000 != 0, ff&0x2000 != 0
	p.FragOff = (ff & 0x1fff) << 3
	p.Fragment = p.MF || p.FragOff != 0
	p.NonInitial = p.FragOff != 0
	src, dst := [4]byte(ip[12:16]), [4]byte(ip[16:20])
	p.Src, p.Dst = netip.AddrFrom4(src), netip.AddrFrom4(dst)
	if !p.NonInitial {
		parseL4(p, ip[hl:tl])
	}
	return classify4(p, src, dst)
}

// parseIPv6 validates the fixed header, walks the extension headers that
// RFC 8200 §4 and RFC 7045 say a router may meet (bounded by MaxExtHeaders
// and by the payload length), then decodes the upper-layer ports.
func parseIPv6(frame []byte, p *Parsed) Reason {
	p.Family = IPv6
	ip := frame[p.L3Off:]
	if len(ip) < ipv6HeaderLen {
		return IPv6TooShort
	}
	if ip[0]>>4 != 6 {
		return BadVersion
	}
	// A payload length of 0 is an empty payload: a jumbogram (RFC 2675)
	// cannot fit MaxFrame, so the hop-by-hop jumbo option is not looked for.
	l3len := ipv6HeaderLen + int(binary.BigEndian.Uint16(ip[4:]))
	if l3len > len(ip) {
		return IPv6PayloadLength
	}
	ip = ip[:l3len]
	p.L3Len = l3len
	p.TOS = byte(binary.BigEndian.Uint16(ip[0:]) >> 4)
	p.TTL = ip[7]
	src, dst := [16]byte(ip[8:24]), [16]byte(ip[24:40])
	p.Src, p.Dst = netip.AddrFrom16(src), netip.AddrFrom16(dst)

	nh, nhOff, off := ip[6], 6, ipv6HeaderLen
walk:
	for n := 0; ; n++ {
		var hl int
		switch nh {
		case extHopByHop, extRouting, extDestOpts, extMobility, extHIP, extShim6:
			if nh == extHopByHop && off != ipv6HeaderLen {
				return IPv6ExtHeader
			}
			if off+8 > l3len {
				return IPv6ExtHeader
			}
			hl = (int(ip[off+1]) + 1) * 8
		case extAH:
			// RFC 4302 §2.2: length in 4-octet units, minus 2.
			if off+8 > l3len {
				return IPv6ExtHeader
			}
			hl = (int(ip[off+1]) + 2) * 4
		case extFragment:
			if off+8 > l3len || p.FragHeader {
				return IPv6ExtHeader
			}
			hl = 8
			fo := binary.BigEndian.Uint16(ip[off+2:])
			p.FragHeader = true
			p.FragOff = fo &^ 7
			p.FragID = binary.BigEndian.Uint32(ip[off+4:])
			p.Fragment = p.FragOff != 0 || fo&1 != 0
			p.NonInitial = p.FragOff != 0
		default:
			break walk
		}
		if n == MaxExtHeaders {
			return IPv6ExtChainTooLong
		}
		if off+hl > l3len {
			return IPv6ExtHeader
		}
		nh, nhOff = ip[off], off
		off += hl
		if p.NonInitial {
			// What follows a non-initial fragment header is the middle
			// of the datagram, not a header.
			break
		}
	}
	p.Proto, p.ProtoOff = nh, nhOff
	p.HdrLen, p.L4Off = off, p.L3Off+off
	if !p.NonInitial {
		parseL4(p, ip[off:])
	}
	return classify6(p, &src, &dst)
}
