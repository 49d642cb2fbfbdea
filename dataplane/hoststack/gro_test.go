package hoststack

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/fibd/fibd/dataplane/packet"
)

// seg builds a TCP segment of flow sport→80 with seq and payload, its
// checksums complete; v6 for IPv6. flags default to ACK.
func seg(v6 bool, sport uint16, seq uint32, payload []byte, flags byte) []byte {
	if flags == 0 {
		flags = 0x10
	}
	iph := 20
	if v6 {
		iph = 40
	}
	p := make([]byte, iph+32+len(payload)) // TCP with 12 bytes of options (timestamps)
	t := p[iph:]
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], 80)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], 777)
	t[12], t[13] = 8<<4, flags
	binary.BigEndian.PutUint16(t[14:], 500)
	copy(t[20:], []byte{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7})
	copy(t[32:], payload)
	var src, dst netip.Addr
	if v6 {
		p[0] = 0x60
		binary.BigEndian.PutUint16(p[4:], uint16(len(p)-40))
		p[6], p[7] = packet.ProtoTCP, 64
		src, dst = netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8::1")
		copy(p[8:], src.AsSlice())
		copy(p[24:], dst.AsSlice())
	} else {
		p[0], p[8], p[9] = 0x45, 64, packet.ProtoTCP
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
		binary.BigEndian.PutUint16(p[6:], 0x4000) // DF
		src, dst = netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.1")
		copy(p[12:], src.AsSlice())
		copy(p[16:], dst.AsSlice())
		binary.BigEndian.PutUint16(p[10:], packet.Checksum(p[:20]))
	}
	binary.BigEndian.PutUint16(t[16:], ^packet.Fold(packet.Sum(packet.PseudoHeaderSum(src, dst, packet.ProtoTCP, len(t)), t)))
	return p
}

type written struct {
	hdr packet.VnetHdr
	pkt []byte
}

func capture() (*coalescer, *[]written) {
	var out []written
	c := newCoalescer(func(hdr, pkt []byte) error {
		out = append(out, written{packet.ParseVnetHdr(hdr), bytes.Clone(pkt)})
		return nil
	})
	return c, &out
}

func payloadOf(p []byte) []byte {
	iph := 20
	if p[0]>>4 == 6 {
		iph = 40
	}
	return p[iph+int(p[iph+12]>>4)*4:]
}

// TestCoalescerMergesAFlowAsGRODoes: contiguous full segments of one flow
// become one GSO super-packet whose headers, lengths and partial checksum
// are what the kernel expects; the payload is the segments' in order.
func TestCoalescerMergesAFlowAsGRODoes(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		c, out := capture()
		var pkts [][]byte
		var want []byte
		for i := range 40 {
			pl := bytes.Repeat([]byte{byte(i)}, 1000)
			pkts = append(pkts, seg(v6, 40000, uint32(1000+i*1000), pl, 0))
			want = append(want, pl...)
		}
		n, err := c.writeBatch(pkts)
		if err != nil || n != 40 {
			t.Fatalf("v6 %v: wrote %d, %v", v6, n, err)
		}
		if len(*out) != 1 {
			t.Fatalf("v6 %v: %d writes, want one super-packet", v6, len(*out))
		}
		w := (*out)[0]
		wantType := uint8(packet.VnetGSOTCPv4)
		iph := 20
		if v6 {
			wantType, iph = packet.VnetGSOTCPv6, 40
		}
		if w.hdr.GSOType != wantType || w.hdr.GSOSize != 1000 || w.hdr.Flags != packet.VnetFlagNeedsCsum ||
			int(w.hdr.CsumStart) != iph || w.hdr.CsumOffset != 16 || int(w.hdr.HdrLen) != iph+32 {
			t.Fatalf("v6 %v: header %+v", v6, w.hdr)
		}
		if !bytes.Equal(payloadOf(w.pkt), want) {
			t.Fatalf("v6 %v: merged payload differs", v6)
		}
		if v6 {
			if binary.BigEndian.Uint16(w.pkt[4:]) != uint16(len(w.pkt)-40) {
				t.Fatal("IPv6 payload length not updated")
			}
		} else if int(binary.BigEndian.Uint16(w.pkt[2:])) != len(w.pkt) || packet.Checksum(w.pkt[:20]) != 0 {
			t.Fatal("IPv4 total length or header checksum wrong")
		}
		// The field holds the pseudo-header sum: completing it over the
		// segment gives a valid checksum.
		l4 := w.pkt[iph:]
		sum := ^packet.Fold(packet.Sum(0, l4))
		binary.BigEndian.PutUint16(l4[16:], sum)
		if !tcpChecksumOK(w.pkt, iph) {
			t.Fatalf("v6 %v: the completed checksum is wrong", v6)
		}
	}
}

// TestCoalescerKeepsWhatGROWouldNotMerge: a gap in sequence numbers, a
// corrupt segment, a SYN, different ACKs, PSH and a short segment end or
// bypass a merge, and every flow's packets keep their order.
func TestCoalescerKeepsWhatGROWouldNotMerge(t *testing.T) {
	c, out := capture()
	pl := bytes.Repeat([]byte{7}, 500)
	corrupt := seg(false, 1, 2500, pl, 0)
	corrupt[len(corrupt)-1] ^= 0xff
	otherAck := seg(false, 1, 3000, pl, 0)
	binary.BigEndian.PutUint32(otherAck[28:], 778)
	binary.BigEndian.PutUint16(otherAck[36:], 0)
	binary.BigEndian.PutUint16(otherAck[36:], ^packet.Fold(packet.Sum(pseudoSum(otherAck, 20, len(otherAck)-20), otherAck[20:])))
	pkts := [][]byte{
		seg(false, 1, 1000, pl, 0),
		seg(false, 1, 1500, pl, 0),
		seg(false, 2, 1000, pl, 0),    // another flow, interleaved: merges with its own
		seg(false, 1, 2000, pl, 0x18), // PSH: joins, then nothing more
		seg(false, 2, 1500, pl, 0),
		corrupt,                          // not merged; the host drops it
		otherAck,                         // a different ACK: not merged
		seg(false, 1, 9000, nil, 0x12),   // SYN|ACK without payload: alone, after what is open
		seg(false, 2, 2000, pl[:100], 0), // short: ends flow 2's merge
		seg(false, 2, 2100, pl, 0),
	}
	n, err := c.writeBatch(pkts)
	if err != nil || n != len(pkts) {
		t.Fatalf("wrote %d of %d: %v", n, len(pkts), err)
	}
	type got struct {
		sport uint16
		seq   uint32
		segs  int
	}
	var g []got
	for _, w := range *out {
		segs := 1
		if w.hdr.GSOSize > 0 {
			segs = (len(payloadOf(w.pkt)) + int(w.hdr.GSOSize) - 1) / int(w.hdr.GSOSize)
		}
		g = append(g, got{binary.BigEndian.Uint16(w.pkt[20:]), binary.BigEndian.Uint32(w.pkt[24:]), segs})
	}
	// Per flow, in order: flow 1 = [1000 ×3 (PSH ends it)], 2500 corrupt,
	// 3000 other ACK, then the SYN; flow 2 = [1000, 1500] (the SYN flushed
	// it), 2000 short, 2100.
	var f1, f2 []got
	for _, x := range g {
		if x.sport == 1 {
			f1 = append(f1, x)
		} else {
			f2 = append(f2, x)
		}
	}
	want1 := []got{{1, 1000, 3}, {1, 2500, 1}, {1, 3000, 1}, {1, 9000, 1}}
	want2 := []got{{2, 1000, 2}, {2, 2000, 1}, {2, 2100, 1}}
	if !equal(f1, want1) || !equal(f2, want2) {
		t.Fatalf("flow 1 %v (want %v), flow 2 %v (want %v)", f1, want1, f2, want2)
	}
	for _, w := range *out {
		if binary.BigEndian.Uint16(w.pkt[20:]) == 1 && binary.BigEndian.Uint32(w.pkt[24:]) == 1000 && w.pkt[33]&0x08 == 0 {
			t.Fatal("the merged super-packet lost its last segment's PSH")
		}
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCoalescerAllocatesNothing(t *testing.T) {
	c := newCoalescer(func(hdr, pkt []byte) error { return nil })
	var pkts [][]byte
	for i := range 44 {
		pkts = append(pkts, seg(false, 1, uint32(i*1400), make([]byte, 1400), 0))
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = c.writeBatch(pkts) }); a != 0 {
		t.Fatalf("%v allocations per batch", a)
	}
}

// FuzzCoalescer feeds the GRO merge arbitrary packets (the fuzz input cut
// into up to 16 by one-byte lengths ×8, with well-formed segments among
// the seeds) and checks that nothing panics, every packet is written,
// and merging neither loses nor invents a byte: the input's total length
// equals the output's plus the headers each merge saved.
//
// fuzzsmoke: 20000x
func FuzzCoalescer(f *testing.F) {
	var seed []byte
	for i := range 6 {
		s := seg(i%2 == 1, uint16(1+i%3), uint32(1000+(i/3)*500), bytes.Repeat([]byte{1}, 500), 0)
		seed = append(append(seed, byte((len(s)+7)/8)), s...)
		seed = append(seed, make([]byte, (len(s)+7)/8*8-len(s))...)
	}
	f.Add(seed)
	f.Add([]byte{3, 0x45, 0, 0, 24})
	c, out := capture()
	f.Fuzz(func(t *testing.T, in []byte) {
		var pkts [][]byte
		for len(in) > 0 && len(pkts) < 16 {
			n := min(int(in[0])*8, len(in)-1)
			pkts = append(pkts, bytes.Clone(in[1:1+n]))
			in = in[1+n:]
		}
		total := 0
		for _, p := range pkts {
			total += len(p)
		}
		*out = (*out)[:0]
		n, err := c.writeBatch(pkts)
		if err != nil || n != len(pkts) {
			t.Fatalf("wrote %d of %d: %v", n, len(pkts), err)
		}
		got := 0
		for _, w := range *out {
			got += len(w.pkt)
			if w.hdr.GSOSize > 0 {
				payload := len(w.pkt) - int(w.hdr.HdrLen)
				segs := (payload + int(w.hdr.GSOSize) - 1) / int(w.hdr.GSOSize)
				got += (segs - 1) * int(w.hdr.HdrLen)
			}
		}
		if got != total {
			t.Fatalf("%d bytes in, %d out (headers of merged segments counted)", total, got)
		}
	})
}
