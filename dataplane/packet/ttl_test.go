package packet

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// randomIPv4Header returns a random IPv4 header (with random options bytes)
// carrying a valid checksum and the given TTL.
func randomIPv4Header(r *rand.Rand, ttl uint8) []byte {
	hl := 20 + 4*r.IntN(11)
	h := make([]byte, hl)
	for i := range h {
		h[i] = byte(r.Uint32())
	}
	h[0] = 0x40 | byte(hl/4)
	h[8] = ttl
	fixIPv4Checksum(h, 0)
	return h
}

func decTTL4(h []byte) Reason {
	p := Parsed{Family: IPv4, TTL: h[8]}
	return DecTTL(h, &p)
}

// TestDecTTLIncrementalEqualsFull checks RFC 1624 eqn. 3 against a full
// recomputation on random headers, including the headers whose new checksum
// is 0x0000 — the case where eqn. 2 of RFC 1141 went wrong.
func TestDecTTLIncrementalEqualsFull(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(h []byte) {
		t.Helper()
		orig := append([]byte(nil), h...)
		if got := decTTL4(h); got != OK {
			t.Fatalf("DecTTL = %v", got)
		}
		want := append([]byte(nil), orig...)
		want[8]--
		fixIPv4Checksum(want, 0)
		if string(h) != string(want) {
			t.Fatalf("header %x: incremental checksum %#04x, full %#04x",
				orig, binary.BigEndian.Uint16(h[10:]), binary.BigEndian.Uint16(want[10:]))
		}
		if Checksum(h) != 0 {
			t.Fatalf("header %x does not verify after DecTTL", h)
		}
	}
	for range 200000 {
		check(randomIPv4Header(r, uint8(2+r.IntN(254))))
	}
	// Steer the identification so the decremented header's checksum is
	// 0x0000 (and, separately, 0xffff before the decrement).
	zeros := 0
	for range 20 {
		h := randomIPv4Header(r, uint8(2+r.IntN(254)))
		for id := 0; id < 1<<16; id++ {
			binary.BigEndian.PutUint16(h[4:], uint16(id))
			h[8]--
			fixIPv4Checksum(h, 0)
			zero := h[10] == 0 && h[11] == 0
			h[8]++
			fixIPv4Checksum(h, 0)
			if zero {
				zeros++
				check(h)
				break
			}
		}
	}
	if zeros == 0 {
		t.Fatal("never produced a zero checksum")
	}
}

func TestDecTTLExpires(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, ttl := range []uint8{0, 1} {
		h := randomIPv4Header(r, ttl)
		orig := string(h)
		if got := decTTL4(h); got != TTLExceeded {
			t.Errorf("TTL %d: DecTTL = %v, want %v", ttl, got, TTLExceeded)
		}
		if string(h) != orig {
			t.Errorf("TTL %d: header changed", ttl)
		}
	}
}

func TestDecTTLFrame(t *testing.T) {
	for _, s := range []frameSpec{udp4(), udp6(), udp4().with(func(f *frameSpec) { f.tags = []tagSpec{{0x8100, 9, 0}} })} {
		s.ttl = 2
		b := s.build(t)
		p := mustParse(t, b)
		if r := DecTTL(b, p); r != OK || p.TTL != 1 {
			t.Fatalf("DecTTL = %v, TTL %d", r, p.TTL)
		}
		q := mustParse(t, b) // the IPv4 checksum still verifies
		if q.TTL != 1 {
			t.Errorf("TTL on the wire = %d", q.TTL)
		}
		want := TTLExceeded
		if s.v6 {
			want = HopLimitExceeded
		}
		if r := DecTTL(b, p); r != want || mustParse(t, b).TTL != 1 {
			t.Errorf("second DecTTL = %v", r)
		}
	}
	var p Parsed
	if r := DecTTL(ethHeader(EtherTypeARP, make([]byte, 46)...), &p); r != NotIP {
		t.Errorf("DecTTL(ARP) = %v", r)
	}
}
