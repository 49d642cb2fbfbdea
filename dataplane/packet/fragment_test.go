package packet

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/ip4defrag"
	"github.com/google/gopacket/layers"
)

// copiedOptions is the reference for what later fragments carry: the
// options with the copied flag, in order, padded with zeros to 4 bytes.
func copiedOptions(opts []byte) []byte {
	var out []byte
	for len(opts) > 0 && opts[0] != 0 {
		if opts[0] == 1 {
			opts = opts[1:]
			continue
		}
		l := int(opts[1])
		if opts[0]&0x80 != 0 {
			out = append(out, opts[:l]...)
		}
		opts = opts[l:]
	}
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	return out
}

// reassemble checks the fragments of the IPv4 packet orig against RFC 791
// and returns the reassembled data.
func reassemble(t testing.TB, orig []byte, frags [][]byte, mtu int) []byte {
	t.Helper()
	ohl := int(orig[0]&0x0f) * 4
	oflags := binary.BigEndian.Uint16(orig[6:])
	pos := int(oflags&0x1fff) * 8
	var data []byte
	for i, f := range frags {
		if len(f) > mtu || len(f) < 20 {
			t.Fatalf("fragment %d: %d bytes, MTU %d", i, len(f), mtu)
		}
		hl := int(f[0]&0x0f) * 4
		if f[0]>>4 != 4 || hl < 20 || int(binary.BigEndian.Uint16(f[2:])) != len(f) {
			t.Fatalf("fragment %d: bad version/IHL/length: %x", i, f[:20])
		}
		if Checksum(f[:hl]) != 0 {
			t.Fatalf("fragment %d: header checksum does not verify", i)
		}
		// TOS, ID, TTL, protocol, addresses as in the original.
		if f[1] != orig[1] || !bytes.Equal(f[4:6], orig[4:6]) || !bytes.Equal(f[8:10], orig[8:10]) || !bytes.Equal(f[12:20], orig[12:20]) {
			t.Fatalf("fragment %d: header fields differ: %x vs %x", i, f[:20], orig[:20])
		}
		wantOpts := orig[20:ohl]
		if i > 0 {
			wantOpts = copiedOptions(orig[20:ohl])
		}
		if !bytes.Equal(f[20:hl], wantOpts) {
			t.Fatalf("fragment %d: options %x, want %x", i, f[20:hl], wantOpts)
		}
		ff := binary.BigEndian.Uint16(f[6:])
		if ff&0x4000 != 0 || ff&0x8000 != oflags&0x8000 {
			t.Fatalf("fragment %d: flags %#x", i, ff)
		}
		if int(ff&0x1fff)*8 != pos {
			t.Fatalf("fragment %d: offset %d, want %d", i, int(ff&0x1fff)*8, pos)
		}
		last := i == len(frags)-1
		mf := ff&0x2000 != 0
		if !last && (!mf || (len(f)-hl)%8 != 0) {
			t.Fatalf("fragment %d: MF %v, %d data bytes", i, mf, len(f)-hl)
		}
		if last && mf != (oflags&0x2000 != 0) {
			t.Fatalf("last fragment: MF %v, original %v", mf, oflags&0x2000 != 0)
		}
		data = append(data, f[hl:]...)
		pos += len(f) - hl
	}
	return data
}

// fragmentFrame parses frame and fragments it into fresh buffers.
func fragmentFrame(t testing.TB, frame []byte, mtu, nbuf int) ([][]byte, Reason) {
	t.Helper()
	p := mustParse(t, frame)
	out := make([][]byte, nbuf)
	for i := range out {
		out[i] = make([]byte, mtu)
	}
	n, r := Fragment(out, frame, p, mtu)
	return out[:n], r
}

var fragOptionSets = [][]layers.IPv4Option{
	nil,
	{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}},                           // router alert, copied
	{{OptionType: 0x07, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}, {OptionType: 0}}, // record route, not copied
	{{OptionType: 1}, {OptionType: 0x83, OptionLength: 11, OptionData: []byte{4, 192, 0, 2, 9, 198, 51, 100, 9}}, // LSRR, copied
		{OptionType: 0x44, OptionLength: 8, OptionData: []byte{5, 0, 0, 0, 0, 0}}, {OptionType: 1}, {OptionType: 0x82, OptionLength: 3, OptionData: []byte{1}}},
	{{OptionType: 0x89, OptionLength: 40, OptionData: make([]byte, 38)}}, // 40 bytes of SSRR, IHL 15
}

func TestFragment(t *testing.T) {
	for oi, opts := range fragOptionSets {
		for _, size := range []int{0, 1, 7, 8, 9, 47, 48, 49, 100, 555, 1000, 1480} {
			for _, mtu := range []int{68, 69, 75, 76, 576, 1280, 1500} {
				for _, orig := range []struct {
					off uint16
					mf  bool
				}{{0, false}, {100, true}, {50, false}} {
					s := frameSpec{proto: 253, opts: opts, id: 0xbeef, tos: 0x28, ttl: 9, fragOff: orig.off, payload: make([]byte, size)}
					if orig.mf {
						s.flags = layers.IPv4MoreFragments
					}
					for i := range s.payload {
						s.payload[i] = byte(i*13 + oi)
					}
					frame := s.build(t)
					p := mustParse(t, frame)
					ip := frame[p.L3Off : p.L3Off+p.L3Len]
					frags, r := fragmentFrame(t, frame, mtu, 2+size/8)
					if r != OK {
						t.Fatalf("opts %d size %d mtu %d: Fragment = %v", oi, size, mtu, r)
					}
					if p.L3Len <= mtu && len(frags) != 1 {
						t.Errorf("a fitting packet was split into %d", len(frags))
					}
					if got := reassemble(t, ip, frags, mtu); !bytes.Equal(got, ip[p.HdrLen:]) {
						t.Fatalf("opts %d size %d mtu %d: reassembled %x, want %x", oi, size, mtu, got, ip[p.HdrLen:])
					}
				}
			}
		}
	}
}

// TestFragmentGopacketDefrag reassembles with gopacket's ip4defrag too —
// without options, which ip4defrag v1.1.19 miscounts (it takes every
// fragment's header to be 20 bytes).
func TestFragmentGopacketDefrag(t *testing.T) {
	for _, size := range []int{600, 1000, 1472, 2000} {
		s := frameSpec{l4: "udp", sport: 5, dport: 6, id: 77, payload: make([]byte, size)}
		for i := range s.payload {
			s.payload[i] = byte(i)
		}
		frame := s.build(t)
		p := mustParse(t, frame)
		frags, r := fragmentFrame(t, frame, 576, 16)
		if r != OK || len(frags) < 2 {
			t.Fatalf("Fragment = %d, %v", len(frags), r)
		}
		d := ip4defrag.NewIPv4Defragmenter()
		var whole *layers.IPv4
		for i, f := range frags {
			pkt := gopacket.NewPacket(f, layers.LayerTypeIPv4, gopacket.Default)
			ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if !ok {
				t.Fatalf("fragment %d: gopacket: %v", i, pkt)
			}
			out, err := d.DefragIPv4WithTimestamp(ip, time.Unix(0, 0))
			if err != nil {
				t.Fatalf("fragment %d: ip4defrag: %v", i, err)
			}
			if out != nil {
				whole = out
			}
		}
		if whole == nil {
			t.Fatal("ip4defrag did not complete the datagram")
		}
		if want := frame[p.L4Off : p.L3Off+p.L3Len]; !bytes.Equal(whole.Payload, want) {
			t.Errorf("ip4defrag payload differs (%d vs %d bytes)", len(whole.Payload), len(want))
		}
	}
}

func TestFragmentReasons(t *testing.T) {
	big := frameSpec{proto: 253, payload: make([]byte, 1000)}
	df := big.with(func(f *frameSpec) { f.flags = layers.IPv4DontFragment })
	if _, r := fragmentFrame(t, df.build(t), 576, 16); r != FragDontFragment {
		t.Errorf("DF: %v", r)
	}
	if _, r := fragmentFrame(t, big.build(t), 67, 64); r != FragMTUTooSmall {
		t.Errorf("MTU 67: %v", r)
	}
	if _, r := fragmentFrame(t, big.build(t), 576, 1); r != FragTooMany {
		t.Errorf("one buffer: %v", r)
	}
	if _, r := fragmentFrame(t, big.build(t), 68, 20); r != FragTooMany {
		t.Errorf("1000 bytes at MTU 68 in 20 buffers: %v", r)
	}
	near := big.with(func(f *frameSpec) { f.fragOff = 0x1fff - 10 })
	if _, r := fragmentFrame(t, near.build(t), 68, 64); r != FragOffsetOverflow {
		t.Errorf("offset overflow: %v", r)
	}
	// An option whose length runs past the header.
	bad := big.with(func(f *frameSpec) {
		f.opts = []layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}}
	}).build(t)
	bad[14+21] = 9
	fixIPv4Checksum(bad, 14)
	if _, r := fragmentFrame(t, bad, 576, 16); r != FragBadOptions {
		t.Errorf("bad options: %v", r)
	}
	// Buffers shorter than the MTU.
	frame := big.build(t)
	p := mustParse(t, frame)
	out := [][]byte{make([]byte, 100), make([]byte, 100)}
	if _, r := Fragment(out, frame, p, 576); r != BufferTooSmall {
		t.Errorf("short buffers: %v", r)
	}
	v6 := udp6().build(t)
	if _, r := Fragment(out, v6, mustParse(t, v6), 576); r != NotIP {
		t.Errorf("IPv6: %v", r)
	}
}
