package packet

import "encoding/binary"

// Link-layer rewrites work on a frame that sits at offset start of a larger
// buffer buf, with headroom in front of it. They return the frame's new
// start; its end never moves. Parsed offsets are stale afterwards.
//
// A routed packet leaves its ingress link behind, tags included: the egress
// frame carries exactly the egress port's tag (or none). So RewriteL2
// writes a complete new Ethernet header, with the egress tag, immediately in
// front of the IP header and ignores what stood there — which covers
// untagged, tagged, kernel-stripped and QinQ ingress (whose inner tag belongs
// to the ingress link) alike, without moving the packet and writing only
// the 14 or 18 header bytes. PushVLAN, PopVLAN and SetVLAN change one tag of
// an otherwise unchanged frame, moving at most the 12 MAC bytes.

// Tags are the VLAN tags an egress frame carries: none (Outer 0), one
// (Outer, with OuterTPID — 0 means 0x8100) or two (a QinQ port: Outer,
// then Inner, whose TPID is always 0x8100). Outer and Inner are TCIs: the
// VID in the low 12 bits, the priority in the top 3.
type Tags struct {
	OuterTPID, Outer, Inner uint16
}

// Len is how many bytes the tags take in a frame.
func (t Tags) Len() int {
	switch {
	case t.Outer == 0:
		return 0
	case t.Inner == 0:
		return VLANTagLen
	}
	return 2 * VLANTagLen
}

// WriteL2 writes an Ethernet header from src to dst with the given
// EtherType — with the tags in between — so that it ends at buf[l3], and
// returns the frame's start. It needs l3 ≥ 14 + tags.Len() (MaxL2Header
// fits any); less panics, as a misuse.
func WriteL2(buf []byte, l3 int, dst, src [6]byte, tags Tags, etherType uint16) (start int) {
	start = l3 - EthHeaderLen - tags.Len()
	h := buf[start:l3]
	copy(h[0:6], dst[:])
	copy(h[6:12], src[:])
	if tags.Outer != 0 {
		tpid := tags.OuterTPID
		if tpid == 0 {
			tpid = TPID8021Q
		}
		binary.BigEndian.PutUint16(h[12:], tpid)
		binary.BigEndian.PutUint16(h[14:], tags.Outer)
		if tags.Inner != 0 {
			binary.BigEndian.PutUint16(h[16:], TPID8021Q)
			binary.BigEndian.PutUint16(h[18:], tags.Inner)
		}
	}
	binary.BigEndian.PutUint16(h[len(h)-2:], etherType)
	return start
}

// RewriteL2 turns the received frame at buf[start:], described by p, into
// an egress frame from src to dst carrying the egress port's tags, and
// returns its new start. Needs start + p.L3Off ≥ 14 + tags.Len(): with an
// untagged, kernel-stripped ingress, 8 bytes of headroom for QinQ.
func RewriteL2(buf []byte, start int, p *Parsed, dst, src [6]byte, tags Tags) int {
	return WriteL2(buf, start+p.L3Off, dst, src, tags, p.EtherType)
}

// SetMACs sets a frame's destination and source MAC.
func SetMACs(frame []byte, dst, src [6]byte) {
	copy(frame[0:6], dst[:])
	copy(frame[6:12], src[:])
}

// PushVLAN inserts a tag with the given TPID and TCI as the frame's outer
// tag, moving the MACs 4 bytes to the left; it needs start ≥ 4.
func PushVLAN(buf []byte, start int, tpid, tci uint16) int {
	n := start - VLANTagLen
	copy(buf[n:n+12], buf[start:start+12])
	binary.BigEndian.PutUint16(buf[n+12:], tpid)
	binary.BigEndian.PutUint16(buf[n+14:], tci)
	return n
}

// PopVLAN removes the frame's outer inline tag, which the caller knows is
// there (Parsed.InlineTags > 0), moving the MACs 4 bytes to the right.
func PopVLAN(buf []byte, start int) int {
	n := start + VLANTagLen
	copy(buf[n:n+12], buf[start:start+12])
	return n
}

// SetVLAN rewrites the TCI of the frame's outer inline tag, keeping its
// TPID.
func SetVLAN(frame []byte, tci uint16) {
	binary.BigEndian.PutUint16(frame[14:], tci)
}
