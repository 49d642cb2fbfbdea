package tables

import (
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/packet/mrt"
)

// MRT (RFC 6396) TABLE_DUMP_V2 is how BGP RIB dumps are published
// (RouteViews, RIPE RIS) and what bgpdump and `gobgp mrt inject` read.
// gobgp's pkg/packet/mrt does the encoding; this file maps it to routes.

// MRTRoute is one prefix of a RIB dump, as its first RIB entry has it.
type MRTRoute struct {
	Prefix  netip.Prefix
	NextHop netip.Addr
	// PeerAS is the AS of the peer the entry came from; OriginAS the last
	// AS of its AS_PATH (0 if it has none).
	PeerAS, OriginAS uint32
	// Entries is the number of RIB entries (peers) the prefix had.
	Entries int
}

// MRTTime is the timestamp WriteMRT gives every record: the date of the
// address-range data the tables come from, so the file's bytes depend only
// on the routes.
var MRTTime = time.Date(2026, 6, 17, 19, 0, 0, 0, time.UTC)

// MRT next hops and peers of WriteMRT: next-hop index i is peer i, with
// BGP ID and IPv4 next hop 198.18.0.(i+1) (the benchmarking range), IPv6
// next hop 2001:db8:ffff::(i+1), and AS 64496+i (RFC 5398's documentation
// ASNs are 64496–64511: exactly NextHops of them).
func mrtPeer(i int) (id, v6 netip.Addr, as uint32) {
	id = netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)})
	v6 = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 15: byte(i + 1)})
	return id, v6, 64496 + uint32(i)
}

// WriteMRT writes routes as a TABLE_DUMP_V2 RIB dump: a PEER_INDEX_TABLE
// with one peer per next-hop index, then one RIB record per route, its
// single entry from the route's next-hop peer, with ORIGIN IGP, AS_PATH
// [peer AS] and the peer's next hop (MP_REACH_NLRI for IPv6). The output
// depends only on routes.
func WriteMRT(w io.Writer, routes []Route) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	collector := netip.AddrFrom4([4]byte{198, 18, 0, 254})
	var peers []*mrt.Peer
	for i := range NextHops {
		id, _, as := mrtPeer(i)
		peers = append(peers, mrt.NewPeer(id, id, as, true))
	}
	if err := writeMRT(bw, mrt.PEER_INDEX_TABLE, mrt.NewPeerIndexTable(collector, "fibd testdata/tables", peers)); err != nil {
		return err
	}
	for seq, r := range routes {
		if r.NextHop < 0 || r.NextHop >= NextHops {
			return fmt.Errorf("tables: %s: next-hop index %d", r.Prefix, r.NextHop)
		}
		id, v6, as := mrtPeer(r.NextHop)
		attrs := []bgp.PathAttributeInterface{
			bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP),
			bgp.NewPathAttributeAsPath([]bgp.AsPathParamInterface{bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SEQ, []uint32{as})}),
		}
		nlri, err := bgp.NewIPAddrPrefix(r.Prefix)
		if err != nil {
			return err
		}
		family, sub := bgp.RF_IPv4_UC, mrt.RIB_IPV4_UNICAST
		if r.Prefix.Addr().Is4() {
			nh, err := bgp.NewPathAttributeNextHop(id)
			if err != nil {
				return err
			}
			attrs = append(attrs, nh)
		} else {
			family, sub = bgp.RF_IPv6_UC, mrt.RIB_IPV6_UNICAST
			mp, err := bgp.NewPathAttributeMpReachNLRI(family, []bgp.PathNLRI{{NLRI: nlri}}, v6)
			if err != nil {
				return err
			}
			attrs = append(attrs, mp)
		}
		entry := mrt.NewRibEntry(uint16(r.NextHop), uint32(MRTTime.Unix()), 0, attrs, false)
		// The record's family is its subtype's. gobgp v4.8.0's Rib.Serialize
		// writes an AFI/SAFI (RIB_GENERIC's layout, which its own parser
		// and RFC 6396 §4.3.2 do not expect here) for RF_IPv6_UC, so the
		// RIB is made without one.
		rib := mrt.NewRib(uint32(seq), bgp.Family(0), nlri, []*mrt.RibEntry{entry})
		if err := writeMRT(bw, sub, rib); err != nil {
			return fmt.Errorf("tables: %s: %w", r.Prefix, err)
		}
	}
	return bw.Flush()
}

func writeMRT(w io.Writer, sub mrt.MRTSubTypeTableDumpv2, body mrt.Body) error {
	m, err := mrt.NewMRTMessage(MRTTime, mrt.TABLE_DUMPv2, sub, body)
	if err != nil {
		return err
	}
	b, err := m.Serialize()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// IsMRT reports whether b, the start of a file (decompressed), looks like
// an MRT TABLE_DUMP_V2 or BGP4MP stream: a 12-byte header whose type is 13
// or 16/17.
func IsMRT(b []byte) bool {
	if len(b) < mrt.MRT_COMMON_HEADER_LEN {
		return false
	}
	switch binary.BigEndian.Uint16(b[4:]) {
	case uint16(mrt.TABLE_DUMPv2):
		return binary.BigEndian.Uint16(b[6:]) >= 1 && binary.BigEndian.Uint16(b[6:]) <= 13
	}
	return false
}

// ParseMRT reads a TABLE_DUMP_V2 RIB dump (plain, gzip or bzip2, as
// RouteViews publishes them) and calls fn
// for each IPv4 and IPv6 unicast prefix, with its first entry's next hop.
// Records of other types are skipped; a malformed record stops it.
func ParseMRT(r io.Reader, fn func(MRTRoute) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && [2]byte(magic) == gzipMagic {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("tables: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
	} else if magic, _ := br.Peek(3); string(magic) == "BZh" {
		br = bufio.NewReaderSize(bzip2.NewReader(br), 1<<16)
	}
	var peers []*mrt.Peer
	hdr := make([]byte, mrt.MRT_COMMON_HEADER_LEN)
	var body []byte
	for rec := 1; ; rec++ {
		if _, err := io.ReadFull(br, hdr); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("tables: MRT record %d: %w", rec, err)
		}
		h, err := mrt.ParseHeader(hdr)
		if err != nil {
			return fmt.Errorf("tables: MRT record %d: %w", rec, err)
		}
		if h.Len > 1<<24 {
			return fmt.Errorf("tables: MRT record %d: length %d", rec, h.Len)
		}
		body = append(body[:0], make([]byte, h.Len)...)
		if _, err := io.ReadFull(br, body); err != nil {
			return fmt.Errorf("tables: MRT record %d cut off: %w", rec, err)
		}
		if h.Type != mrt.TABLE_DUMPv2 {
			continue
		}
		sub := mrt.MRTSubTypeTableDumpv2(h.SubType)
		switch sub {
		case mrt.PEER_INDEX_TABLE, mrt.RIB_IPV4_UNICAST, mrt.RIB_IPV6_UNICAST,
			mrt.RIB_IPV4_UNICAST_ADDPATH, mrt.RIB_IPV6_UNICAST_ADDPATH:
		default:
			continue
		}
		m, err := mrt.ParseBody(body, h)
		if err != nil {
			return fmt.Errorf("tables: MRT record %d: %w", rec, err)
		}
		if sub == mrt.PEER_INDEX_TABLE {
			peers = m.Body.(*mrt.PeerIndexTable).Peers
			continue
		}
		rib := m.Body.(*mrt.Rib)
		pfx, ok := nlriPrefix(rib.Prefix)
		if !ok {
			return fmt.Errorf("tables: MRT record %d: prefix %v", rec, rib.Prefix)
		}
		out := MRTRoute{Prefix: pfx, Entries: len(rib.Entries)}
		if len(rib.Entries) > 0 {
			e := rib.Entries[0]
			if int(e.PeerIndex) < len(peers) {
				out.PeerAS = peers[e.PeerIndex].AS
			} else if peers == nil {
				return fmt.Errorf("tables: MRT record %d: RIB before the PEER_INDEX_TABLE", rec)
			}
			out.NextHop, out.OriginAS = entryAttrs(e.PathAttributes)
		}
		if err := fn(out); err != nil {
			return err
		}
	}
}

func nlriPrefix(n bgp.NLRI) (netip.Prefix, bool) {
	p, ok := n.(*bgp.IPAddrPrefix)
	if !ok {
		return netip.Prefix{}, false
	}
	pfx := p.Prefix
	return pfx, pfx.IsValid() && pfx.Masked() == pfx
}

func entryAttrs(attrs []bgp.PathAttributeInterface) (nh netip.Addr, origin uint32) {
	for _, a := range attrs {
		switch a := a.(type) {
		case *bgp.PathAttributeNextHop:
			nh = a.Value
		case *bgp.PathAttributeMpReachNLRI:
			nh = a.Nexthop
		case *bgp.PathAttributeAsPath:
			for _, seg := range a.Value {
				if as := seg.GetAS(); len(as) > 0 {
					origin = as[len(as)-1]
				}
			}
		}
	}
	return nh, origin
}

// ParseMRTFile is ParseMRT on the named file.
func ParseMRTFile(path string, fn func(MRTRoute) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("tables: %w", err)
	}
	defer f.Close()
	if err := ParseMRT(f, fn); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
