package afpacket

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/fibd/fibd/dataplane/packet"
)

// superFrame builds an Ethernet + IPv4/IPv6 + TCP/UDP super-frame carrying
// payload, as the kernel hands it to AF_PACKET: lengths for the whole
// super-packet and a partial (pseudo-header only) transport checksum.
func superFrame(v6, udp bool, payload []byte) ([]byte, vnetHdr) {
	f := make([]byte, 14, 14+60+len(payload))
	if v6 {
		binary.BigEndian.PutUint16(f[12:], 0x86dd)
	} else {
		binary.BigEndian.PutUint16(f[12:], 0x0800)
	}
	l4len := 20
	proto := uint8(protoTCP)
	if udp {
		l4len, proto = 8, protoUDP
	}
	var ip []byte
	if v6 {
		ip = make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(l4len+len(payload)))
		ip[6], ip[7] = proto, 64
		copy(ip[8:], []byte{0x20, 0x01, 0x0d, 0xb8, 15: 1})
		copy(ip[24:], []byte{0x20, 0x01, 0x0d, 0xb8, 15: 2})
	} else {
		ip = make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+l4len+len(payload)))
		binary.BigEndian.PutUint16(ip[4:], 0x1000)
		ip[8], ip[9] = 64, proto
		copy(ip[12:], []byte{192, 0, 2, 1})
		copy(ip[16:], []byte{198, 51, 100, 1})
		binary.BigEndian.PutUint16(ip[10:], packet.Checksum(ip))
	}
	f = append(f, ip...)
	l4 := make([]byte, l4len)
	binary.BigEndian.PutUint16(l4[0:], 40000)
	binary.BigEndian.PutUint16(l4[2:], 5001)
	h := vnetHdr{flags: vnetFlagNeedsCsum, csumStart: uint16(len(f))}
	if udp {
		binary.BigEndian.PutUint16(l4[4:], uint16(8+len(payload)))
		h.gsoType, h.csumOffset = vnetGSOUDPL4, 6
	} else {
		binary.BigEndian.PutUint32(l4[4:], 0xfffff000) // wraps during the transfer
		l4[12] = 5 << 4
		l4[13] = 0x80 | 0x08 | 0x01 | 0x10 // CWR PSH FIN ACK
		h.gsoType, h.csumOffset = vnetGSOTCPv4, 16
		if v6 {
			h.gsoType = vnetGSOTCPv6
		}
	}
	f = append(f, l4...)
	f = append(f, payload...)
	h.hdrLen = uint16(14 + len(ip) + l4len)
	return f, h
}

func verifyL4(t *testing.T, seg []byte, v6, udp bool) {
	t.Helper()
	ip := seg[14:]
	var pseudo uint64
	var l4 []byte
	proto := uint8(protoTCP)
	if udp {
		proto = protoUDP
	}
	if v6 {
		l4 = ip[40:]
		pseudo = pseudo6(ip[8:24], ip[24:40], proto, len(l4))
		if int(binary.BigEndian.Uint16(ip[4:])) != len(l4) {
			t.Fatalf("IPv6 payload length %d, want %d", binary.BigEndian.Uint16(ip[4:]), len(l4))
		}
	} else {
		l4 = ip[20:]
		pseudo = pseudo4(ip[12:16], ip[16:20], proto, len(l4))
		if packet.Checksum(ip[:20]) != 0 {
			t.Fatal("IPv4 header checksum does not verify")
		}
		if int(binary.BigEndian.Uint16(ip[2:])) != len(ip) {
			t.Fatalf("IPv4 total length %d, want %d", binary.BigEndian.Uint16(ip[2:]), len(ip))
		}
	}
	if ^packet.Fold(packet.Sum(pseudo, l4)) != 0 {
		t.Fatal("transport checksum does not verify")
	}
}

func TestSegmenterRebuildsWireSegments(t *testing.T) {
	payload := make([]byte, 5000)
	for i := range payload {
		payload[i] = byte(i * 13)
	}
	const mss = 1448
	for _, tc := range []struct {
		name    string
		v6, udp bool
	}{{"tcp4", false, false}, {"tcp6", true, false}, {"udp4", false, true}, {"udp6", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			f, h := superFrame(tc.v6, tc.udp, payload)
			h.gsoSize = mss
			var s segmenter
			if err := s.init(f, 14, h); err != nil {
				t.Fatal(err)
			}
			hdr := int(h.hdrLen)
			var joined []byte
			dst := make([]byte, 2048)
			for i := 0; !s.done(); i++ {
				n, err := s.segment(dst)
				if err != nil {
					t.Fatal(err)
				}
				seg := dst[:n]
				want := min(mss, len(payload)-i*mss)
				if n != hdr+want {
					t.Fatalf("segment %d: %d bytes, want %d", i, n, hdr+want)
				}
				verifyL4(t, seg, tc.v6, tc.udp)
				last := (i+1)*mss >= len(payload)
				if !tc.udp {
					tcp := seg[hdr-20:]
					if got, want := binary.BigEndian.Uint32(tcp[4:]), 0xfffff000+uint32(i*mss); got != want {
						t.Fatalf("segment %d: seq %#x, want %#x", i, got, want)
					}
					fl := tcp[13]
					if (fl&0x01 != 0) != last || (fl&0x08 != 0) != last {
						t.Fatalf("segment %d: FIN/PSH %#x on a non-last segment or missing on the last", i, fl)
					}
					if (fl&0x80 != 0) != (i == 0) {
						t.Fatalf("segment %d: CWR %#x must be on the first segment only", i, fl)
					}
				}
				if !tc.v6 {
					if id := binary.BigEndian.Uint16(seg[18:]); id != 0x1000+uint16(i) {
						t.Fatalf("segment %d: IPv4 ID %#x", i, id)
					}
				}
				joined = append(joined, seg[hdr:]...)
			}
			if !bytes.Equal(joined, payload) {
				t.Fatal("segments do not reassemble to the payload")
			}
		})
	}
}

func TestSegmenterRejectsBadInput(t *testing.T) {
	f, h := superFrame(false, false, make([]byte, 3000))
	h.gsoSize = 1000
	var s segmenter
	for name, mut := range map[string]func(f []byte, h *vnetHdr) int{
		"UFO":              func(f []byte, h *vnetHdr) int { h.gsoType = vnetGSOUDP; return 14 },
		"zero gso_size":    func(f []byte, h *vnetHdr) int { h.gsoSize = 0; return 14 },
		"v6 type, v4 pkt":  func(f []byte, h *vnetHdr) int { h.gsoType = vnetGSOTCPv6; return 14 },
		"l3 past end":      func(f []byte, h *vnetHdr) int { return len(f) },
		"bad ihl":          func(f []byte, h *vnetHdr) int { f[14] = 0x43; return 14 },
		"udp type tcp pkt": func(f []byte, h *vnetHdr) int { h.gsoType = vnetGSOUDPL4; h.flags = 0; return 14 },
		"tcp doff < 5":     func(f []byte, h *vnetHdr) int { f[14+20+12] = 0x40; return 14 },
	} {
		g, hh := append([]byte{}, f...), h
		l3 := mut(g, &hh)
		if err := s.init(g, l3, hh); err == nil {
			t.Errorf("%s: init accepted it", name)
		}
	}
	// A segment that does not fit the caller's buffer is an error, not a
	// silent cut.
	if err := s.init(f, 14, h); err != nil {
		t.Fatal(err)
	}
	if _, err := s.segment(make([]byte, 500)); err == nil {
		t.Error("segment into a short buffer succeeded")
	}
}

func TestSegmenterDoesNotAllocate(t *testing.T) {
	f, h := superFrame(false, false, make([]byte, 60000))
	h.gsoSize = 1448
	dst := make([]byte, 2048)
	var s segmenter
	if a := testing.AllocsPerRun(20, func() {
		_ = s.init(f, 14, h)
		for !s.done() {
			_, _ = s.segment(dst)
		}
	}); a != 0 {
		t.Fatalf("%v allocations per super-frame", a)
	}
}

// FuzzSegmenter: any bytes, offsets and header values either fail init or
// yield segments that fit the buffer, terminate, and carry valid IPv4
// header checksums.
func FuzzSegmenter(f *testing.F) {
	for _, v6 := range []bool{false, true} {
		for _, udp := range []bool{false, true} {
			pkt, h := superFrame(v6, udp, make([]byte, 3000))
			f.Add(pkt, 14, h.gsoType, uint16(1000), h.csumStart, h.flags)
		}
	}
	f.Fuzz(func(t *testing.T, pkt []byte, l3 int, gsoType uint8, gsoSize, csumStart uint16, flags uint8) {
		h := vnetHdr{flags: flags, gsoType: gsoType, gsoSize: gsoSize, csumStart: csumStart}
		var s segmenter
		if s.init(pkt, l3, h) != nil {
			return
		}
		dst := make([]byte, 2048)
		for i := 0; !s.done(); i++ {
			if i > len(pkt)+1 {
				t.Fatal("segmenter does not terminate")
			}
			n, err := s.segment(dst)
			if err != nil {
				return
			}
			if n > len(dst) {
				t.Fatalf("segment of %d bytes in a %d-byte buffer", n, len(dst))
			}
			if !s.v6 {
				ihl := int(dst[s.l3]&0x0f) * 4
				if packet.Checksum(dst[s.l3:s.l3+ihl]) != 0 {
					t.Fatal("IPv4 header checksum does not verify")
				}
			}
		}
	})
}
