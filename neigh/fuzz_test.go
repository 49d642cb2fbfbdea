package neigh_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/neigh"
)

// The parsers are fuzzed against github.com/google/gopacket: on every input
// both decode, and whenever ours accepts, gopacket must decode the same
// fields. RFC 4861 validation that gopacket does not do (hop limit 255,
// code 0, checksum, option lengths for Ethernet, DAD rules) is ours alone
// and is tested in codec_test.go.

func FuzzParseARP(f *testing.F) {
	f.Add(arpBytes(f, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: macN1, SenderIP: v4N, TargetIP: v4Local}))
	f.Add(arpBytes(f, neigh.ARP{Op: neigh.ARPReply, SenderMAC: macN1, SenderIP: v4N, TargetMAC: macPort1, TargetIP: v4Local}))
	f.Add(append(arpBytes(f, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: macN2, SenderIP: v4N, TargetIP: v4N}), make([]byte, 18)...))
	f.Add([]byte{0, 1, 8, 0, 6, 4, 0, 3})
	f.Add([]byte{0, 6, 8, 0, 6, 4, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := neigh.ParseARP(data)
		pkt := gopacket.NewPacket(data, layers.LayerTypeARP, gopacket.NoCopy)
		g, _ := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
		// gopacket decodes any hardware/protocol, so "it is Ethernet/IPv4
		// with a known opcode" is the condition under which we must agree.
		// Its AddrType is a uint8 LinkType that truncates the 16-bit
		// hardware type (0x3001 reads as Ethernet), so that one field is
		// taken from the bytes.
		gEthIPv4 := g != nil && binary.BigEndian.Uint16(data[0:2]) == 1 && g.Protocol == layers.EthernetTypeIPv4 &&
			g.HwAddressSize == 6 && g.ProtAddressSize == 4 && (g.Operation == 1 || g.Operation == 2)
		if (err == nil) != gEthIPv4 {
			t.Fatalf("ParseARP err %v, gopacket Ethernet/IPv4 %v (%+v)", err, gEthIPv4, g)
		}
		if err != nil {
			return
		}
		if a.Op != g.Operation || !bytes.Equal(a.SenderMAC[:], g.SourceHwAddress) ||
			!bytes.Equal(a.SenderIP.AsSlice(), g.SourceProtAddress) || !bytes.Equal(a.TargetMAC[:], g.DstHwAddress) ||
			!bytes.Equal(a.TargetIP.AsSlice(), g.DstProtAddress) {
			t.Fatalf("fields differ: ours %+v, gopacket %+v", a, g)
		}
		var buf [neigh.ARPLen]byte
		if n, err := neigh.BuildARP(buf[:], a); err != nil || !bytes.Equal(buf[:n], data[:neigh.ARPLen]) {
			t.Fatalf("round trip: %x vs %x (%v)", buf[:n], data[:neigh.ARPLen], err)
		}
	})
}

// fixChecksum rewrites the ICMPv6 checksum of an IPv6 packet so the fuzzer
// gets past the checksum check and reaches the rest of the validation.
func fixChecksum(b []byte) []byte {
	if len(b) < neigh.IPv6HeaderLen+4 {
		return b
	}
	b = append([]byte(nil), b...)
	icmp := b[neigh.IPv6HeaderLen:]
	if pl := int(binary.BigEndian.Uint16(b[4:6])); pl <= len(icmp) {
		icmp = icmp[:pl]
	}
	if len(icmp) < 4 {
		return b
	}
	src, dst := netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
	icmp[2], icmp[3] = 0, 0
	binary.BigEndian.PutUint16(icmp[2:4], neigh.ICMPv6Checksum(src, dst, icmp))
	return b
}

// firstLLOption returns the first link-layer option of type typ as
// gopacket decoded it.
func firstLLOption(opts layers.ICMPv6Options, typ layers.ICMPv6Opt) (adj.MAC, bool) {
	for _, o := range opts {
		if o.Type == typ {
			if len(o.Data) != 6 {
				return adj.MAC{}, false
			}
			return adj.MAC(o.Data), true
		}
	}
	return adj.MAC{}, false
}

func FuzzParseND(f *testing.F) {
	f.Add(nsBytes(f, neigh.NS{Src: v6N, Dst: neigh.SolicitedNode(v6Local), Target: v6Local, SourceLL: macN1, HasSourceLL: true}), false)
	f.Add(nsBytes(f, neigh.NS{Src: netip.IPv6Unspecified(), Dst: neigh.SolicitedNode(v6Local), Target: v6Local}), false)
	f.Add(nsBytes(f, neigh.NS{Src: llPort1, Dst: v6N, Target: v6N}), false)
	f.Add(naBytes(f, neigh.NA{Src: v6N, Dst: v6Local, Target: v6N, Router: true, Solicited: true, Override: true, TargetLL: macN1, HasTargetLL: true}), false)
	f.Add(naBytes(f, neigh.NA{Src: v6N, Dst: neigh.AllNodes, Target: v6N, Override: true}), false)
	f.Add(append(naBytes(f, neigh.NA{Src: v6N, Dst: v6Local, Target: v6N, TargetLL: macN1, HasTargetLL: true}), 0, 0, 0, 0), true)
	f.Add(append(nsBytes(f, neigh.NS{Src: v6N, Dst: v6Local, Target: v6Local}), 99, 2, 0, 0, 0, 0, 0, 0), true)
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix {
			data = fixChecksum(data)
		}
		ns, errNS := neigh.ParseNS(data)
		na, errNA := neigh.ParseNA(data)
		if errNS == nil && errNA == nil {
			t.Fatal("a packet is both an NS and an NA")
		}
		typ, errType := neigh.ICMPv6Type(data)
		pkt := gopacket.NewPacket(data, layers.LayerTypeIPv6, gopacket.Default)
		ip, _ := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		icmp, _ := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		if errType == nil && ip != nil && icmp != nil && icmp.TypeCode.Type() != typ {
			t.Fatalf("ICMPv6Type %d, gopacket %d", typ, icmp.TypeCode.Type())
		}
		if errNS != nil && errNA != nil {
			return
		}
		// Ours accepted: gopacket must agree on everything it decodes.
		if ip == nil || icmp == nil || pkt.ErrorLayer() != nil {
			t.Fatalf("we accepted what gopacket could not decode: %v", pkt.ErrorLayer())
		}
		if ip.HopLimit != 255 || ip.NextHeader != layers.IPProtocolICMPv6 || icmp.TypeCode.Code() != 0 {
			t.Fatalf("gopacket: hop limit %d, next header %v, code %d", ip.HopLimit, ip.NextHeader, icmp.TypeCode.Code())
		}
		src, _ := netip.AddrFromSlice(ip.SrcIP)
		dst, _ := netip.AddrFromSlice(ip.DstIP)
		buf := make([]byte, neigh.NSMaxLen)
		if errNS == nil {
			g, _ := pkt.Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation)
			if g == nil {
				t.Fatal("gopacket found no NS layer")
			}
			tgt, _ := netip.AddrFromSlice(g.TargetAddress)
			ll, hasLL := firstLLOption(g.Options, layers.ICMPv6OptSourceAddress)
			if ns.Src != src || ns.Dst != dst || ns.Target != tgt || ns.HasSourceLL != hasLL || ns.SourceLL != ll {
				t.Fatalf("NS differs: ours %+v, gopacket %v→%v target %v ll %v %v", ns, src, dst, tgt, ll, hasLL)
			}
			n, err := neigh.BuildNS(buf, ns)
			if err != nil {
				t.Fatalf("BuildNS of a parsed NS: %v", err)
			}
			if again, err := neigh.ParseNS(buf[:n]); err != nil || again != ns {
				t.Fatalf("round trip: %+v %v", again, err)
			}
			return
		}
		g, _ := pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
		if g == nil {
			t.Fatal("gopacket found no NA layer")
		}
		tgt, _ := netip.AddrFromSlice(g.TargetAddress)
		ll, hasLL := firstLLOption(g.Options, layers.ICMPv6OptTargetAddress)
		if na.Src != src || na.Dst != dst || na.Target != tgt || na.HasTargetLL != hasLL || na.TargetLL != ll ||
			na.Router != g.Router() || na.Solicited != g.Solicited() || na.Override != g.Override() {
			t.Fatalf("NA differs: ours %+v, gopacket %+v", na, g)
		}
		n, err := neigh.BuildNA(buf, na)
		if err != nil {
			t.Fatalf("BuildNA of a parsed NA: %v", err)
		}
		if again, err := neigh.ParseNA(buf[:n]); err != nil || again != na {
			t.Fatalf("round trip: %+v %v", again, err)
		}
	})
}

// FuzzHandlePackets feeds arbitrary bytes to the Table's receive paths:
// whatever arrives, neigh drops and counts it or handles it — it never
// panics.
func FuzzHandlePackets(f *testing.F) {
	f.Add(arpBytes(f, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: macN1, SenderIP: v4N, TargetIP: v4Local}), false, true)
	f.Add(nsBytes(f, neigh.NS{Src: v6N, Dst: neigh.SolicitedNode(v6Local), Target: v6Local, SourceLL: macN1, HasSourceLL: true}), true, false)
	f.Add(naBytes(f, neigh.NA{Src: v6N, Dst: v6Local, Target: v6N, Solicited: true, Override: true, TargetLL: macN1, HasTargetLL: true}), true, true)
	f.Fuzz(func(t *testing.T, data []byte, v6, fix bool) {
		h := newHarness(t, neigh.FIBConfig{})
		h.tab.Resolve(key(fibA, port1, v6N), []byte("p"))
		h.tab.Resolve(key(fibA, port1, v4N), []byte("p"))
		if v6 {
			if fix {
				data = fixChecksum(data)
			}
			h.tab.HandleICMPv6(fibA, port1, macN1, data)
		} else {
			h.tab.HandleARP(fibA, port1, macN1, data)
		}
		h.clk.Advance(neigh.ReachableTime)
	})
}
