package hoststack_test

import (
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/fibd/fibd/dataplane/hoststack"
	"github.com/fibd/fibd/internal/netnstest"
)

// open makes a host stack in a fresh "fibd-hs…" namespace, removed at
// the end of the test.
func open(t *testing.T) (*hoststack.Host, hoststack.Namespace) {
	t.Helper()
	netnstest.Require(t)
	ns := hoststack.Namespace(netnstest.Name("hs"))
	h, err := hoststack.Open(hoststack.Config{Namespace: ns, Device: "fib10"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		if err := ns.Remove(); err != nil {
			t.Error(err)
		}
	})
	return h, ns
}

func TestHostMirrorsAddressesAndRoutesThroughTheTUN(t *testing.T) {
	h, ns := open(t)
	if h.Reused() {
		t.Fatal("a new namespace reported as reused")
	}
	want := []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8:a::1/64")}
	if err := h.Sync(want, 9000); err != nil {
		t.Fatal(err)
	}
	out := netnstest.Run(t, "ip", "-n", string(ns), "addr", "show", "dev", "fib10")
	for _, w := range []string{"192.0.2.1/24", "2001:db8:a::1/64", "mtu 9000"} {
		if !strings.Contains(out, w) {
			t.Fatalf("fib10 lacks %s:\n%s", w, out)
		}
	}
	if strings.Contains(out, "fe80") || strings.Contains(out, "tentative") {
		t.Fatalf("fib10 has a link-local or tentative address:\n%s", out)
	}
	for _, fam := range []string{"-4", "-6"} {
		if r := netnstest.Run(t, "ip", "-n", string(ns), fam, "route", "show", "default"); !strings.Contains(r, "dev fib10") {
			t.Fatalf("no %s default route through fib10: %q", fam, r)
		}
	}
	// An address removed from the FIB goes; one removed by hand comes back.
	if err := h.Sync(want[1:], 1500); err != nil {
		t.Fatal(err)
	}
	netnstest.Run(t, "ip", "-n", string(ns), "addr", "del", "2001:db8:a::1/64", "dev", "fib10")
	if err := h.Sync(want[1:], 1500); err != nil {
		t.Fatal(err)
	}
	out = netnstest.Run(t, "ip", "-n", string(ns), "addr", "show", "dev", "fib10")
	if strings.Contains(out, "192.0.2.1") || !strings.Contains(out, "2001:db8:a::1/64") {
		t.Fatalf("after sync:\n%s", out)
	}
}

// TestSocketsInTheNamespaceTalkThroughTheTUN: a datagram a program sends
// from the namespace comes out of ReadBatch from the FIB's address, and
// a packet written into the TUN reaches a socket ListenPacket opened
// there — the path fibd's punt and inject take.
func TestSocketsInTheNamespaceTalkThroughTheTUN(t *testing.T) {
	h, ns := open(t)
	if err := h.Sync([]netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}, 1500); err != nil {
		t.Fatal(err)
	}
	c, err := ns.ListenPacket("udp4", "192.0.2.1:5353")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteTo([]byte("hello"), &net.UDPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 9}); err != nil {
		t.Fatal(err)
	}
	bufs := [][]byte{make([]byte, 9216), make([]byte, 9216)}
	sizes := make([]int, 2)
	var got gopacket.Packet
	for deadline := time.Now().Add(2 * time.Second); got == nil && time.Now().Before(deadline); {
		n, err := h.ReadBatch(bufs, sizes)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			p := gopacket.NewPacket(bufs[i][:sizes[i]], layers.LayerTypeIPv4, gopacket.Default)
			if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && u.DstPort == 9 {
				got = p
			}
		}
	}
	if got == nil {
		t.Fatal("the datagram never came out of the TUN")
	}
	if ip := got.Layer(layers.LayerTypeIPv4).(*layers.IPv4); !ip.SrcIP.Equal(net.IPv4(192, 0, 2, 1)) {
		t.Fatalf("sent from %v, want the FIB's 192.0.2.1", ip.SrcIP)
	}
	ip := &layers.IPv4{Version: 4, TTL: 63, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(192, 0, 2, 10), DstIP: net.IPv4(192, 0, 2, 1)}
	udp := &layers.UDP{SrcPort: 9, DstPort: 5353}
	_ = udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload("answer")); err != nil {
		t.Fatal(err)
	}
	if err := h.WritePacket(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 100)
	n, from, err := c.ReadFrom(b)
	if err != nil || string(b[:n]) != "answer" || !from.(*net.UDPAddr).IP.Equal(net.IPv4(192, 0, 2, 10)) {
		t.Fatalf("socket read %q from %v, %v", b[:n], from, err)
	}
}

// TestNamespaceOutlivesTheTUN: closing the host (fibd stopping or
// killed) leaves the namespace and what runs in it; opening again reuses
// it; Remove deletes it.
func TestNamespaceOutlivesTheTUN(t *testing.T) {
	h, ns := open(t)
	l, err := ns.Listen("tcp", ":8080") // a daemon inside, bound to every address
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h.Close()
	h2, err := hoststack.Open(hoststack.Config{Namespace: ns, Device: "fib10"})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if !h2.Reused() {
		t.Fatal("the namespace was not reused")
	}
	if out, err := exec.Command("ip", "-n", string(ns), "link", "show", "fib10").CombinedOutput(); err != nil {
		t.Fatalf("no TUN after reopening: %v %s", err, out)
	}
	h2.Close()
	if err := ns.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := ns.Remove(); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
	if _, err := ns.Listen("tcp", ":8081"); err == nil {
		t.Fatal("listened in a removed namespace")
	}
}

func TestListFindsOnlyFIBNamespaces(t *testing.T) {
	netnstest.Require(t)
	prefix := netnstest.Name("ls") + "-fib"
	var made []hoststack.Namespace
	for _, n := range []string{prefix + "10", prefix + "20", prefix + "x"} {
		ns := hoststack.Namespace(n)
		netnstest.Run(t, "ip", "netns", "add", n)
		t.Cleanup(func() { _ = ns.Remove() })
		made = append(made, ns)
	}
	got, err := hoststack.List(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, made[:2]) {
		t.Fatalf("List = %v, want %v", got, made[:2])
	}
}
