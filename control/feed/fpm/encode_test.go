package fpm

import (
	"encoding/binary"
	"net/netip"
)

// The encoders zebra's dplane_fpm_nl has (netlink_route_multipath_msg_encode,
// netlink_nexthop_msg_encode), for the tests: what FRR 8.4 puts on the
// wire, field by field.

type nlmsg []byte

func attr(typ uint16, v []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func attr32(typ uint16, v uint32) []byte {
	return attr(typ, binary.NativeEndian.AppendUint32(nil, v))
}

func message(typ, flags uint16, seq uint32, body ...[]byte) nlmsg {
	var payload []byte
	for _, b := range body {
		payload = append(payload, b...)
	}
	b := binary.NativeEndian.AppendUint32(nil, uint32(nlmsgHdrLen+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	return append(b, payload...)
}

func family(p netip.Prefix) uint8 {
	if p.Addr().Is4() {
		return afInet
	}
	return afInet6
}

// rtmsg is struct rtmsg: zebra puts tables below 256 in rtm_table and
// the others in RTA_TABLE.
func rtmsg(p netip.Prefix, table uint32, proto, typ uint8) []byte {
	t := uint8(table)
	if table >= 256 {
		t = rtTableUnspec
	}
	b := []byte{family(p), uint8(p.Bits()), 0, 0, t, proto, 0, typ}
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, attr(rtaDst, p.Addr().AsSlice())...)
	if table >= 256 {
		b = append(b, attr32(rtaTable, table)...)
	}
	return append(b, attr32(6 /* RTA_PRIORITY */, 20)...)
}

const rtprotBGP, rtprotStatic = 186, 196

func newRouteNH(seq uint32, p netip.Prefix, table uint32, nhid uint32) nlmsg {
	flags := uint16(nlmFRequest | 0x400 /* NLM_F_CREATE */)
	if p.Addr().Is4() {
		flags |= nlmFReplace
	}
	return message(rtmNewRoute, flags, seq, rtmsg(p, table, rtprotBGP, rtnUnicast), attr32(rtaNHID, nhid))
}

func newRouteVia(seq uint32, p netip.Prefix, table uint32, gw netip.Addr, oif uint32) nlmsg {
	return message(rtmNewRoute, nlmFRequest, seq, rtmsg(p, table, rtprotStatic, rtnUnicast),
		attr(rtaGateway, gw.AsSlice()), attr32(rtaOIF, oif))
}

func newRouteType(seq uint32, p netip.Prefix, table uint32, typ uint8) nlmsg {
	return message(rtmNewRoute, nlmFRequest, seq, rtmsg(p, table, rtprotStatic, typ))
}

func newRouteMultipath(seq uint32, p netip.Prefix, table uint32, gws []netip.Addr, weights []uint8) nlmsg {
	var mp []byte
	for i, gw := range gws {
		ga := attr(rtaGateway, gw.AsSlice())
		h := binary.NativeEndian.AppendUint16(nil, uint16(rtnexthopLen+len(ga)))
		h = append(h, 0, weights[i]-1)
		h = binary.NativeEndian.AppendUint32(h, 0)
		mp = append(mp, append(h, ga...)...)
	}
	return message(rtmNewRoute, nlmFRequest, seq, rtmsg(p, table, rtprotBGP, rtnUnicast), attr(rtaMultipath, mp))
}

func delRoute(seq uint32, p netip.Prefix, table uint32) nlmsg {
	return message(rtmDelRoute, nlmFRequest, seq, rtmsg(p, table, rtprotBGP, 0))
}

func nhmsg(fam uint8) []byte { return []byte{fam, 0, 11 /* proto zebra */, 0, 0, 0, 0, 0} }

func newNexthop(seq, id uint32, gw netip.Addr, oif uint32) nlmsg {
	fam := uint8(afInet)
	if gw.Is6() {
		fam = afInet6
	}
	return message(rtmNewNexthop, nlmFRequest|nlmFReplace, seq, nhmsg(fam), attr32(nhaID, id),
		attr(nhaGateway, gw.AsSlice()), attr32(nhaOIF, oif))
}

func newGroup(seq, id uint32, members []uint32, weights []uint8) nlmsg {
	var g []byte
	for i, m := range members {
		g = binary.NativeEndian.AppendUint32(g, m)
		g = append(g, weights[i]-1, 0, 0, 0)
	}
	return message(rtmNewNexthop, nlmFRequest|nlmFReplace, seq, nhmsg(0), attr32(nhaID, id), attr(nhaGroup, g))
}

func delNexthop(seq, id uint32) nlmsg {
	return message(rtmDelNexthop, nlmFRequest, seq, nhmsg(0), attr32(nhaID, id))
}

// frame wraps messages in one FPM frame.
func frame(msgs ...nlmsg) []byte {
	var p []byte
	for _, m := range msgs {
		p = append(p, m...)
	}
	b := []byte{frameVersion, frameTypeNetlink}
	b = binary.BigEndian.AppendUint16(b, uint16(frameHeaderLen+len(p)))
	return append(b, p...)
}
