package hoststack

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"github.com/fibd/fibd/dataplane/packet"
)

// The host side of a TCP stream through fibd sees wire-sized segments,
// each a write(2) into the TUN and a trip through the host's IP and TCP
// receive path. The kernel's own answer to that is GRO; a TUN with
// IFF_VNET_HDR lets fibd do the same: consecutive segments of one flow in
// a batch are merged into one super-packet, written once with a GSO
// virtio_net_hdr, and the host's TCP takes it as one skb. It follows the
// kernel's GRO rules (tcp_gro_receive): same flow, contiguous sequence
// numbers, identical IP fields that matter, identical TCP options, ACK and
// window, only ACK (and PSH on the last segment) set, every segment but the
// last of the same size, and 64 KiB at most. Each merged segment's checksum
// is verified first: the host trusts the super-packet's (NEEDS_CSUM).

// maxGROItems bounds the flows open at once in one batch; more flush.
const maxGROItems = 8

// maxGROLen is the largest super-packet: the IP length fields' limit.
const maxGROLen = 65535

type flowKey struct {
	src, dst   [16]byte
	sport, dpt uint16
	v6         bool
}

// groItem is one super-packet being built in buf[VnetHdrLen:].
type groItem struct {
	key       flowKey
	buf       []byte // VnetHdrLen + maxGROLen capacity
	n         int    // IP packet length so far
	iph, tcph int
	gso       int    // payload size of the first segment
	nextSeq   uint32 // sequence number the next segment must start at
	segs      int
	closed    bool // PSH seen, or a short segment: nothing may follow
}

func (it *groItem) pkt() []byte { return it.buf[packet.VnetHdrLen : packet.VnetHdrLen+it.n] }

// coalescer merges a batch's TCP segments and hands every packet, merged
// or not and in flow order, to write with its virtio_net_hdr in front.
type coalescer struct {
	items [maxGROItems]groItem
	open  int
	// write writes one packet behind its virtio_net_hdr (writev).
	write func(hdr, pkt []byte) error
	zero  [packet.VnetHdrLen]byte
	// merged counts super-packets written and mergedSegs the segments in
	// them; single the packets written as they came.
	merged, mergedSegs, single atomic.Uint64
}

func newCoalescer(write func(hdr, pkt []byte) error) *coalescer {
	c := &coalescer{write: write}
	for i := range c.items {
		c.items[i].buf = make([]byte, packet.VnetHdrLen+maxGROLen)
	}
	return c
}

// candidate is what a packet that may be merged looks like.
type candidate struct {
	key       flowKey
	iph, tcph int
	seq       uint32
	payload   int
	psh       bool
}

// tcpCandidate reports whether pkt is a TCP segment GRO may merge: no IP
// options or extension headers, not a fragment, only ACK or ACK|PSH, with
// payload, lengths consistent.
func tcpCandidate(pkt []byte) (candidate, bool) {
	var c candidate
	if len(pkt) < 40 {
		return c, false
	}
	switch pkt[0] >> 4 {
	case 4:
		if pkt[0]&0x0f != 5 || pkt[9] != packet.ProtoTCP || int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) ||
			binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 { // MF or an offset
			return c, false
		}
		c.iph = 20
		copy(c.key.src[:], pkt[12:16])
		copy(c.key.dst[:], pkt[16:20])
	case 6:
		if len(pkt) < 60 || pkt[6] != packet.ProtoTCP || int(binary.BigEndian.Uint16(pkt[4:]))+40 != len(pkt) {
			return c, false
		}
		c.iph, c.key.v6 = 40, true
		copy(c.key.src[:], pkt[8:24])
		copy(c.key.dst[:], pkt[24:40])
	default:
		return c, false
	}
	t := pkt[c.iph:]
	c.tcph = int(t[12]>>4) * 4
	if c.tcph < 20 || c.tcph > len(t) {
		return c, false
	}
	const ack, psh = 0x10, 0x08
	switch t[13] {
	case ack:
	case ack | psh:
		c.psh = true
	default:
		return c, false
	}
	c.payload = len(t) - c.tcph
	if c.payload == 0 {
		return c, false
	}
	c.key.sport, c.key.dpt = binary.BigEndian.Uint16(t[0:]), binary.BigEndian.Uint16(t[2:])
	c.seq = binary.BigEndian.Uint32(t[4:])
	return c, true
}

// writeBatch writes pkts, merging what it can, and returns how many of
// them reached the host.
func (c *coalescer) writeBatch(pkts [][]byte) (int, error) {
	done := 0
	var first error
	note := func(n int, err error) {
		if err != nil {
			if first == nil {
				first = err
			}
			return
		}
		done += n
	}
	for _, p := range pkts {
		cand, ok := tcpCandidate(p)
		if !ok {
			// Anything else of any flow goes after what is open, so no
			// flow's order changes.
			note(c.flushAll())
			note(1, c.writeAlone(p))
			continue
		}
		if it := c.find(cand.key); it != nil {
			if c.append(it, p, cand) {
				continue
			}
			note(c.flush(it))
		}
		if c.open == maxGROItems {
			note(c.flushAll())
		}
		c.start(p, cand)
	}
	note(c.flushAll())
	return done, first
}

func (c *coalescer) find(k flowKey) *groItem {
	for i := range c.open {
		if c.items[i].key == k {
			return &c.items[i]
		}
	}
	return nil
}

func (c *coalescer) start(p []byte, cand candidate) {
	it := &c.items[c.open]
	c.open++
	it.key, it.iph, it.tcph, it.gso, it.segs = cand.key, cand.iph, cand.tcph, cand.payload, 1
	it.n = copy(it.buf[packet.VnetHdrLen:], p)
	it.nextSeq = cand.seq + uint32(cand.payload)
	it.closed = cand.psh
}

// append merges segment p into it when the GRO rules allow.
func (c *coalescer) append(it *groItem, p []byte, cand candidate) bool {
	head := it.pkt()
	switch {
	case it.closed, cand.seq != it.nextSeq, cand.tcph != it.tcph, cand.payload > it.gso,
		it.n+cand.payload > maxGROLen:
		return false
	case !ipFieldsMatch(head, p):
		return false
	}
	ht, pt := head[it.iph:], p[cand.iph:]
	// ACK number and window, then the options, must be the same.
	if !bytes.Equal(ht[8:12], pt[8:12]) || !bytes.Equal(ht[14:16], pt[14:16]) ||
		!bytes.Equal(ht[20:it.tcph], pt[20:cand.tcph]) {
		return false
	}
	if it.segs == 1 && !tcpChecksumOK(head, it.iph) {
		return false
	}
	if !tcpChecksumOK(p, cand.iph) {
		return false
	}
	copy(it.buf[packet.VnetHdrLen+it.n:], pt[cand.tcph:])
	it.n += cand.payload
	it.segs++
	it.nextSeq += uint32(cand.payload)
	if cand.psh {
		ht[13] |= 0x08
	}
	it.closed = cand.psh || cand.payload < it.gso
	return true
}

// ipFieldsMatch compares what GRO requires equal: IPv4 TOS, TTL and
// flags; IPv6 traffic class, flow label and hop limit.
func ipFieldsMatch(a, b []byte) bool {
	if a[0]>>4 == 4 {
		return a[1] == b[1] && a[8] == b[8] && a[6]&0xe0 == b[6]&0xe0
	}
	return bytes.Equal(a[:4], b[:4]) && a[7] == b[7]
}

func pseudoSum(pkt []byte, iph, l4len int) uint64 {
	if iph == 20 {
		return packet.PseudoHeaderSum(netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20])), packet.ProtoTCP, l4len)
	}
	return packet.PseudoHeaderSum(netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40])), packet.ProtoTCP, l4len)
}

func tcpChecksumOK(pkt []byte, iph int) bool {
	l4 := pkt[iph:]
	return packet.Fold(packet.Sum(pseudoSum(pkt, iph, len(l4)), l4)) == 0xffff
}

// flush writes it: alone when nothing joined it, else as a GSO
// super-packet whose transport checksum the host completes.
func (c *coalescer) flush(it *groItem) (int, error) {
	defer c.remove(it)
	p := it.pkt()
	h := packet.VnetHdr{}
	if it.segs > 1 {
		h = packet.VnetHdr{Flags: packet.VnetFlagNeedsCsum, HdrLen: uint16(it.iph + it.tcph), GSOSize: uint16(it.gso),
			CsumStart: uint16(it.iph), CsumOffset: 16, GSOType: packet.VnetGSOTCPv4}
		if it.key.v6 {
			h.GSOType = packet.VnetGSOTCPv6
			binary.BigEndian.PutUint16(p[4:], uint16(it.n-40))
		} else {
			binary.BigEndian.PutUint16(p[2:], uint16(it.n))
			p[10], p[11] = 0, 0
			binary.BigEndian.PutUint16(p[10:], packet.Checksum(p[:20]))
		}
		// CHECKSUM_PARTIAL: the field holds the pseudo-header sum.
		binary.BigEndian.PutUint16(p[it.iph+16:], packet.Fold(pseudoSum(p, it.iph, it.n-it.iph)))
	}
	h.Put(it.buf)
	if it.segs > 1 {
		c.merged.Add(1)
		c.mergedSegs.Add(uint64(it.segs))
	} else {
		c.single.Add(1)
	}
	return it.segs, c.write(it.buf[:packet.VnetHdrLen], p)
}

func (c *coalescer) flushAll() (int, error) {
	n := 0
	var first error
	for c.open > 0 {
		k, err := c.flush(&c.items[0])
		if err != nil && first == nil {
			first = err
		} else if err == nil {
			n += k
		}
	}
	return n, first
}

// remove closes it, keeping items[:open] the open ones (order does not
// matter: each flow has one).
func (c *coalescer) remove(it *groItem) {
	i := 0
	for &c.items[i] != it {
		i++
	}
	last := c.open - 1
	c.items[i], c.items[last] = c.items[last], c.items[i]
	c.open--
}

// writeAlone writes one packet with an empty virtio_net_hdr.
func (c *coalescer) writeAlone(p []byte) error {
	c.single.Add(1)
	return c.write(c.zero[:], p)
}
