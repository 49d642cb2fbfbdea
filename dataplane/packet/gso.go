package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// VnetHdrLen is sizeof(struct virtio_net_hdr), the header PACKET_VNET_HDR
// and a TUN with IFF_VNET_HDR put in front of every packet.
const VnetHdrLen = 10

// virtio_net_hdr flags and GSO types (linux/virtio_net.h).
const (
	VnetFlagNeedsCsum = 1
	VnetGSONone       = 0
	VnetGSOTCPv4      = 1
	VnetGSOUDP        = 3 // UFO: IP fragmentation offload, never produced for forwarding
	VnetGSOTCPv6      = 4
	VnetGSOUDPL4      = 5
	VnetGSOECN        = 0x80
)

// VnetHdr is struct virtio_net_hdr. AF_PACKET and TUN use the legacy
// (native-endian) layout.
type VnetHdr struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16
	GSOSize    uint16
	CsumStart  uint16
	CsumOffset uint16
}

// ParseVnetHdr reads a virtio_net_hdr from b (VnetHdrLen bytes at least).
func ParseVnetHdr(b []byte) VnetHdr {
	_ = b[VnetHdrLen-1]
	return VnetHdr{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     binary.NativeEndian.Uint16(b[2:]),
		GSOSize:    binary.NativeEndian.Uint16(b[4:]),
		CsumStart:  binary.NativeEndian.Uint16(b[6:]),
		CsumOffset: binary.NativeEndian.Uint16(b[8:]),
	}
}

// Put writes h into b (VnetHdrLen bytes at least).
func (h VnetHdr) Put(b []byte) {
	_ = b[VnetHdrLen-1]
	b[0], b[1] = h.Flags, h.GSOType
	binary.NativeEndian.PutUint16(b[2:], h.HdrLen)
	binary.NativeEndian.PutUint16(b[4:], h.GSOSize)
	binary.NativeEndian.PutUint16(b[6:], h.CsumStart)
	binary.NativeEndian.PutUint16(b[8:], h.CsumOffset)
}

// Segmentation errors: the packet I/O counts them and drops the
// super-frame, as a NIC drops a bad frame.
var (
	ErrGSOType   = errors.New("packet: unsupported GSO type")
	ErrGSOHeader = errors.New("packet: malformed headers in GSO frame")
	ErrGSOBuffer = errors.New("packet: GSO segment does not fit the buffer")
)

// Segmenter cuts one GSO super-frame (a TCP or UDP super-packet that TSO,
// GSO, USO or GRO left unsegmented) back into the frames that would have
// been on the wire: headers copied, lengths, IPv4 ID, TCP sequence number
// and flags adjusted, every checksum computed in full. It is what the
// kernel's skb_segment does on egress; fibd does it on ingress because its
// buffers hold MaxFrame bytes and a router must see wire-sized packets.
//
// Segment i carries payload bytes [i·mss, (i+1)·mss). The zero value is
// done; init arms it. It holds a view into the ring, so it must be finished
// or reset before the ring block is returned to the kernel.
type Segmenter struct {
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

func (s *Segmenter) Done() bool { return s.pkt == nil || s.next >= len(s.pkt) }

func (s *Segmenter) Reset() { *s = Segmenter{} }

// Init validates a super-frame whose IP header starts at l3 and arms s.
func (s *Segmenter) Init(pkt []byte, l3 int, h VnetHdr) error {
	*s = Segmenter{}
	gt := h.GSOType &^ VnetGSOECN
	switch gt {
	case VnetGSOTCPv4, VnetGSOTCPv6, VnetGSOUDPL4:
	default:
		return ErrGSOType
	}
	if h.GSOSize == 0 || l3 < 0 || l3+20 > len(pkt) {
		return ErrGSOHeader
	}
	ver := pkt[l3] >> 4
	var l4, end int
	var proto uint8
	switch {
	case ver == 4 && gt != VnetGSOTCPv6:
		ihl := int(pkt[l3]&0x0f) * 4
		if ihl < 20 || l3+ihl > len(pkt) {
			return ErrGSOHeader
		}
		proto, l4 = pkt[l3+9], l3+ihl
		end = len(pkt)
		// BIG TCP leaves tot_len 0; otherwise it bounds the packet
		// (trailing bytes would be link-layer padding).
		if tl := int(binary.BigEndian.Uint16(pkt[l3+2:])); tl != 0 && l3+tl < end {
			end = l3 + tl
		}
		s.ipID = binary.BigEndian.Uint16(pkt[l3+4:])
	case ver == 6 && gt != VnetGSOTCPv4:
		if l3+40 > len(pkt) {
			return ErrGSOHeader
		}
		proto, l4, s.v6 = pkt[l3+6], l3+40, true
		end = len(pkt)
		if pl := int(binary.BigEndian.Uint16(pkt[l3+4:])); pl != 0 && l3+40+pl < end {
			end = l3 + 40 + pl
		}
	default:
		return ErrGSOHeader
	}
	// With extension headers (IPv6) or options the kernel's csum_start is
	// the authority on where the transport header begins.
	if h.Flags&VnetFlagNeedsCsum != 0 && int(h.CsumStart) > l4 {
		l4 = int(h.CsumStart)
		if gt == VnetGSOUDPL4 {
			proto = ProtoUDP
		} else {
			proto = ProtoTCP
		}
	}
	switch {
	case gt == VnetGSOUDPL4 && proto == ProtoUDP:
		s.udp = true
		s.payload = l4 + 8
	case gt != VnetGSOUDPL4 && proto == ProtoTCP:
		if l4+20 > end {
			return ErrGSOHeader
		}
		doff := int(pkt[l4+12]>>4) * 4
		if doff < 20 {
			return ErrGSOHeader
		}
		s.payload = l4 + doff
		s.seq = binary.BigEndian.Uint32(pkt[l4+4:])
	default:
		return ErrGSOHeader
	}
	if s.payload > end {
		return ErrGSOHeader
	}
	s.pkt, s.l3, s.l4, s.mss = pkt[:end], l3, l4, int(h.GSOSize)
	s.next = s.payload
	if s.payload == end {
		// No payload at all: forward the headers as one frame.
		s.next = s.payload - 1
		s.mss = 1
	}
	return nil
}

// Segment writes the next wire frame into dst and returns its length.
func (s *Segmenter) Segment(dst []byte) (int, error) {
	start := max(s.next, s.payload)
	stop := min(start+s.mss, len(s.pkt))
	n := s.payload + (stop - start)
	if n > len(dst) {
		return 0, ErrGSOBuffer
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
		binary.BigEndian.PutUint16(ip[10:], Checksum(ip[:ihl]))
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
		c := ^Fold(Sum(pseudo, l4))
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
		binary.BigEndian.PutUint16(l4[16:], ^Fold(Sum(pseudo, l4)))
	}
	s.next = stop
	s.idx++
	return n, nil
}

func (s *Segmenter) proto() uint8 {
	if s.udp {
		return ProtoUDP
	}
	return ProtoTCP
}

// pseudo4 and pseudo6 are the transport pseudo-header sums over addresses
// still in the frame.
func pseudo4(src, dst []byte, proto uint8, n int) uint64 {
	return PseudoHeaderSum(netip.AddrFrom4([4]byte(src)), netip.AddrFrom4([4]byte(dst)), proto, n)
}

func pseudo6(src, dst []byte, proto uint8, n int) uint64 {
	return PseudoHeaderSum(netip.AddrFrom16([16]byte(src)), netip.AddrFrom16([16]byte(dst)), proto, n)
}
