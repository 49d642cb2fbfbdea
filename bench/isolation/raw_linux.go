package isolation

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"runtime"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/fibd/fibd/dataplane/afpacket"
	"github.com/fibd/fibd/dataplane/pktio"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/netnstest"
)

// rawSender sends prebuilt frames from a namespace's interface through an
// AF_PACKET socket (fibd's own backend, as a plain sender): for floods
// that the kernel's UDP sockets would not build (ARP, NA, TTL 1 at line
// rate) or not build fast enough.
type rawSender struct {
	port   *afpacket.Port
	frames [][]byte
	// refused counts frames the socket would not take (ErrFrameSize).
	refused int
}

func newRawSender(ns *netnstest.NS, ifname string, frames [][]byte) (*rawSender, error) {
	s := &rawSender{frames: frames}
	// A minimal RX ring: the sender receives nothing it cares about.
	cfg := afpacket.Config{BlockSize: 64 << 10, NumBlocks: 2}
	if err := ns.Do(func() (err error) { s.port, err = afpacket.Open(ifname, cfg); return err }); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *rawSender) close() { _ = s.port.Close() }

// run sends the frames round robin, count frames in all or until maxFor
// passes, paced evenly at pps (unthrottled when pps is 0), and returns how
// many the socket took.
func (s *rawSender) run(pps float64, count int, maxFor time.Duration, stop <-chan struct{}) int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const batch = 16
	buf := make([][]byte, 0, batch)
	start := time.Now()
	sent, next := 0, 0
	for sent < count {
		select {
		case <-stop:
			return sent
		default:
		}
		el := time.Since(start)
		if el > maxFor {
			break
		}
		due := count - sent
		if pps > 0 {
			due = min(due, int(el.Seconds()*pps)+1-sent)
			if due <= 0 {
				time.Sleep(time.Duration(float64(time.Second) / pps / 2))
				continue
			}
		}
		buf = buf[:0]
		for len(buf) < min(due, batch) {
			buf = append(buf, s.frames[next])
			next = (next + 1) % len(s.frames)
		}
		n, err := s.port.WriteBatch(buf)
		sent += n
		if n < len(buf) {
			back := len(buf) - n
			if errors.Is(err, pktio.ErrFrameSize) {
				// That frame can never go: skip it rather than offer it
				// again forever.
				back--
				s.refused++
			} else {
				time.Sleep(20 * time.Microsecond) // a full ring: let it drain
			}
			next = (next - back + len(s.frames)) % len(s.frames)
		}
	}
	return sent
}

// serialize builds a frame from gopacket layers.
func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		panic(err) // the layers are the harness's own: a bug
	}
	return buf.Bytes()
}

// udpFrame is a client's UDP frame to dst through the router port with
// MAC router, TTL ttl, carrying a marker.
func udpFrame(src, router adj.MAC, from, dst netip.Addr, ttl uint8, m marker) []byte {
	eth := &layers.Ethernet{SrcMAC: src[:], DstMAC: router[:], EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: ttl, Protocol: layers.IPProtocolUDP, SrcIP: from.AsSlice(), DstIP: dst.AsSlice()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(40000 + m.flow), DstPort: flowPort}
	_ = udp.SetNetworkLayerForChecksum(ip)
	var payload [payloadLen]byte
	putMarker(payload[:], m)
	return serialize(eth, ip, udp, gopacket.Payload(payload[:]))
}

// arpFrame is an ARP packet from sender (mac, ip) for target; gratuitous
// when target is ip.
func arpFrame(mac adj.MAC, ip, target netip.Addr, op uint16) []byte {
	eth := &layers.Ethernet{SrcMAC: mac[:], DstMAC: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: op, SourceHwAddress: mac[:], SourceProtAddress: ip.AsSlice(), DstHwAddress: make([]byte, 6), DstProtAddress: target.AsSlice()}
	return serialize(eth, arp)
}

// naFrame is an unsolicited NA (to all-nodes, O=1) for target from mac.
func naFrame(mac adj.MAC, target netip.Addr) []byte {
	allNodes := netip.MustParseAddr("ff02::1")
	eth := &layers.Ethernet{SrcMAC: mac[:], DstMAC: []byte{0x33, 0x33, 0, 0, 0, 1}, EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: target.AsSlice(), DstIP: allNodes.AsSlice()}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0)}
	_ = icmp.SetNetworkLayerForChecksum(ip)
	na := &layers.ICMPv6NeighborAdvertisement{Flags: 0x20, TargetAddress: target.AsSlice(),
		Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: mac[:]}}}
	return serialize(eth, ip, icmp, na)
}

// hostIn returns the i-th address of p (i ≥ 1), for /16s and /64s.
func hostIn(p netip.Prefix, i int) netip.Addr {
	b := p.Addr().As16()
	if p.Addr().Is4() {
		a := p.Addr().As4()
		binary.BigEndian.PutUint32(a[:], binary.BigEndian.Uint32(a[:])+uint32(i))
		return netip.AddrFrom4(a)
	}
	binary.BigEndian.PutUint32(b[12:], binary.BigEndian.Uint32(b[12:])+uint32(i))
	return netip.AddrFrom16(b)
}
