package neigh

import (
	"errors"
	"net/netip"

	"github.com/fibd/fibd/fib/adj"
)

// Neighbor Discovery messages (RFC 4861 §4.3, §4.4) carried in whole IPv6
// packets, with the receive validation of §7.1.1 and §7.1.2.
const (
	ICMPv6TypeRS       = 133
	ICMPv6TypeRA       = 134
	ICMPv6TypeNS       = 135
	ICMPv6TypeNA       = 136
	ICMPv6TypeRedirect = 137

	// ndMinLen is the ICMPv6 length of an NS or NA without options: type,
	// code, checksum, 4 bytes of flags/reserved, the 16-byte target.
	ndMinLen = 24
	// optLinkLayerLen is a source/target link-layer address option for
	// Ethernet: type, length (1 = 8 bytes), the MAC.
	optLinkLayerLen = 8
	optSourceLL     = 1
	optTargetLL     = 2

	// NSMaxLen and NAMaxLen are what BuildNS and BuildNA write at most.
	NSMaxLen = IPv6HeaderLen + ndMinLen + optLinkLayerLen
	NAMaxLen = NSMaxLen

	naFlagRouter    = 0x80
	naFlagSolicited = 0x40
	naFlagOverride  = 0x20
)

// ND validation errors, one per reason so each can be counted.
var (
	ErrIPv6Header    = errors.New("neigh: not an IPv6 header")
	ErrNotICMPv6     = errors.New("neigh: next header is not ICMPv6")
	ErrICMPv6Type    = errors.New("neigh: ICMPv6 type is not the expected ND message")
	ErrHopLimit      = errors.New("neigh: ND hop limit is not 255")
	ErrChecksum      = errors.New("neigh: bad ICMPv6 checksum")
	ErrCode          = errors.New("neigh: ND code is not 0")
	ErrTarget        = errors.New("neigh: ND target is multicast or not IPv6")
	ErrOption        = errors.New("neigh: malformed ND option")
	ErrSourceAddress = errors.New("neigh: invalid IPv6 source for ND")
	ErrDestination   = errors.New("neigh: invalid IPv6 destination for ND")
	ErrSolicitedFlag = errors.New("neigh: solicited NA sent to a multicast address")
)

// NS is a Neighbor Solicitation with its IPv6 addresses.
type NS struct {
	Src, Dst netip.Addr
	Target   netip.Addr
	// SourceLL is the Source Link-Layer Address option, if HasSourceLL.
	SourceLL    adj.MAC
	HasSourceLL bool
}

// NA is a Neighbor Advertisement with its IPv6 addresses.
type NA struct {
	Src, Dst  netip.Addr
	Target    netip.Addr
	Router    bool
	Solicited bool
	Override  bool
	// TargetLL is the Target Link-Layer Address option, if HasTargetLL.
	TargetLL    adj.MAC
	HasTargetLL bool
}

// ICMPv6Type returns the ICMPv6 type of an IPv6 packet whose next header is
// ICMPv6, for dispatch before full validation.
func ICMPv6Type(pkt []byte) (uint8, error) {
	_, icmp, err := parseICMPv6(pkt)
	if err != nil {
		return 0, err
	}
	if len(icmp) < 1 {
		return 0, ErrTruncated
	}
	return icmp[0], nil
}

// parseND runs the checks NS and NA share (RFC 4861 §7.1.1/§7.1.2: hop limit,
// checksum, code, length, target, option lengths) and returns the header,
// the message and its first link-layer option of type llType.
func parseND(pkt []byte, typ, llType uint8) (h ipv6Header, icmp []byte, ll adj.MAC, hasLL bool, err error) {
	h, icmp, err = parseICMPv6(pkt)
	if err != nil {
		return h, nil, ll, false, err
	}
	if len(icmp) < ndMinLen {
		return h, nil, ll, false, ErrTruncated
	}
	if icmp[0] != typ {
		return h, nil, ll, false, ErrICMPv6Type
	}
	if h.hopLimit != ndHopLimit {
		return h, nil, ll, false, ErrHopLimit
	}
	if icmp[1] != 0 {
		return h, nil, ll, false, ErrCode
	}
	if ICMPv6Checksum(h.src, h.dst, icmp) != 0 {
		return h, nil, ll, false, ErrChecksum
	}
	// IPv4-mapped addresses never appear on the wire (RFC 4291 §2.5.5.2),
	// and nothing is sent to the unspecified address.
	if h.src.IsMulticast() || h.src.Is4In6() {
		return h, nil, ll, false, ErrSourceAddress
	}
	if h.dst.IsUnspecified() || h.dst.Is4In6() {
		return h, nil, ll, false, ErrDestination
	}
	if t := netip.AddrFrom16([16]byte(icmp[8:24])); t.IsMulticast() || t.IsUnspecified() || t.Is4In6() {
		return h, nil, ll, false, ErrTarget
	}
	for o := icmp[ndMinLen:]; len(o) > 0; {
		if len(o) < 2 || o[1] == 0 || int(o[1])*8 > len(o) {
			return h, nil, ll, false, ErrOption
		}
		n := int(o[1]) * 8
		if o[0] == llType && !hasLL {
			// Ethernet addresses fit one 8-byte unit; any other length
			// is a different link layer's option (Linux drops these too).
			if n != optLinkLayerLen {
				return h, nil, ll, false, ErrOption
			}
			ll, hasLL = adj.MAC(o[2:8]), true
		}
		o = o[n:]
	}
	return h, icmp, ll, hasLL, nil
}

// ParseNS validates and decodes a whole IPv6 packet carrying a Neighbor
// Solicitation (RFC 4861 §7.1.1). It allocates nothing.
func ParseNS(pkt []byte) (NS, error) {
	h, icmp, ll, hasLL, err := parseND(pkt, ICMPv6TypeNS, optSourceLL)
	if err != nil {
		return NS{}, err
	}
	ns := NS{
		Src:         h.src,
		Dst:         h.dst,
		Target:      netip.AddrFrom16([16]byte(icmp[8:24])),
		SourceLL:    ll,
		HasSourceLL: hasLL,
	}
	if ns.Src.IsUnspecified() {
		// Duplicate Address Detection: must go to a solicited-node group
		// and carry no source link-layer option.
		if !isSolicitedNode(ns.Dst) {
			return NS{}, ErrDestination
		}
		if hasLL {
			return NS{}, ErrOption
		}
	}
	return ns, nil
}

// ParseNA validates and decodes a whole IPv6 packet carrying a Neighbor
// Advertisement (RFC 4861 §7.1.2). It allocates nothing.
func ParseNA(pkt []byte) (NA, error) {
	h, icmp, ll, hasLL, err := parseND(pkt, ICMPv6TypeNA, optTargetLL)
	if err != nil {
		return NA{}, err
	}
	na := NA{
		Src:         h.src,
		Dst:         h.dst,
		Target:      netip.AddrFrom16([16]byte(icmp[8:24])),
		Router:      icmp[4]&naFlagRouter != 0,
		Solicited:   icmp[4]&naFlagSolicited != 0,
		Override:    icmp[4]&naFlagOverride != 0,
		TargetLL:    ll,
		HasTargetLL: hasLL,
	}
	if na.Solicited && na.Dst.IsMulticast() {
		return NA{}, ErrSolicitedFlag
	}
	return na, nil
}

// ndAddrsOK checks what both builders need: IPv6 source (possibly
// unspecified), IPv6 destination, unicast IPv6 target.
func ndAddrsOK(src, dst, target netip.Addr) bool {
	return src.Is6() && !src.Is4In6() && !src.IsMulticast() &&
		dst.Is6() && !dst.Is4In6() && !dst.IsUnspecified() &&
		target.Is6() && !target.Is4In6() && !target.IsMulticast() && !target.IsUnspecified()
}

// BuildNS writes ns as a whole IPv6 packet (hop limit 255, checksum filled
// in) into b and returns its length, at most NSMaxLen.
func BuildNS(b []byte, ns NS) (int, error) {
	if !ndAddrsOK(ns.Src, ns.Dst, ns.Target) {
		return 0, ErrAddress
	}
	if ns.Src.IsUnspecified() && ns.HasSourceLL {
		return 0, ErrOption
	}
	return buildND(b, ns.Src, ns.Dst, ICMPv6TypeNS, 0, ns.Target, optSourceLL, ns.SourceLL, ns.HasSourceLL)
}

// BuildNA writes na as a whole IPv6 packet into b and returns its length,
// at most NAMaxLen.
func BuildNA(b []byte, na NA) (int, error) {
	if !ndAddrsOK(na.Src, na.Dst, na.Target) || na.Src.IsUnspecified() {
		return 0, ErrAddress
	}
	if na.Solicited && na.Dst.IsMulticast() {
		return 0, ErrSolicitedFlag
	}
	var flags byte
	if na.Router {
		flags |= naFlagRouter
	}
	if na.Solicited {
		flags |= naFlagSolicited
	}
	if na.Override {
		flags |= naFlagOverride
	}
	return buildND(b, na.Src, na.Dst, ICMPv6TypeNA, flags, na.Target, optTargetLL, na.TargetLL, na.HasTargetLL)
}

func buildND(b []byte, src, dst netip.Addr, typ, flags byte, target netip.Addr, llType byte, ll adj.MAC, hasLL bool) (int, error) {
	icmpLen := ndMinLen
	if hasLL {
		icmpLen += optLinkLayerLen
	}
	n := IPv6HeaderLen + icmpLen
	if len(b) < n {
		return 0, ErrShortBuffer
	}
	putIPv6Header(b, src, dst, icmpLen)
	m := b[IPv6HeaderLen:n]
	m[0], m[1], m[2], m[3] = typ, 0, 0, 0
	m[4], m[5], m[6], m[7] = flags, 0, 0, 0
	t := target.As16()
	copy(m[8:24], t[:])
	if hasLL {
		m[24], m[25] = llType, 1
		copy(m[26:32], ll[:])
	}
	c := ICMPv6Checksum(src, dst, m)
	m[2], m[3] = byte(c>>8), byte(c)
	return n, nil
}
