package packet

// Address classification for forwarding. Rules and their sources:
//
// IPv4 (RFC 1812 §5.3.7: "An IP source address is invalid if it is a
// special IP address, as defined in 4.2.2.11 or 5.3.7, or is not a unicast
// address. An IP destination address is invalid if it is among those
// defined as illegal destinations in 4.2.3.1, or is a Class E address
// (except 255.255.255.255)"; RFC 6890 marks each block below as not
// forwardable):
//   - 0.0.0.0/8 "this network": never a forwarded source (§5.3.7, RFC 1122
//     §3.2.1.3 (a)/(b)), never a destination (RFC 1812 §4.2.3.1).
//   - 127.0.0.0/8 loopback: never outside a host, source or destination
//     (§5.3.7, RFC 1122 §3.2.1.3 (g)).
//   - 224.0.0.0/4 multicast: never a source (§5.3.7, not unicast).
//   - 240.0.0.0/4 class E: never a source or destination (§5.3.7), except
//     255.255.255.255 as destination, which is the limited broadcast:
//     received, never forwarded (§5.3.5.1) — reason BroadcastDest.
//   - 169.254.0.0/16 link-local (RFC 3927 §2.7): never forwarded; reported
//     as LinkLocalSource/LinkLocalDest so the router can still use it on-link.
//
// IPv6 (RFC 4291):
//   - ::/128 unspecified: never a destination, and "must not be forwarded
//     by an IPv6 router" as a source (§2.5.2).
//   - ::1/128 loopback: never sent outside a node, dropped when received
//     as destination (§2.5.3).
//   - ::/96 IPv4-compatible: deprecated (§2.5.5.1); ::ffff:0:0/96
//     IPv4-mapped: never in an IPv6 header on the wire (§2.5.5.2, RFC 6890
//     not forwardable, RFC 4942 §2.1.4).
//   - ff00::/8 multicast: never a source (§2.7). As destination, scopes 0
//     (reserved) and 1 (interface-local) never appear on a link (§2.7);
//     other scopes are MulticastDest since fibd does not route multicast.
//   - fe80::/10 link-local (§2.5.6): never forwarded; LinkLocal* reasons.

// classify4 returns the first addressing reason for an IPv4 packet, source
// checks first.
func classify4(p *Parsed, src, dst [4]byte) Reason {
	switch {
	case badSource4(src):
		return MartianSource
	case src[0] == 169 && src[1] == 254:
		return LinkLocalSource
	case dst == [4]byte{255, 255, 255, 255}:
		return BroadcastDest
	case dst[0] == 0 || dst[0] == 127 || dst[0] >= 240:
		return MartianDest
	case dst[0]&0xf0 == 0xe0:
		return MulticastDest
	case dst[0] == 169 && dst[1] == 254:
		return LinkLocalDest
	case p.L2Group():
		return LinkBroadcast
	}
	return OK
}

// badSource4 reports an IPv4 source that does not name one host: 0/8,
// 127/8, 224/4 and 240/4 (which includes 255.255.255.255).
func badSource4(a [4]byte) bool {
	return a[0] == 0 || a[0] == 127 || a[0] >= 224
}

// classify6 is classify4 for IPv6.
func classify6(p *Parsed, src, dst *[16]byte) Reason {
	switch {
	case badSource6(src):
		return MartianSource
	case linkLocal6(src):
		return LinkLocalSource
	case dst[0] == 0xff:
		if dst[1]&0x0f <= 1 {
			return MartianDest
		}
		return MulticastDest
	case reserved6(dst):
		return MartianDest
	case linkLocal6(dst):
		return LinkLocalDest
	case p.L2Group():
		return LinkBroadcast
	}
	return OK
}

// badSource6 reports an IPv6 source that does not name one host or must
// not be forwarded: multicast and the ::/80-based reserved blocks.
func badSource6(a *[16]byte) bool {
	return a[0] == 0xff || reserved6(a)
}

// reserved6 reports the ::/96 (unspecified, loopback, IPv4-compatible) and
// ::ffff:0:0/96 (IPv4-mapped) blocks.
func reserved6(a *[16]byte) bool {
	for _, b := range a[:10] {
		if b != 0 {
			return false
		}
	}
	return (a[10] == 0 && a[11] == 0) || (a[10] == 0xff && a[11] == 0xff)
}

func linkLocal6(a *[16]byte) bool {
	return a[0] == 0xfe && a[1]&0xc0 == 0x80
}

// DstLinkLocal reports whether the destination is link-local in scope —
// 169.254.0.0/16, fe80::/10, 224.0.0.0/24 or ff02::/16 — so that the router
// may answer it on the link but never forwards it.
func (p *Parsed) DstLinkLocal() bool {
	switch p.Family {
	case IPv4:
		d := p.Dst.As4()
		return (d[0] == 169 && d[1] == 254) || (d[0] == 224 && d[1] == 0 && d[2] == 0)
	case IPv6:
		return p.Dst.IsLinkLocalUnicast() || p.Dst.IsLinkLocalMulticast()
	}
	return false
}

// srcUnicast reports whether the packet's source names one host, the test
// of RFC 1812 §4.3.2.7 and RFC 4443 §2.4(e.6) for sending an ICMP error.
func srcUnicast(p *Parsed) bool {
	switch p.Family {
	case IPv4:
		return !badSource4(p.Src.As4())
	case IPv6:
		a := p.Src.As16()
		return !badSource6(&a)
	}
	return false
}

// dstGroup reports an IP broadcast or multicast destination.
func dstGroup(p *Parsed) bool {
	switch p.Family {
	case IPv4:
		d := p.Dst.As4()
		return d[0] >= 224 // multicast, class E, limited broadcast
	case IPv6:
		return p.Dst.IsMulticast()
	}
	return false
}
