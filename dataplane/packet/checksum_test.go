package packet

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/google/gopacket/layers"
)

// refChecksum is RFC 1071's algorithm, 16 bits at a time.
func refChecksum(b []byte) uint16 {
	var s uint32
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func TestChecksumRFC1071Example(t *testing.T) {
	// RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
	if got := Checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}); got != ^uint16(0xddf2) {
		t.Errorf("Checksum = %#04x, want %#04x", got, ^uint16(0xddf2))
	}
}

func TestChecksumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if r.IntN(4) == 0 { // saturate to exercise carries
			for i := range b {
				b[i] = 0xff
			}
		}
		want := refChecksum(b)
		if got := Checksum(b); got != want {
			t.Fatalf("Checksum(%x) = %#04x, want %#04x", b, got, want)
		}
		// Summed in even-length pieces, then the odd rest.
		var acc uint64
		rest := b
		for len(rest) > 2 {
			n := 2 * (1 + r.IntN(len(rest)/2))
			if n > len(rest) {
				n = len(rest) &^ 1
			}
			acc = Sum(acc, rest[:n])
			rest = rest[n:]
		}
		if got := ^Fold(Sum(acc, rest)); got != want {
			t.Fatalf("piecewise Checksum(%x) = %#04x, want %#04x", b, got, want)
		}
	}
}

func TestUpdateChecksumEqualsFull(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 100000 {
		b := make([]byte, 2*(1+r.IntN(20)))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		w := 2 * r.IntN(len(b)/2)
		hc := refChecksum(b)
		old := binary.BigEndian.Uint16(b[w:])
		nw := uint16(r.Uint32())
		binary.BigEndian.PutUint16(b[w:], nw)
		full := refChecksum(b)
		if got := UpdateChecksum(hc, old, nw); got != full {
			t.Fatalf("UpdateChecksum(%#04x, %#04x, %#04x) = %#04x, full %#04x", hc, old, nw, got, full)
		}
	}
}

// partialChecksum turns a frame's correct L4 checksum into what the kernel
// hands over with CHECKSUM_PARTIAL: the folded pseudo-header sum.
func partialChecksum(b []byte, p *Parsed) {
	off, _, _ := l4ChecksumOffset(p)
	l4 := b[p.L4Off : p.L3Off+p.L3Len]
	binary.BigEndian.PutUint16(l4[off:], Fold(PseudoHeaderSum(p.Src, p.Dst, p.Proto, len(l4))))
}

func TestFillL4Checksum(t *testing.T) {
	specs := []frameSpec{
		udp4(), udp6(),
		{l4: "tcp", sport: 1, dport: 2, payload: []byte("odd")},
		{v6: true, l4: "tcp", sport: 1, dport: 2, payload: make([]byte, 1001)},
		{v6: true, l4: "icmp", payload: []byte("ping")},
		{v6: true, l4: "udp", sport: 9, dport: 9, ext: extHeader(layers.IPProtocolUDP, 1, 60), extNH: layers.IPProtocolIPv6Destination},
	}
	for _, s := range specs {
		b := s.build(t)
		want := string(b)
		p := mustParse(t, b)
		if !VerifyL4Checksum(b, p) {
			t.Fatalf("gopacket frame %x does not verify", b)
		}
		partialChecksum(b, p)
		if VerifyL4Checksum(b, p) {
			t.Fatalf("partial checksum verifies")
		}
		if r := FillL4Checksum(b, p); r != OK {
			t.Fatalf("FillL4Checksum = %v", r)
		}
		if string(b) != want {
			t.Errorf("FillL4Checksum gave %x, want %x", b, want)
		}
	}
}

// TestFillL4ChecksumUDPZero: a UDP checksum that computes to 0 is sent as
// 0xffff, since 0 means "no checksum" (RFC 768).
func TestFillL4ChecksumUDPZero(t *testing.T) {
	s := udp4()
	for v := 0; v < 1<<16; v++ {
		s.payload = []byte{byte(v >> 8), byte(v)}
		b := s.build(t)
		p := mustParse(t, b)
		partialChecksum(b, p)
		FillL4Checksum(b, p)
		l4 := b[p.L4Off:]
		if l4[6] == 0xff && l4[7] == 0xff {
			if !VerifyL4Checksum(b, p) {
				t.Fatal("0xffff UDP checksum does not verify")
			}
			return
		}
		if l4[6] == 0 && l4[7] == 0 {
			t.Fatalf("UDP checksum 0 stored for payload %x", s.payload)
		}
	}
	t.Fatal("no payload summed to a zero checksum")
}

func TestFillL4ChecksumRejects(t *testing.T) {
	frag := mustParse(t, udp4().with(func(f *frameSpec) { f.fragOff = 1 }).build(t))
	cases := map[string]*Parsed{
		"fragment": frag,
		"gre":      mustParse(t, frameSpec{proto: layers.IPProtocolGRE, payload: make([]byte, 8)}.build(t)),
	}
	for name, p := range cases {
		if r := FillL4Checksum(make([]byte, 100), p); r != BadL4 {
			t.Errorf("%s: FillL4Checksum = %v", name, r)
		}
	}
	b := udp4().build(t)
	p := mustParse(t, b)
	p.L3Len = 20 + 7 // a UDP header cut short
	if r := FillL4Checksum(b, p); r != BadL4 {
		t.Errorf("short UDP: FillL4Checksum = %v", r)
	}
}

func TestVerifyL4Checksum(t *testing.T) {
	b := frameSpec{l4: "tcp", sport: 5, dport: 6, payload: []byte("data")}.build(t)
	p := mustParse(t, b)
	if !VerifyL4Checksum(b, p) {
		t.Fatal("valid TCP checksum rejected")
	}
	b[len(b)-1-(len(b)-p.L3Off-p.L3Len)] ^= 1
	if VerifyL4Checksum(b, p) {
		t.Fatal("corrupted TCP segment verifies")
	}
	u := udp4().build(t)
	p = mustParse(t, u)
	u[p.L4Off+6], u[p.L4Off+7] = 0, 0
	if !VerifyL4Checksum(u, p) {
		t.Error("UDP over IPv4 without checksum rejected")
	}
}
