package afpacket

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/fibd/fibd/dataplane/packet"
)

// vnetHdrLen is sizeof(struct virtio_net_hdr), the header PACKET_VNET_HDR
// puts in front of every received frame.
const vnetHdrLen = 10

// virtio_net_hdr flags and GSO types (linux/virtio_net.h).
const (
	vnetFlagNeedsCsum = 1
	vnetGSONone       = 0
	vnetGSOTCPv4      = 1
	vnetGSOUDP        = 3 // UFO: IP fragmentation offload, never produced for forwarding
	vnetGSOTCPv6      = 4
	vnetGSOUDPL4      = 5
	vnetGSOECN        = 0x80
)

// vnetHdr is struct virtio_net_hdr. AF_PACKET writes it in the legacy
// (native-endian) layout.
type vnetHdr struct {
	flags      uint8
	gsoType    uint8
	hdrLen     uint16
	gsoSize    uint16
	csumStart  uint16
	csumOffset uint16
}

func parseVnetHdr(b []byte) vnetHdr {
	_ = b[vnetHdrLen-1]
	return vnetHdr{
		flags:      b[0],
		gsoType:    b[1],
		hdrLen:     binary.NativeEndian.Uint16(b[2:]),
		gsoSize:    binary.NativeEndian.Uint16(b[4:]),
		csumStart:  binary.NativeEndian.Uint16(b[6:]),
		csumOffset: binary.NativeEndian.Uint16(b[8:]),
	}
}

// Segmentation errors; each is counted by the port, none is returned to the
// caller of ReadBatch (the super-frame is dropped, as a NIC drops a bad frame).
var (
	errGSOType   = errors.New("afpacket: unsupported GSO type")
	errGSOHeader = errors.New("afpacket: malformed headers in GSO frame")
	errGSOBuffer = errors.New("afpacket: GSO segment does not fit the buffer")
)

const (
	protoTCP = 6
	protoUDP = 17
)

// segmenter cuts one GSO super-frame (a TCP or UDP super-packet that TSO,
// GSO, USO or GRO left unsegmented) back into the frames that would have
// been on the wire: headers copied, lengths, IPv4 ID, TCP sequence number
// and flags adjusted, every checksum computed in full. It is what the
// kernel's skb_segment does on egress; fibd does it on ingress because its
// buffers hold MaxFrame bytes and a router must see wire-sized packets.
//
// Segment i carries payload bytes [i·mss, (i+1)·mss). The zero value is
// done; init arms it. It holds a view into the ring, so it must be finished
// or reset before the ring block is returned to the kernel.
type segmenter struct {
	pkt     []byte // the super-frame, up to the end of its IP packet
	l3, l4  int    // offsets of the IP and transport headers
	payload int    // offset of the transport payload
	mss     int
	v6, udp bool
	next    int // offset in pkt of the next segment's payload; == len(pkt) when done
	idx     int // index of the next segment
	seq     uint32
	ipID    uint16
}

func (s *segmenter) done() bool { return s.pkt == nil || s.next >= len(s.pkt) }

func (s *segmenter) reset() { *s = segmenter{} }

// init validates a super-frame whose IP header starts at l3 and arms s.
func (s *segmenter) init(pkt []byte, l3 int, h vnetHdr) error {
	*s = segmenter{}
	gt := h.gsoType &^ vnetGSOECN
	switch gt {
	case vnetGSOTCPv4, vnetGSOTCPv6, vnetGSOUDPL4:
	default:
		return errGSOType
	}
	if h.gsoSize == 0 || l3 < 0 || l3+20 > len(pkt) {
		return errGSOHeader
	}
	ver := pkt[l3] >> 4
	var l4, end int
	var proto uint8
	switch {
	case ver == 4 && gt != vnetGSOTCPv6:
		ihl := int(pkt[l3]&0x0f) * 4
		if ihl < 20 || l3+ihl > len(pkt) {
			return errGSOHeader
		}
		proto, l4 = pkt[l3+9], l3+ihl
		end = len(pkt)
		// BIG TCP leaves tot_len 0; otherwise it bounds the packet
		// (trailing bytes would be link-layer padding).
		if tl := int(binary.BigEndian.Uint16(pkt[l3+2:])); tl != 0 && l3+tl < end {
			end = l3 + tl
		}
		s.ipID = binary.BigEndian.Uint16(pkt[l3+4:])
	case ver == 6 && gt != vnetGSOTCPv4:
		if l3+40 > len(pkt) {
			return errGSOHeader
		}
		proto, l4, s.v6 = pkt[l3+6], l3+40, true
		end = len(pkt)
		if pl := int(binary.BigEndian.Uint16(pkt[l3+4:])); pl != 0 && l3+40+pl < end {
			end = l3 + 40 + pl
		}
	default:
		return errGSOHeader
	}
	// With extension headers (IPv6) or options the kernel's csum_start is
	// the authority on where the transport header begins.
	if h.flags&vnetFlagNeedsCsum != 0 && int(h.csumStart) > l4 {
		l4 = int(h.csumStart)
		if gt == vnetGSOUDPL4 {
			proto = protoUDP
		} else {
			proto = protoTCP
		}
	}
	switch {
	case gt == vnetGSOUDPL4 && proto == protoUDP:
		s.udp = true
		s.payload = l4 + 8
	case gt != vnetGSOUDPL4 && proto == protoTCP:
		if l4+20 > end {
			return errGSOHeader
		}
		doff := int(pkt[l4+12]>>4) * 4
		if doff < 20 {
			return errGSOHeader
		}
		s.payload = l4 + doff
		s.seq = binary.BigEndian.Uint32(pkt[l4+4:])
	default:
		return errGSOHeader
	}
	if s.payload > end {
		return errGSOHeader
	}
	s.pkt, s.l3, s.l4, s.mss = pkt[:end], l3, l4, int(h.gsoSize)
	s.next = s.payload
	if s.payload == end {
		// No payload at all: forward the headers as one frame.
		s.next = s.payload - 1
		s.mss = 1
	}
	return nil
}

// segment writes the next wire frame into dst and returns its length.
func (s *segmenter) segment(dst []byte) (int, error) {
	start := max(s.next, s.payload)
	stop := min(start+s.mss, len(s.pkt))
	n := s.payload + (stop - start)
	if n > len(dst) {
		return 0, errGSOBuffer
	}
	copy(dst, s.pkt[:s.payload])
	copy(dst[s.payload:n], s.pkt[start:stop])
	first, last := s.idx == 0, stop == len(s.pkt)
	ip := dst[s.l3:n]
	if s.v6 {
		binary.BigEndian.PutUint16(ip[4:], uint16(n-s.l3-40))
	} else {
		ihl := int(ip[0]&0x0f) * 4
		binary.BigEndian.PutUint16(ip[2:], uint16(n-s.l3))
		binary.BigEndian.PutUint16(ip[4:], s.ipID+uint16(s.idx))
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], packet.Checksum(ip[:ihl]))
	}
	l4 := dst[s.l4:n]
	var pseudo uint64
	if s.v6 {
		pseudo = pseudo6(ip[8:24], ip[24:40], s.proto(), len(l4))
	} else {
		pseudo = pseudo4(ip[12:16], ip[16:20], s.proto(), len(l4))
	}
	if s.udp {
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
		l4[6], l4[7] = 0, 0
		c := ^packet.Fold(packet.Sum(pseudo, l4))
		if c == 0 {
			c = 0xffff // RFC 768: a computed zero is sent as all ones
		}
		binary.BigEndian.PutUint16(l4[6:], c)
	} else {
		binary.BigEndian.PutUint32(l4[4:], s.seq+uint32(start-s.payload))
		const fin, psh, cwr = 0x01, 0x08, 0x80
		if !last {
			l4[13] &^= fin | psh
		}
		if !first {
			l4[13] &^= cwr
		}
		l4[16], l4[17] = 0, 0
		binary.BigEndian.PutUint16(l4[16:], ^packet.Fold(packet.Sum(pseudo, l4)))
	}
	s.next = stop
	s.idx++
	return n, nil
}

func (s *segmenter) proto() uint8 {
	if s.udp {
		return protoUDP
	}
	return protoTCP
}

// pseudo4 and pseudo6 are the transport pseudo-header sums over addresses
// still in the frame.
func pseudo4(src, dst []byte, proto uint8, n int) uint64 {
	return packet.PseudoHeaderSum(netip.AddrFrom4([4]byte(src)), netip.AddrFrom4([4]byte(dst)), proto, n)
}

func pseudo6(src, dst []byte, proto uint8, n int) uint64 {
	return packet.PseudoHeaderSum(netip.AddrFrom16([16]byte(src)), netip.AddrFrom16([16]byte(dst)), proto, n)
}
