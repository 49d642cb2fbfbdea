package dataplane_test

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/pktiotest"
)

// hostSeeds are packets of every path a host's packet takes: out of a
// port (v4, v6, to a gateway, ECMP, waiting for a neighbour), spoofed,
// link-scoped, too big with and without DF, no route, blackhole,
// unreachable, prohibit, unresolved, a leak into another FIB, the
// router's own address, and broken headers.
func hostSeeds(t testing.TB) [][]byte {
	udp := func(src, dst string, payload int, df bool) []byte {
		s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
		u := &layers.UDP{SrcPort: 53, DstPort: 5000}
		if s.Is4() {
			ip := ip4(src, dst, layers.IPProtocolUDP)
			if df {
				ip.Flags = layers.IPv4DontFragment
			}
			return ipLayers(t, ip, u, gopacket.Payload(make([]byte, payload)))
		}
		_ = d
		return ipLayers(t, ip6(src, dst, layers.IPProtocolUDP), u, gopacket.Payload(make([]byte, payload)))
	}
	out := [][]byte{
		udp("198.51.100.1", "198.51.100.10", 10, false),
		udp("198.51.100.1", "203.0.113.7", 10, false),
		udp("2001:db8:2::1", "2001:db8:ffff::1", 10, false),
		udp("198.51.100.99", "198.51.100.10", 10, false),
		udp("198.51.100.1", "224.0.0.5", 10, false),
		udp("2001:db8:2::1", "fe80::1", 10, false),
		udp("198.51.100.1", "203.0.113.7", 2000, false),
		udp("198.51.100.1", "203.0.113.7", 2000, true),
		udp("2001:db8:2::1", "2001:db8:ffff::1", 2000, false),
		udp("198.51.100.1", "10.9.9.9", 10, false),
		udp("198.51.100.1", "198.18.0.1", 10, false),
		udp("198.51.100.1", "198.18.1.1", 10, false),
		udp("198.51.100.1", "198.18.2.1", 10, false),
		udp("198.51.100.1", "198.18.3.1", 10, false),
		udp("198.51.100.1", "198.18.5.1", 10, false),
		udp("198.51.100.1", "198.18.200.1", 10, false),
		udp("198.51.100.1", "192.0.2.1", 10, false),
		ipLayers(t, ip4("198.51.100.1", "198.51.100.10", layers.IPProtocolTCP), tcpSYN()),
	}
	bad := append([]byte{}, out[0]...)
	bad[0] = 0x46 // options that are not there
	return append(out, bad, out[0][:10], []byte{0x60}, nil)
}

// FuzzHostInject drives the host stack's injection path — parse, source
// check, lookup, leaks, neighbours, fragmentation, the ICMP errors written
// back into the host — with arbitrary packets, and checks that nothing
// panics and that each packet ends exactly one way: injected, queued for a
// neighbour, or dropped with a reason.
//
// fuzzsmoke: 20000x
func FuzzHostInject(f *testing.F) {
	for _, s := range hostSeeds(f) {
		f.Add(s)
	}
	fr := newFrameRig(f)
	h := pktiotest.NewHost("fibd-fib10")
	if err := fr.e.AttachHost(10, h); err != nil {
		f.Fatal(err)
	}
	inj := dataplane.NewHostInjector(fr.e, 10)
	outcomes := func() uint64 { return dataplane.HostOutcomes(fr.e.Hosts()[0]) }
	f.Fuzz(func(t *testing.T, pkt []byte) {
		before := outcomes()
		inj.Inject(pkt)
		if got := outcomes() - before; got != 1 {
			t.Fatalf("one packet from the host ended %d ways: %+v", got, fr.e.Hosts()[0])
		}
		h.Received() // what came back into the host: bounded by the run
	})
}

// TestHostInjectAccountsForEveryPacket runs the seeds once each.
func TestHostInjectAccountsForEveryPacket(t *testing.T) {
	fr := newFrameRig(t)
	h := pktiotest.NewHost("fibd-fib10")
	if err := fr.e.AttachHost(10, h); err != nil {
		t.Fatal(err)
	}
	inj := dataplane.NewHostInjector(fr.e, 10)
	seeds := hostSeeds(t)
	for i, s := range seeds {
		inj.Inject(s)
		if got := dataplane.HostOutcomes(fr.e.Hosts()[0]); got != uint64(i+1) {
			t.Fatalf("after seed %d: %d outcomes: %+v", i, got, fr.e.Hosts()[0])
		}
	}
	hi := fr.e.Hosts()[0]
	for _, want := range []string{"host-spoofed", "host-link-scoped", "too-big", "no-route", "blackhole", "unreachable",
		"prohibited", "to-router", "host-malformed"} {
		if hi.Drops[want] == 0 {
			t.Errorf("no seed reached drop %s: %+v", want, hi)
		}
	}
	if hi.Injected == 0 || hi.Queued == 0 || hi.ICMPErrors == 0 {
		t.Errorf("seeds did not inject, queue and answer: %+v", hi)
	}
}
