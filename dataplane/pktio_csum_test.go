package dataplane

import (
	"encoding/binary"
	"testing"

	"github.com/fibd/fibd/internal/csum"
)

// partialUDP4 builds an Ethernet/IPv4/UDP frame whose checksum field holds
// only the folded pseudo-header sum, as a sender with transmit checksum
// offload leaves it, and returns it with the fully computed checksum.
func partialUDP4(payload []byte) ([]byte, RxMeta, uint16) {
	f := make([]byte, 14+20+8+len(payload))
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	copy(ip[12:], []byte{192, 0, 2, 1, 198, 51, 100, 7})
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], 1234)
	binary.BigEndian.PutUint16(udp[2:], 9)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(udp[8:], payload)
	pseudo := csum.PseudoV4(ip[12:16], ip[16:20], 17, len(udp))
	full := csum.Checksum(udp, pseudo)
	binary.BigEndian.PutUint16(udp[6:], csum.Fold(pseudo))
	return f, RxMeta{Len: len(f), CsumPartial: true, CsumStart: 34, CsumOffset: 6}, full
}

func TestCompleteChecksumMatchesFullComputation(t *testing.T) {
	for _, n := range []int{0, 1, 18, 1000, 1471} {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i*31 + n)
		}
		f, m, want := partialUDP4(payload)
		if !CompleteChecksum(f, m) {
			t.Fatalf("payload %d: CompleteChecksum refused valid offsets", n)
		}
		if got := binary.BigEndian.Uint16(f[40:]); got != want && !(want == 0 && got == 0xffff) {
			t.Fatalf("payload %d: checksum %#04x, want %#04x", n, got, want)
		}
	}
}

func TestCompleteChecksumRejectsBadOffsets(t *testing.T) {
	f, m, _ := partialUDP4(make([]byte, 10))
	for _, bad := range []RxMeta{
		{CsumPartial: false, CsumStart: 34, CsumOffset: 6},
		{CsumPartial: true, CsumStart: 50, CsumOffset: 6},
		{CsumPartial: true, CsumStart: 34, CsumOffset: 100},
	} {
		g := append([]byte{}, f...)
		if CompleteChecksum(g, bad) {
			t.Errorf("accepted %+v on a %d-byte frame", bad, len(g))
		}
	}
	_ = m
}

func FuzzCompleteChecksum(f *testing.F) {
	fr, m, _ := partialUDP4([]byte("hello"))
	f.Add(fr, m.CsumStart, m.CsumOffset)
	f.Fuzz(func(t *testing.T, frame []byte, start, off uint16) {
		_ = CompleteChecksum(frame, RxMeta{Len: len(frame), CsumPartial: true, CsumStart: start, CsumOffset: off})
	})
}
