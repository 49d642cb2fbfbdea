package fpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// The FPM frame (FRR's fpm/fpm.h): a 4-byte header — version, message
// type, and a big-endian length that counts the header — then the
// payload, for type netlink one or more netlink messages in the host's
// byte order (zebra and the listener share a machine).
const (
	frameVersion     = 1
	frameTypeNetlink = 1
	frameHeaderLen   = 4
	// MaxFrame is the largest frame the 16-bit length allows.
	MaxFrame = 1<<16 - 1
)

// Netlink numbers (linux/netlink.h, rtnetlink.h, nexthop.h): the kernel's
// ABI, so they never change; kept here so the parser builds and is fuzzed
// on any OS.
const (
	nlmsgHdrLen = 16

	rtmNewRoute   = 24
	rtmDelRoute   = 25
	rtmNewNeigh   = 28
	rtmDelNeigh   = 29
	rtmNewNexthop = 104
	rtmDelNexthop = 105

	nlmFRequest = 0x1
	nlmFReplace = 0x100

	afInet  = 2
	afInet6 = 10
	afMPLS  = 28

	rtmsgLen = 12
	nhmsgLen = 8

	rtaDst       = 1
	rtaOIF       = 4
	rtaGateway   = 5
	rtaMultipath = 9
	rtaTable     = 15
	rtaVia       = 18
	rtaEncapType = 21
	rtaEncap     = 22
	rtaNHID      = 30

	nhaID        = 1
	nhaGroup     = 2
	nhaBlackhole = 4
	nhaOIF       = 5
	nhaGateway   = 6
	nhaEncapType = 7
	nhaEncap     = 8
	nhaFDB       = 11

	rtnUnicast     = 1
	rtnBlackhole   = 6
	rtnUnreachable = 7
	rtnProhibit    = 8

	rtprotKernel = 2

	rtTableUnspec = 0
	rtTableMain   = 254

	rtmFOffload       = 0x4000
	rtmFOffloadFailed = 0x20000000

	rtnexthopLen = 8
)

// ErrMalformed wraps every parse error: the frame is refused whole.
var ErrMalformed = errors.New("malformed FPM frame")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Message is one netlink message of a frame, parsed.
type Message struct {
	Type  uint16
	Flags uint16
	Seq   uint32
	// Route is set for RTM_NEWROUTE and RTM_DELROUTE, Nexthop for
	// RTM_NEWNEXTHOP and RTM_DELNEXTHOP; neither for what fibd ignores
	// (Ignored says why).
	Route   *RouteMsg
	Nexthop *NexthopMsg
	Ignored string
}

// RouteMsg is a route message.
type RouteMsg struct {
	Family, DstLen, Protocol, Scope, Type uint8
	Table                                 uint32
	Flags                                 uint32
	// rtmTable is the header's own table byte, echoed in the feedback.
	rtmTable uint8
	Dst      netip.Prefix
	// One path, or Multipath; or NHID, a nexthop object.
	Gateway   netip.Addr
	OIF       uint32
	NHID      uint32
	Multipath []Hop
	// Unsupported names what fibd cannot forward (an encapsulation, a
	// next hop of the other family); empty when the route is fine.
	Unsupported string
}

// Hop is one member of a multipath route.
type Hop struct {
	Gateway netip.Addr
	OIF     uint32
	Weight  uint32 // 1-256
}

// NexthopMsg is a nexthop object (Linux's nexthop API, FRR's NHG).
type NexthopMsg struct {
	ID        uint32
	Family    uint8
	Gateway   netip.Addr
	OIF       uint32
	Blackhole bool
	Group     []Member
	// Unsupported as in RouteMsg.
	Unsupported string
}

// Member is one entry of a nexthop group.
type Member struct {
	ID     uint32
	Weight uint32 // 1-256
}

// ParseFrame splits an FPM frame's payload into netlink messages and
// parses each. It checks every length before it reads, so no input can
// make it read out of bounds; any inconsistency refuses the frame.
func ParseFrame(payload []byte, out []Message) ([]Message, error) {
	for len(payload) > 0 {
		if len(payload) < nlmsgHdrLen {
			return out, malformed("%d trailing bytes, shorter than a netlink header", len(payload))
		}
		n := int(binary.NativeEndian.Uint32(payload))
		if n < nlmsgHdrLen || n > len(payload) {
			return out, malformed("netlink message length %d with %d bytes left", n, len(payload))
		}
		m := Message{Type: binary.NativeEndian.Uint16(payload[4:]), Flags: binary.NativeEndian.Uint16(payload[6:]),
			Seq: binary.NativeEndian.Uint32(payload[8:])}
		body := payload[nlmsgHdrLen:n]
		var err error
		switch m.Type {
		case rtmNewRoute, rtmDelRoute:
			m.Route, m.Ignored, err = parseRoute(body)
		case rtmNewNexthop, rtmDelNexthop:
			m.Nexthop, m.Ignored, err = parseNexthop(body)
		case rtmNewNeigh, rtmDelNeigh:
			m.Ignored = "neighbour (EVPN MAC)"
		default:
			m.Ignored = fmt.Sprintf("netlink message type %d", m.Type)
		}
		if err != nil {
			return out, fmt.Errorf("message type %d seq %d: %w", m.Type, m.Seq, err)
		}
		out = append(out, m)
		payload = payload[min(len(payload), align(n)):]
	}
	return out, nil
}

func align(n int) int { return (n + 3) &^ 3 }

// attrs walks rtattr/nlattr TLVs.
func attrs(b []byte, fn func(typ uint16, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return malformed("%d trailing attribute bytes", len(b))
		}
		n := int(binary.NativeEndian.Uint16(b))
		if n < 4 || n > len(b) {
			return malformed("attribute length %d with %d bytes left", n, len(b))
		}
		// NLA_F_NESTED and NLA_F_NET_BYTEORDER ride in the type's top bits.
		if err := fn(binary.NativeEndian.Uint16(b[2:])&0x3fff, b[4:n]); err != nil {
			return err
		}
		b = b[min(len(b), align(n)):]
	}
	return nil
}

func addr(family uint8, v []byte, what string) (netip.Addr, error) {
	switch {
	case family == afInet && len(v) == 4:
		return netip.AddrFrom4([4]byte(v)), nil
	case family == afInet6 && len(v) == 16:
		return netip.AddrFrom16([16]byte(v)), nil
	}
	return netip.Addr{}, malformed("%s of %d bytes in family %d", what, len(v), family)
}

func u32(v []byte, what string) (uint32, error) {
	if len(v) != 4 {
		return 0, malformed("%s of %d bytes", what, len(v))
	}
	return binary.NativeEndian.Uint32(v), nil
}

func parseRoute(b []byte) (*RouteMsg, string, error) {
	if len(b) < rtmsgLen {
		return nil, "", malformed("route message of %d bytes", len(b))
	}
	r := &RouteMsg{Family: b[0], DstLen: b[1], rtmTable: b[4], Protocol: b[5], Scope: b[6], Type: b[7],
		Flags: binary.NativeEndian.Uint32(b[8:])}
	r.Table = uint32(r.rtmTable)
	if r.Family == afMPLS {
		return nil, "MPLS label route", nil
	}
	if r.Family != afInet && r.Family != afInet6 {
		return nil, fmt.Sprintf("route family %d", r.Family), nil
	}
	bits := 32
	if r.Family == afInet6 {
		bits = 128
	}
	if int(r.DstLen) > bits {
		return nil, "", malformed("prefix length %d in family %d", r.DstLen, r.Family)
	}
	if b[2] != 0 { // rtm_src_len: a source-specific route
		r.Unsupported = "source-specific route"
	}
	var dst netip.Addr
	err := attrs(b[rtmsgLen:], func(typ uint16, v []byte) error {
		var err error
		switch typ {
		case rtaDst:
			dst, err = addr(r.Family, v, "RTA_DST")
		case rtaGateway:
			r.Gateway, err = addr(r.Family, v, "RTA_GATEWAY")
		case rtaOIF:
			r.OIF, err = u32(v, "RTA_OIF")
		case rtaTable:
			r.Table, err = u32(v, "RTA_TABLE")
		case rtaNHID:
			r.NHID, err = u32(v, "RTA_NH_ID")
		case rtaMultipath:
			r.Multipath, err = parseMultipath(r, v)
		case rtaVia:
			r.Unsupported = "a next hop of the other family (RTA_VIA)"
		case rtaEncap, rtaEncapType:
			r.Unsupported = "an encapsulation (MPLS or SRv6)"
		}
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if !dst.IsValid() {
		dst = netip.IPv4Unspecified()
		if r.Family == afInet6 {
			dst = netip.IPv6Unspecified()
		}
	}
	p := netip.PrefixFrom(dst, int(r.DstLen))
	if p.Masked() != p {
		return nil, "", malformed("RTA_DST %s has host bits set", p)
	}
	r.Dst = p
	return r, "", nil
}

func parseMultipath(r *RouteMsg, b []byte) ([]Hop, error) {
	var hops []Hop
	for len(b) > 0 {
		if len(b) < rtnexthopLen {
			return nil, malformed("%d trailing RTA_MULTIPATH bytes", len(b))
		}
		n := int(binary.NativeEndian.Uint16(b))
		if n < rtnexthopLen || n > len(b) {
			return nil, malformed("rtnexthop length %d with %d bytes left", n, len(b))
		}
		h := Hop{Weight: uint32(b[3]) + 1, OIF: binary.NativeEndian.Uint32(b[4:])}
		err := attrs(b[rtnexthopLen:n], func(typ uint16, v []byte) error {
			var err error
			switch typ {
			case rtaGateway:
				h.Gateway, err = addr(r.Family, v, "multipath RTA_GATEWAY")
			case rtaVia:
				r.Unsupported = "a next hop of the other family (RTA_VIA)"
			case rtaEncap, rtaEncapType:
				r.Unsupported = "an encapsulation (MPLS or SRv6)"
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		hops = append(hops, h)
		b = b[min(len(b), align(n)):]
	}
	return hops, nil
}

func parseNexthop(b []byte) (*NexthopMsg, string, error) {
	if len(b) < nhmsgLen {
		return nil, "", malformed("nexthop message of %d bytes", len(b))
	}
	nh := &NexthopMsg{Family: b[0]}
	fdb := false
	err := attrs(b[nhmsgLen:], func(typ uint16, v []byte) error {
		var err error
		switch typ {
		case nhaID:
			nh.ID, err = u32(v, "NHA_ID")
		case nhaGateway:
			nh.Gateway, err = addr(nh.Family, v, "NHA_GATEWAY")
		case nhaOIF:
			nh.OIF, err = u32(v, "NHA_OIF")
		case nhaBlackhole:
			nh.Blackhole = true
		case nhaGroup:
			if len(v)%8 != 0 || len(v) == 0 {
				return malformed("NHA_GROUP of %d bytes", len(v))
			}
			for i := 0; i < len(v); i += 8 {
				nh.Group = append(nh.Group, Member{ID: binary.NativeEndian.Uint32(v[i:]), Weight: uint32(v[i+4]) + 1})
			}
		case nhaEncap, nhaEncapType:
			nh.Unsupported = "an encapsulation (MPLS or SRv6)"
		case nhaFDB:
			fdb = true
		}
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if nh.ID == 0 {
		return nil, "", malformed("nexthop without NHA_ID")
	}
	if fdb {
		return nil, "EVPN FDB nexthop", nil
	}
	return nh, "", nil
}

// appendFeedback appends the frame that tells zebra what became of route
// r: RTM_NEWROUTE with RTM_F_OFFLOAD, or RTM_F_OFFLOAD_FAILED, echoing the
// route's header, table and destination so zebra finds its route
// (zebra's fpm_read needs NLM_F_REQUEST).
func appendFeedback(b []byte, seq uint32, r *RouteMsg, ok bool) []byte {
	dst := r.Dst.Addr().AsSlice()
	msgLen := nlmsgHdrLen + rtmsgLen + 4 + align(len(dst)) + 8 // RTA_DST, RTA_TABLE
	b = append(b, frameVersion, frameTypeNetlink)
	b = binary.BigEndian.AppendUint16(b, uint16(frameHeaderLen+msgLen))
	b = binary.NativeEndian.AppendUint32(b, uint32(msgLen))
	b = binary.NativeEndian.AppendUint16(b, rtmNewRoute)
	b = binary.NativeEndian.AppendUint16(b, nlmFRequest)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // pid
	flags := uint32(rtmFOffload)
	if !ok {
		flags = rtmFOffloadFailed
	}
	typ := r.Type
	if typ == 0 {
		typ = rtnUnicast
	}
	b = append(b, r.Family, r.DstLen, 0, 0, r.rtmTable, r.Protocol, r.Scope, typ)
	b = binary.NativeEndian.AppendUint32(b, flags)
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(dst)))
	b = binary.NativeEndian.AppendUint16(b, rtaDst)
	b = append(b, dst...)
	for range align(len(dst)) - len(dst) {
		b = append(b, 0)
	}
	b = binary.NativeEndian.AppendUint16(b, 8)
	b = binary.NativeEndian.AppendUint16(b, rtaTable)
	b = binary.NativeEndian.AppendUint32(b, r.Table)
	return b
}
