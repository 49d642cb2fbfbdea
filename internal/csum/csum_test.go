package csum

import (
	"math/rand/v2"
	"testing"
)

// slowSum is RFC 1071's reference loop over 16-bit words.
func slowSum(b []byte) uint16 {
	var acc uint32
	for i := 0; i+1 < len(b); i += 2 {
		acc += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		acc += uint32(b[len(b)-1]) << 8
	}
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

func TestSumMatchesRFC1071Loop(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if n%7 == 0 {
			for i := range b {
				b[i] = 0xff // carries in every word
			}
		}
		if got, want := Fold(Sum(b, 0)), slowSum(b); got != want {
			t.Fatalf("len %d: Fold(Sum) = %#04x, want %#04x", n, got, want)
		}
	}
}

func TestChecksumOfIPv4HeaderVerifiesToZero(t *testing.T) {
	// A header from RFC 1071-style worked examples: with its checksum
	// field filled in, the checksum over the whole header is zero.
	h := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
		0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	c := Checksum(h, 0)
	if c != 0xb861 {
		t.Fatalf("checksum = %#04x, want 0xb861", c)
	}
	h[10], h[11] = byte(c>>8), byte(c)
	if v := Checksum(h, 0); v != 0 {
		t.Fatalf("verify = %#04x, want 0", v)
	}
}

func TestSumAllocs(t *testing.T) {
	b := make([]byte, 1500)
	if a := testing.AllocsPerRun(100, func() { _ = Checksum(b, 0) }); a != 0 {
		t.Fatalf("allocs = %v", a)
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := make([]byte, 1500)
	b.SetBytes(1500)
	for b.Loop() {
		_ = Checksum(buf, 0)
	}
}

func FuzzSum(f *testing.F) {
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Fold(Sum(b, 0)), slowSum(b); got != want {
			t.Fatalf("Fold(Sum) = %#04x, want %#04x", got, want)
		}
	})
}
