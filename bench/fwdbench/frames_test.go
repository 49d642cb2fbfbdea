package fwdbench

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/fib/adj"
)

func TestBuildFramesSpreadOverRange(t *testing.T) {
	frames, err := buildFrames(65536, adj.MAC{2, 0, 0, 0, 0, 2}, adj.MAC{2, 0, 0, 0, 0, 1}, SrcAddr, DestPrefix)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]bool{}
	for i, f := range frames {
		if len(f) != FrameBytes {
			t.Fatalf("frame %d: %d bytes", i, len(f))
		}
		ip := f[14:34]
		dst := netip.AddrFrom4([4]byte(ip[16:20]))
		if !DestPrefix.Contains(dst) {
			t.Fatalf("frame %d goes to %v, outside %v", i, dst, DestPrefix)
		}
		seen[dst] = true
		if packet.Checksum(ip) != 0 {
			t.Fatalf("frame %d: bad IPv4 checksum", i)
		}
		udp := f[34:]
		if ^packet.Fold(packet.Sum(packet.PseudoHeaderSum(netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20])), 17, len(udp)), udp)) != 0 {
			t.Fatalf("frame %d: bad UDP checksum", i)
		}
		if binary.BigEndian.Uint16(udp[2:]) != DiscardPort {
			t.Fatalf("frame %d: port", i)
		}
	}
	if len(seen) != 65536 {
		t.Fatalf("%d distinct destinations, want 65536", len(seen))
	}
	first := netip.AddrFrom4([4]byte(frames[0][30:34]))
	last := netip.AddrFrom4([4]byte(frames[len(frames)-1][30:34]))
	if first.As4()[1] != 18 || last.As4()[1] != 19 {
		t.Errorf("not spread over the /15: first %v last %v", first, last)
	}
}

func TestBuildFramesRejects(t *testing.T) {
	if _, err := buildFrames(1<<18, adj.MAC{}, adj.MAC{}, SrcAddr, DestPrefix); err == nil {
		t.Error("more destinations than the prefix holds")
	}
	if _, err := buildFrames(10, adj.MAC{}, adj.MAC{}, netip.MustParseAddr("2001:db8::1"), DestPrefix); err == nil {
		t.Error("IPv6 source accepted")
	}
}
