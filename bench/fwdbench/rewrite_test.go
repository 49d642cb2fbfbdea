package fwdbench

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

func checksum16(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func ipv4Frame(ttl byte, id uint16) []byte {
	f := make([]byte, 60)
	binary.BigEndian.PutUint16(f[12:], etherIPv4)
	h := f[ethHdrLen : ethHdrLen+20]
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], 46)
	binary.BigEndian.PutUint16(h[4:], id)
	h[8], h[9] = ttl, 17
	copy(h[12:], netip.MustParseAddr("192.0.2.2").AsSlice())
	copy(h[16:], netip.MustParseAddr("198.18.0.1").AsSlice())
	binary.BigEndian.PutUint16(h[10:], checksum16(h))
	return f
}

var (
	testDst = [6]byte{2, 0, 0, 0, 0, 0xd}
	testSrc = [6]byte{2, 0, 0, 0, 0, 0x5}
	testL2  = [12]byte{2, 0, 0, 0, 0, 0xd, 2, 0, 0, 0, 0, 0x5}
)

func TestBareRewrite(t *testing.T) {
	for id := range uint16(2000) {
		for _, ttl := range []byte{2, 64, 255} {
			f := ipv4Frame(ttl, id*33)
			if !bareRewrite(f, &testL2) {
				t.Fatalf("TTL %d dropped", ttl)
			}
			h := f[ethHdrLen : ethHdrLen+20]
			if h[8] != ttl-1 || checksum16(h) != 0 {
				t.Fatalf("id %d ttl %d: TTL %d, checksum verifies to %#x", id, ttl, h[8], checksum16(h))
			}
			if !bytes.Equal(f[0:6], testDst[:]) || !bytes.Equal(f[6:12], testSrc[:]) {
				t.Fatalf("MACs %x %x", f[0:6], f[6:12])
			}
		}
	}
	v6 := make([]byte, ipv6MinFrame)
	binary.BigEndian.PutUint16(v6[12:], etherIPv6)
	v6[ipv6HopOff] = 64
	if !bareRewrite(v6, &testL2) || v6[ipv6HopOff] != 63 {
		t.Errorf("IPv6 hop limit %d", v6[ipv6HopOff])
	}
	for name, f := range map[string][]byte{
		"ttl 1":      ipv4Frame(1, 1),
		"ttl 0":      ipv4Frame(0, 1),
		"arp":        append(make([]byte, 12), 0x08, 0x06, 0, 0),
		"short ipv4": ipv4Frame(64, 1)[:ethHdrLen+10],
		"short":      make([]byte, 10),
		"vlan":       append(make([]byte, 12), 0x81, 0x00, 0, 5, 0x08, 0x00),
	} {
		if bareRewrite(f, &testL2) {
			t.Errorf("%s forwarded", name)
		}
	}
}

// FuzzBareRewrite: never panics; a forwarded IPv4 frame whose header
// checksum was valid stays valid, with the TTL one lower.
func FuzzBareRewrite(f *testing.F) {
	f.Add(ipv4Frame(64, 1))
	f.Add(ipv4Frame(1, 0xffff))
	f.Add([]byte{})
	f.Add(append(make([]byte, 12), 0x86, 0xdd))
	f.Fuzz(func(t *testing.T, b []byte) {
		valid := len(b) >= ipv4MinFrame && binary.BigEndian.Uint16(b[12:]) == etherIPv4 &&
			b[ethHdrLen]>>4 == 4 && checksum16(b[ethHdrLen:ethHdrLen+20]) == 0
		var ttl byte
		if len(b) > ipv4TTLOff {
			ttl = b[ipv4TTLOff]
		}
		if bareRewrite(b, &testL2) && valid {
			if b[ipv4TTLOff] != ttl-1 || checksum16(b[ethHdrLen:ethHdrLen+20]) != 0 {
				t.Fatalf("checksum broken: %x", b[ethHdrLen:ethHdrLen+20])
			}
		}
	})
}

func BenchmarkBareRewrite(b *testing.B) {
	f := ipv4Frame(64, 1)
	for b.Loop() {
		f[ipv4TTLOff] = 64
		bareRewrite(f, &testL2)
	}
}
