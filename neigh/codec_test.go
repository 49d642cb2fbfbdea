package neigh_test

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/neigh"
)

func TestARPRoundTrip(t *testing.T) {
	a := neigh.ARP{Op: neigh.ARPReply, SenderMAC: macN1, SenderIP: v4N, TargetMAC: macPort1, TargetIP: v4Local}
	b := arpBytes(t, a)
	// Wire format by hand: htype 1, ptype 0x0800, hlen 6, plen 4, op 2.
	want := "0001080006040002" + "02aa00000001" + "c0000202" + "020000000001" + "c0000201"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("BuildARP = %s, want %s", got, want)
	}
	got, err := neigh.ParseARP(append(b, make([]byte, 18)...)) // Ethernet padding
	if err != nil || got != a {
		t.Fatalf("ParseARP = %+v, %v", got, err)
	}
	if a.Gratuitous() {
		t.Fatal("reply to another address is not gratuitous")
	}
}

func TestParseARPRejects(t *testing.T) {
	good := arpBytes(t, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: macN1, SenderIP: v4N, TargetIP: v4Local})
	mut := func(i int, v byte) []byte { b := append([]byte(nil), good...); b[i] = v; return b }
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"truncated", good[:27], neigh.ErrTruncated},
		{"hardware type", mut(1, 6), neigh.ErrARPFormat},
		{"protocol", mut(2, 0x86), neigh.ErrARPFormat},
		{"hardware length", mut(4, 8), neigh.ErrARPFormat},
		{"protocol length", mut(5, 16), neigh.ErrARPFormat},
		{"RARP opcode", mut(7, 3), neigh.ErrARPOp},
	} {
		if _, err := neigh.ParseARP(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := neigh.BuildARP(make([]byte, 27), neigh.ARP{Op: 1, SenderIP: v4N, TargetIP: v4N}); !errors.Is(err, neigh.ErrShortBuffer) {
		t.Errorf("short buffer: %v", err)
	}
	if _, err := neigh.BuildARP(make([]byte, 28), neigh.ARP{Op: 1, SenderIP: v6N, TargetIP: v4N}); !errors.Is(err, neigh.ErrAddress) {
		t.Errorf("IPv6 sender: %v", err)
	}
}

func TestSolicitedNode(t *testing.T) {
	// RFC 4291 §2.7.1's example shape: low 24 bits after ff02::1:ff.
	a := netip.MustParseAddr("2001:db8::1:800:200e:8c6c")
	if got := neigh.SolicitedNode(a); got != netip.MustParseAddr("ff02::1:ff0e:8c6c") {
		t.Fatalf("SolicitedNode = %v", got)
	}
	if got := neigh.SolicitedNodeMAC(a); got != (adj.MAC{0x33, 0x33, 0xff, 0x0e, 0x8c, 0x6c}) {
		t.Fatalf("SolicitedNodeMAC = %v", got)
	}
	if neigh.SolicitedNode(v4N).IsValid() {
		t.Fatal("IPv4 has no solicited-node address")
	}
}

func TestICMPv6ChecksumKnownVector(t *testing.T) {
	// fe80::1 (02:00:00:00:00:01) soliciting fe80::2. The checksum 0x7a97
	// was computed independently, by gopacket's serializer and by hand.
	pkt, _ := hex.DecodeString("6000000000203aff" +
		"fe800000000000000000000000000001" + "ff0200000000000000000001ff000002" +
		"87007a9700000000" + "fe800000000000000000000000000002" + "0101020000000001")
	ns, err := neigh.ParseNS(pkt)
	if err != nil {
		t.Fatal(err)
	}
	want := neigh.NS{Src: netip.MustParseAddr("fe80::1"), Dst: netip.MustParseAddr("ff02::1:ff00:2"),
		Target: netip.MustParseAddr("fe80::2"), SourceLL: adj.MAC{2, 0, 0, 0, 0, 1}, HasSourceLL: true}
	if ns != want {
		t.Fatalf("ParseNS = %+v", ns)
	}
	b := nsBytes(t, ns)
	if hex.EncodeToString(b) != hex.EncodeToString(pkt) {
		t.Fatalf("BuildNS\n got %x\nwant %x", b, pkt)
	}
}

func TestNARoundTripFlags(t *testing.T) {
	for _, flags := range []uint8{0, 1, 2, 3, 4, 5, 6, 7} {
		na := neigh.NA{Src: v6N, Dst: v6Local, Target: v6N, Router: flags&4 != 0, Solicited: flags&2 != 0,
			Override: flags&1 != 0}
		if flags != 3 {
			na.TargetLL, na.HasTargetLL = macN1, true
		}
		got, err := neigh.ParseNA(naBytes(t, na))
		if err != nil || got != na {
			t.Fatalf("flags %03b: %+v, %v", flags, got, err)
		}
	}
}

// ndVariant corrupts a valid packet in one way and fixes the checksum, so
// that exactly one RFC 4861 §7.1 rule is broken.
func ndVariant(t *testing.T, pkt []byte, mutate func(b []byte) []byte) []byte {
	t.Helper()
	b := mutate(append([]byte(nil), pkt...))
	if len(b) >= neigh.IPv6HeaderLen+4 {
		src := netip.AddrFrom16([16]byte(b[8:24]))
		dst := netip.AddrFrom16([16]byte(b[24:40]))
		icmp := b[neigh.IPv6HeaderLen:]
		if pl := int(b[4])<<8 | int(b[5]); pl <= len(icmp) {
			icmp = icmp[:pl]
		}
		icmp[2], icmp[3] = 0, 0
		c := neigh.ICMPv6Checksum(src, dst, icmp)
		icmp[2], icmp[3] = byte(c>>8), byte(c)
	}
	return b
}

func TestParseNSValidation(t *testing.T) {
	good := nsBytes(t, neigh.NS{Src: v6N, Dst: neigh.SolicitedNode(v6Local), Target: v6Local, SourceLL: macN1, HasSourceLL: true})
	dad := nsBytes(t, neigh.NS{Src: netip.IPv6Unspecified(), Dst: neigh.SolicitedNode(v6Local), Target: v6Local})
	if _, err := neigh.ParseNS(dad); err != nil {
		t.Fatalf("DAD NS rejected: %v", err)
	}
	setOpt := func(typ, l byte) func(b []byte) []byte {
		return func(b []byte) []byte { b[64], b[65] = typ, l; return b }
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"hop limit 254", ndVariant(t, good, func(b []byte) []byte { b[7] = 254; return b }), neigh.ErrHopLimit},
		{"hop limit 1", ndVariant(t, good, func(b []byte) []byte { b[7] = 1; return b }), neigh.ErrHopLimit},
		{"code 1", ndVariant(t, good, func(b []byte) []byte { b[41] = 1; return b }), neigh.ErrCode},
		{"bad checksum", func() []byte { b := append([]byte(nil), good...); b[43] ^= 1; return b }(), neigh.ErrChecksum},
		{"short", ndVariant(t, good, func(b []byte) []byte { b[5] = 20; return b[:60] }), neigh.ErrTruncated},
		{"payload length beyond packet", func() []byte { b := append([]byte(nil), good...); b[5] = 200; return b }(), neigh.ErrTruncated},
		{"multicast target", ndVariant(t, good, func(b []byte) []byte { b[48] = 0xff; return b }), neigh.ErrTarget},
		{"zero-length option", ndVariant(t, good, setOpt(1, 0)), neigh.ErrOption},
		{"option past end", ndVariant(t, good, setOpt(1, 2)), neigh.ErrOption},
		{"SLLA of 16 bytes", ndVariant(t, append(good[:64:64], 1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14), func(b []byte) []byte { b[5] = 40; return b }), neigh.ErrOption},
		{"DAD with SLLA", ndVariant(t, good, func(b []byte) []byte { clear(b[8:24]); return b }), neigh.ErrOption},
		{"DAD to unicast", ndVariant(t, dad, func(b []byte) []byte { copy(b[24:40], v6Local.AsSlice()); return b }), neigh.ErrDestination},
		{"multicast source", ndVariant(t, good, func(b []byte) []byte { b[8] = 0xff; return b }), neigh.ErrSourceAddress},
		{"not version 6", ndVariant(t, good, func(b []byte) []byte { b[0] = 0x40; return b }), neigh.ErrIPv6Header},
		{"extension header", ndVariant(t, good, func(b []byte) []byte { b[6] = 0; return b }), neigh.ErrNotICMPv6},
		{"NA type", ndVariant(t, good, func(b []byte) []byte { b[40] = neigh.ICMPv6TypeNA; return b }), neigh.ErrICMPv6Type},
	} {
		if _, err := neigh.ParseNS(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
	// Unknown options are skipped (RFC 4861 §4.6).
	unk := ndVariant(t, append(append([]byte(nil), good...), 99, 1, 0, 0, 0, 0, 0, 0), func(b []byte) []byte { b[5] += 8; return b })
	if ns, err := neigh.ParseNS(unk); err != nil || ns.SourceLL != macN1 {
		t.Fatalf("unknown option: %+v %v", ns, err)
	}
	// Ethernet padding after the IPv6 payload is ignored.
	if _, err := neigh.ParseNS(append(append([]byte(nil), good...), 0, 0, 0, 0)); err != nil {
		t.Fatalf("padding: %v", err)
	}
}

func TestParseNAValidation(t *testing.T) {
	good := naBytes(t, neigh.NA{Src: v6N, Dst: v6Local, Target: v6N, Solicited: true, Override: true, TargetLL: macN1, HasTargetLL: true})
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"hop limit 64", ndVariant(t, good, func(b []byte) []byte { b[7] = 64; return b }), neigh.ErrHopLimit},
		{"code 3", ndVariant(t, good, func(b []byte) []byte { b[41] = 3; return b }), neigh.ErrCode},
		{"multicast target", ndVariant(t, good, func(b []byte) []byte { b[48] = 0xff; return b }), neigh.ErrTarget},
		{"solicited to multicast", ndVariant(t, good, func(b []byte) []byte { copy(b[24:40], neigh.AllNodes.AsSlice()); return b }), neigh.ErrSolicitedFlag},
		{"zero-length option", ndVariant(t, good, func(b []byte) []byte { b[65] = 0; return b }), neigh.ErrOption},
	} {
		if _, err := neigh.ParseNA(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := neigh.BuildNA(make([]byte, 100), neigh.NA{Src: v6N, Dst: neigh.AllNodes, Target: v6N, Solicited: true}); !errors.Is(err, neigh.ErrSolicitedFlag) {
		t.Fatalf("BuildNA S=1 to multicast: %v", err)
	}
	if _, err := neigh.BuildNS(make([]byte, 10), neigh.NS{Src: v6N, Dst: v6Local, Target: v6Local}); !errors.Is(err, neigh.ErrShortBuffer) {
		t.Fatalf("BuildNS short: %v", err)
	}
}

func TestCodecsAllocateNothing(t *testing.T) {
	arp := arpBytes(t, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: macN1, SenderIP: v4N, TargetIP: v4Local})
	ns := nsBytes(t, neigh.NS{Src: v6N, Dst: neigh.SolicitedNode(v6Local), Target: v6Local, SourceLL: macN1, HasSourceLL: true})
	na := naBytes(t, neigh.NA{Src: v6N, Dst: v6Local, Target: v6N, Solicited: true, TargetLL: macN1, HasTargetLL: true})
	buf := make([]byte, 128)
	n := testing.AllocsPerRun(100, func() {
		a, _ := neigh.ParseARP(arp)
		neigh.BuildARP(buf, a)
		s, _ := neigh.ParseNS(ns)
		neigh.BuildNS(buf, s)
		v, _ := neigh.ParseNA(na)
		neigh.BuildNA(buf, v)
		_ = neigh.SolicitedNodeMAC(v6N)
	})
	if n != 0 {
		t.Fatalf("%v allocs per parse+build", n)
	}
}
