package fwdbench

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/fib/adj"
)

// FrameBytes is the size of every generated frame: the 60-byte minimum
// Ethernet frame without FCS (14 Ethernet + 20 IPv4 + 8 UDP + 18 payload).
const FrameBytes = 60

// buildFrames returns n minimum-size UDP frames from src to n distinct
// addresses spread evenly over dests, all in one backing array so a batch
// of them is contiguous in cache. Source ports vary too, so a hash on the
// 5-tuple (RSS, ECMP) sees n flows.
func buildFrames(n int, dstMAC, srcMAC adj.MAC, src netip.Addr, dests netip.Prefix) ([][]byte, error) {
	dests = dests.Masked()
	if !src.Is4() || !dests.Addr().Is4() {
		return nil, fmt.Errorf("fwdbench: IPv4 only: %v → %v", src, dests)
	}
	size := 1 << (32 - dests.Bits())
	if n <= 0 || n > size {
		return nil, fmt.Errorf("fwdbench: %d destinations do not fit %v", n, dests)
	}
	stride := size / n
	base := binary.BigEndian.Uint32(dests.Addr().AsSlice())
	backing := make([]byte, n*FrameBytes)
	frames := make([][]byte, n)
	s4 := src.As4()
	for i := range frames {
		f := backing[i*FrameBytes : (i+1)*FrameBytes : (i+1)*FrameBytes]
		copy(f[0:6], dstMAC[:])
		copy(f[6:12], srcMAC[:])
		binary.BigEndian.PutUint16(f[12:], 0x0800)
		ip := f[14:34]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], FrameBytes-14)
		ip[8], ip[9] = 64, 17
		copy(ip[12:16], s4[:])
		// Odd offsets: never the range's first address.
		binary.BigEndian.PutUint32(ip[16:20], base+uint32(i*stride)+uint32(stride/2)|1)
		binary.BigEndian.PutUint16(ip[10:], packet.Checksum(ip))
		udp := f[34:]
		binary.BigEndian.PutUint16(udp[0:], uint16(1024+i%60000))
		binary.BigEndian.PutUint16(udp[2:], DiscardPort)
		binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
		copy(udp[8:], "fibd benchmark")
		c := ^packet.Fold(packet.Sum(packet.PseudoHeaderSum(netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20])), 17, len(udp)), udp))
		if c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(udp[6:], c)
		frames[i] = f
	}
	return frames, nil
}
