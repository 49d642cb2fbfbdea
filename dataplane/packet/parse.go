package packet

import (
	"encoding/binary"
	"net/netip"
)

// EtherTypes and VLAN TPIDs fibd understands.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86dd
	// TPID8021Q tags a customer VLAN (IEEE 802.1Q C-tag).
	TPID8021Q = 0x8100
	// TPID8021AD tags a service VLAN (IEEE 802.1ad S-tag, the outer QinQ tag).
	TPID8021AD = 0x88a8
)

// Link-layer sizes.
const (
	EthHeaderLen = 14
	VLANTagLen   = 4
	// MaxL2Header is the longest header WriteL2 writes: Ethernet plus two
	// tags (QinQ). Builders' output placed at this offset or more can
	// always get a link-layer header in front.
	MaxL2Header = EthHeaderLen + 2*VLANTagLen
)

// IP protocol numbers (IANA) that the parser looks into.
const (
	ProtoICMP    = 1
	ProtoTCP     = 6
	ProtoUDP     = 17
	ProtoDCCP    = 33
	ProtoICMPv6  = 58
	ProtoSCTP    = 132
	ProtoUDPLite = 136
)

// Family is the network-layer protocol of a parsed frame.
type Family uint8

const (
	// NonIP frames (ARP, LLDP, ...) are reported with their EtherType.
	NonIP Family = 0
	IPv4  Family = 4
	IPv6  Family = 6
)

// Parsed is the decoded view of one frame. Parse fills it from scratch, so
// one value per worker is reused for every packet; the zero value is an
// empty NonIP frame. Offsets are relative to the frame's first byte and go
// stale once a rewrite moves the frame's start.
type Parsed struct {
	// DstMAC and SrcMAC are the Ethernet addresses.
	DstMAC, SrcMAC [6]byte
	// EtherType follows the last VLAN tag: EtherTypeIPv4, EtherTypeIPv6,
	// EtherTypeARP, ...
	EtherType uint16
	// Tags counts the VLAN tags, out-of-band and inline (0–2); InlineTags
	// counts those present in the frame's bytes after the MACs. A tag the
	// kernel stripped is always the outer one.
	Tags, InlineTags uint8
	// OuterTPID/OuterTCI describe the outer tag, the one that names the
	// port; InnerTPID/InnerTCI the QinQ inner tag. TPID 0 means absent.
	OuterTPID, OuterTCI uint16
	InnerTPID, InnerTCI uint16
	// L3Off is the offset of the IP (or other L3) header in the frame.
	L3Off int

	// Family is IPv4, IPv6, or NonIP; the fields below are valid only for
	// IP, and past a structural failure only up to the failing field.
	Family Family
	// Src and Dst are built with netip.AddrFrom4/AddrFrom16 (IPv4 never
	// appears as a 4in6 address).
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or the IPv6 hop limit; TOS the IPv4 TOS byte or
	// IPv6 traffic class.
	TTL, TOS uint8
	// Proto is the IPv4 protocol, or for IPv6 the next header after the
	// extension headers: the upper-layer protocol, or for a non-initial
	// fragment whatever the fragment header names.
	Proto uint8
	// ProtoOff is the offset, from the IP header, of the byte holding
	// Proto (the pointer of an ICMPv6 "unrecognized next header").
	ProtoOff int
	// HdrLen is the length of the IP header including IPv4 options or the
	// IPv6 extension headers walked; L4Off = L3Off + HdrLen.
	HdrLen int
	L4Off  int
	// L3Len is the IP packet's length: the IPv4 total length, or 40 + the
	// IPv6 payload length. Bytes after L3Off+L3Len are link padding.
	L3Len int

	// DF and MF are the IPv4 flags. FragOff is the fragment offset in bytes
	// (IPv4, or an IPv6 fragment header's) and FragID the identification.
	DF, MF  bool
	FragOff uint16
	FragID  uint32
	// FragHeader is set when an IPv6 fragment header is present (even an
	// atomic one, RFC 6946).
	FragHeader bool
	// Fragment is set when the packet is part of a larger datagram: IPv4
	// MF or offset, or an IPv6 fragment header with M or offset.
	// NonInitial when its offset is not 0: no L4 header is present.
	Fragment, NonInitial bool

	// HasPorts is set when the first 4 bytes of a TCP, UDP, DCCP, SCTP or
	// UDP-Lite header were present.
	HasPorts         bool
	SrcPort, DstPort uint16
	// HasICMP is set when an ICMP (IPv4) or ICMPv6 (IPv6) type and code
	// were present.
	HasICMP            bool
	ICMPType, ICMPCode uint8
}

// VID returns the outer tag's VLAN ID: the port's VLAN, or 0 for untagged
// and priority-tagged frames.
func (p *Parsed) VID() uint16 { return p.OuterTCI & 0x0fff }

// L2Group reports whether the frame went to a link-layer broadcast or
// multicast address (the I/G bit).
func (p *Parsed) L2Group() bool { return p.DstMAC[0]&1 != 0 }

// Parse decodes and validates frame into p and returns OK or the reason to
// drop it.
//
// hasTag, tpid and tci describe a VLAN tag the kernel stripped and reported
// out of band (dataplane.RxMeta's HasVLAN, VLANTPID, VLAN); tpid 0 with
// hasTag means 802.1Q, since older kernels do not report the TPID. Inline
// tags (0x8100, 0x88a8) follow it or stand alone, two at most in all.
//
// Non-IP frames return OK with Family NonIP and EtherType set. For IP,
// structural failures (TooShort … IPv6ExtChainTooLong) leave p partly
// filled; addressing reasons (Reason.Addressing) leave it complete.
func Parse(frame []byte, hasTag bool, tpid, tci uint16, p *Parsed) Reason {
	*p = Parsed{}
	if len(frame) < EthHeaderLen {
		return TooShort
	}
	p.DstMAC = [6]byte(frame[0:6])
	p.SrcMAC = [6]byte(frame[6:12])
	if hasTag {
		if tpid == 0 {
			tpid = TPID8021Q
		}
		p.OuterTPID, p.OuterTCI, p.Tags = tpid, tci, 1
	}
	off := 12
	et := binary.BigEndian.Uint16(frame[off:])
	for et == TPID8021Q || et == TPID8021AD {
		if p.Tags == 2 {
			return TooManyVLANTags
		}
		if len(frame) < off+VLANTagLen+2 {
			return TooShort
		}
		t := binary.BigEndian.Uint16(frame[off+2:])
		if p.Tags == 0 {
			p.OuterTPID, p.OuterTCI = et, t
		} else {
			p.InnerTPID, p.InnerTCI = et, t
		}
		p.Tags++
		p.InlineTags++
		off += VLANTagLen
		et = binary.BigEndian.Uint16(frame[off:])
	}
	if p.OuterTCI&0x0fff == 0x0fff || p.InnerTCI&0x0fff == 0x0fff {
		return VLANReserved
	}
	p.EtherType = et
	p.L3Off = off + 2
	switch et {
	case EtherTypeIPv4:
		return parseIPv4(frame, p)
	case EtherTypeIPv6:
		return parseIPv6(frame, p)
	}
	return OK
}

// parseL4 records ports or the ICMP type and code from the first bytes of
// the upper-layer header l4, when present.
func parseL4(p *Parsed, l4 []byte) {
	switch p.Proto {
	case ProtoTCP, ProtoUDP, ProtoDCCP, ProtoSCTP, ProtoUDPLite:
		if len(l4) >= 4 {
			p.HasPorts = true
			p.SrcPort = binary.BigEndian.Uint16(l4[0:])
			p.DstPort = binary.BigEndian.Uint16(l4[2:])
		}
	case ProtoICMP:
		if p.Family == IPv4 && len(l4) >= 2 {
			p.HasICMP, p.ICMPType, p.ICMPCode = true, l4[0], l4[1]
		}
	case ProtoICMPv6:
		if p.Family == IPv6 && len(l4) >= 2 {
			p.HasICMP, p.ICMPType, p.ICMPCode = true, l4[0], l4[1]
		}
	}
}
