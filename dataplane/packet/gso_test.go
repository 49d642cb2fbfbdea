package packet

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// superFrame builds an Ethernet + IPv4/IPv6 + TCP/UDP super-frame carrying
// payload, as the kernel hands it to AF_PACKET: lengths for the whole
// super-packet and a partial (pseudo-header only) transport checksum.
func superFrame(v6, udp bool, payload []byte) ([]byte, VnetHdr) {
	f := make([]byte, 14, 14+60+len(payload))
	if v6 {
		binary.BigEndian.PutUint16(f[12:], 0x86dd)
	} else {
		binary.BigEndian.PutUint16(f[12:], 0x0800)
	}
	l4len := 20
	proto := uint8(ProtoTCP)
	if udp {
		l4len, proto = 8, ProtoUDP
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
		binary.BigEndian.PutUint16(ip[10:], Checksum(ip))
	}
	f = append(f, ip...)
	l4 := make([]byte, l4len)
	binary.BigEndian.PutUint16(l4[0:], 40000)
	binary.BigEndian.PutUint16(l4[2:], 5001)
	h := VnetHdr{Flags: VnetFlagNeedsCsum, CsumStart: uint16(len(f))}
	if udp {
		binary.BigEndian.PutUint16(l4[4:], uint16(8+len(payload)))
		h.GSOType, h.CsumOffset = VnetGSOUDPL4, 6
	} else {
		binary.BigEndian.PutUint32(l4[4:], 0xfffff000) // wraps during the transfer
		l4[12] = 5 << 4
		l4[13] = 0x80 | 0x08 | 0x01 | 0x10 // CWR PSH FIN ACK
		h.GSOType, h.CsumOffset = VnetGSOTCPv4, 16
		if v6 {
			h.GSOType = VnetGSOTCPv6
		}
	}
	f = append(f, l4...)
	f = append(f, payload...)
	h.HdrLen = uint16(14 + len(ip) + l4len)
	return f, h
}

func verifyL4(t *testing.T, seg []byte, v6, udp bool) {
	t.Helper()
	ip := seg[14:]
	var pseudo uint64
	var l4 []byte
	proto := uint8(ProtoTCP)
	if udp {
		proto = ProtoUDP
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
		if Checksum(ip[:20]) != 0 {
			t.Fatal("IPv4 header checksum does not verify")
		}
		if int(binary.BigEndian.Uint16(ip[2:])) != len(ip) {
			t.Fatalf("IPv4 total length %d, want %d", binary.BigEndian.Uint16(ip[2:]), len(ip))
		}
	}
	if ^Fold(Sum(pseudo, l4)) != 0 {
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
			h.GSOSize = mss
			var s Segmenter
			if err := s.Init(f, 14, h); err != nil {
				t.Fatal(err)
			}
			hdr := int(h.HdrLen)
			var joined []byte
			dst := make([]byte, 2048)
			for i := 0; !s.Done(); i++ {
				n, err := s.Segment(dst)
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
	h.GSOSize = 1000
	var s Segmenter
	for name, mut := range map[string]func(f []byte, h *VnetHdr) int{
		"UFO":              func(f []byte, h *VnetHdr) int { h.GSOType = VnetGSOUDP; return 14 },
		"zero gso_size":    func(f []byte, h *VnetHdr) int { h.GSOSize = 0; return 14 },
		"v6 type, v4 pkt":  func(f []byte, h *VnetHdr) int { h.GSOType = VnetGSOTCPv6; return 14 },
		"l3 past end":      func(f []byte, h *VnetHdr) int { return len(f) },
		"bad ihl":          func(f []byte, h *VnetHdr) int { f[14] = 0x43; return 14 },
		"udp type tcp pkt": func(f []byte, h *VnetHdr) int { h.GSOType = VnetGSOUDPL4; h.Flags = 0; return 14 },
		"tcp doff < 5":     func(f []byte, h *VnetHdr) int { f[14+20+12] = 0x40; return 14 },
	} {
		g, hh := append([]byte{}, f...), h
		l3 := mut(g, &hh)
		if err := s.Init(g, l3, hh); err == nil {
			t.Errorf("%s: init accepted it", name)
		}
	}
	// A segment that does not fit the caller's buffer is an error, not a
	// silent cut.
	if err := s.Init(f, 14, h); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Segment(make([]byte, 500)); err == nil {
		t.Error("segment into a short buffer succeeded")
	}
}

func TestSegmenterDoesNotAllocate(t *testing.T) {
	f, h := superFrame(false, false, make([]byte, 60000))
	h.GSOSize = 1448
	dst := make([]byte, 2048)
	var s Segmenter
	if a := testing.AllocsPerRun(20, func() {
		_ = s.Init(f, 14, h)
		for !s.Done() {
			_, _ = s.Segment(dst)
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
			f.Add(pkt, 14, h.GSOType, uint16(1000), h.CsumStart, h.Flags)
		}
	}
	f.Fuzz(func(t *testing.T, pkt []byte, l3 int, gsoType uint8, gsoSize, csumStart uint16, flags uint8) {
		h := VnetHdr{Flags: flags, GSOType: gsoType, GSOSize: gsoSize, CsumStart: csumStart}
		var s Segmenter
		if s.Init(pkt, l3, h) != nil {
			return
		}
		dst := make([]byte, 2048)
		for i := 0; !s.Done(); i++ {
			if i > len(pkt)+1 {
				t.Fatal("Segmenter does not terminate")
			}
			n, err := s.Segment(dst)
			if err != nil {
				return
			}
			if n > len(dst) {
				t.Fatalf("segment of %d bytes in a %d-byte buffer", n, len(dst))
			}
			if !s.v6 {
				ihl := int(dst[s.l3]&0x0f) * 4
				if Checksum(dst[s.l3:s.l3+ihl]) != 0 {
					t.Fatal("IPv4 header checksum does not verify")
				}
			}
		}
	})
}
