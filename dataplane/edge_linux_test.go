//go:build linux

package dataplane_test

import (
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/afpacket"
	"github.com/fibd/fibd/dataplane/backend"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/netnstest"
)

// edgeTopo is a client (192.0.2.10, and on its loopback a spoofed
// 198.18.0.5 that nothing routes and 203.0.113.77 that the router reaches
// through another port) and a server (198.51.100.10), both in FIB 10, and a
// third port on 203.0.113.0/24 that makes the asymmetric path.
type edgeTopo struct {
	*topo
	client, server   *host
	clientP, serverP adj.PortID
}

func newEdgeTopo(t *testing.T) *edgeTopo {
	needTools(t, "ping", "traceroute")
	tp := newTopo(t, backend.AFPacket)
	et := &edgeTopo{topo: tp}
	rc, rs, rx := netnstest.Name("e"), netnstest.Name("e"), netnstest.Name("e")
	et.client = tp.host("ec", rc, tp.rtr, 0, []string{"192.0.2.10/24", "2001:db8:1::10/64"}, "192.0.2.1", "2001:db8:1::1")
	et.server = tp.host("es", rs, tp.rtr, 0, []string{"198.51.100.10/24", "2001:db8:2::10/64"}, "198.51.100.1", "2001:db8:2::1")
	tp.host("ex", rx, tp.rtr, 0, []string{"203.0.113.10/24", "2001:db8:3::10/64"}, "203.0.113.1", "2001:db8:3::1")
	et.client.Exec("ip", "addr", "add", "198.18.0.5/32", "dev", "lo")
	et.client.Exec("ip", "addr", "add", "203.0.113.77/32", "dev", "lo")
	et.clientP = tp.bind(rc, 0, 10, "192.0.2.1/24", "2001:db8:1::1/64")
	et.serverP = tp.bind(rs, 0, 10, "198.51.100.1/24", "2001:db8:2::1/64")
	tp.bind(rx, 0, 10, "203.0.113.1/24", "2001:db8:3::1/64")
	// Warm up ARP both ways, so the counts below are the probes' own.
	run(t, et.client.NS, true, "ping", "-c", "2", "-W", "2", "198.51.100.10")
	return et
}

func (et *edgeTopo) port(id adj.PortID) dataplane.PortInfo {
	for _, p := range et.e.Ports() {
		if p.ID == id {
			return p
		}
	}
	et.t.Fatalf("no port %d", id)
	return dataplane.PortInfo{}
}

// TestReversePathOnRealHosts: strict uRPF passes the client's own address
// and drops a spoofed one and one whose way back is another port; loose
// forwards the asymmetric one and still drops the unroutable one. Every
// refusal is counted as rpf on the ingress port.
func TestReversePathOnRealHosts(t *testing.T) {
	et := newEdgeTopo(t)
	const n = 3
	ping := func(src string, wantReply bool) {
		t.Helper()
		run(t, et.client.NS, wantReply, "ping", "-c", "3", "-i", "0.2", "-W", "1", "-I", src, "198.51.100.10")
	}
	for _, mode := range []dataplane.RPFMode{dataplane.RPFStrict, dataplane.RPFLoose} {
		if err := et.e.SetPortSettings(et.clientP, dataplane.PortSettings{RPF: mode}); err != nil {
			t.Fatal(err)
		}
		before := et.port(et.clientP).Counters
		ping("192.0.2.10", true)
		ping("198.18.0.5", false)
		// The server's answer to 203.0.113.77 goes out of the third port,
		// so the client never hears it either way: what differs is
		// whether the request reached the server.
		fwdBefore := et.port(et.clientP).Counters.Forwarded
		ping("203.0.113.77", false)
		asymmetric := et.port(et.clientP).Counters.Forwarded - fwdBefore
		after := et.port(et.clientP).Counters
		refused := after.Drops["rpf"] - before.Drops["rpf"]
		switch mode {
		case dataplane.RPFStrict:
			if asymmetric != 0 || refused != 2*n {
				t.Fatalf("strict: asymmetric forwarded %d, rpf drops %d; want 0 and %d (spoofed and asymmetric)", asymmetric, refused, 2*n)
			}
		case dataplane.RPFLoose:
			if asymmetric != n || refused != n {
				t.Fatalf("loose: asymmetric forwarded %d, rpf drops %d; want %d and %d (the unroutable one)", asymmetric, refused, n, n)
			}
		}
	}
}

// TestSourceRouteAndDirectedBroadcastOnRealHosts: traceroute's loose
// source route (-g, first hop the server, so the IP destination lies
// beyond the router) is dropped and counted, and forwarded by its
// destination once the port allows it; a ping to the server subnet's broadcast address is dropped and
// counted, never sent onto the server's link.
func TestSourceRouteAndDirectedBroadcastOnRealHosts(t *testing.T) {
	et := newEdgeTopo(t)
	srBefore := et.port(et.clientP).Counters.Drops["source-route"]
	traceroute := func() {
		// Its exit status says little (it ends 0 with every probe lost):
		// the counters say what happened.
		_, _ = et.client.Try("traceroute", "-n", "-q", "1", "-w", "1", "-m", "2", "-g", "198.51.100.10", "203.0.113.10")
	}
	traceroute()
	if d := et.port(et.clientP).Counters.Drops["source-route"] - srBefore; d == 0 {
		t.Fatal("traceroute -g's source-routed probes were not dropped as such")
	}
	if err := et.e.SetPortSettings(et.clientP, dataplane.PortSettings{AllowSourceRoute: true}); err != nil {
		t.Fatal(err)
	}
	fwdBefore := et.port(et.clientP).Counters.Forwarded
	traceroute()
	if et.port(et.clientP).Counters.Forwarded == fwdBefore {
		t.Fatal("with source routes allowed, traceroute -g's probes were not forwarded")
	}

	txBefore := et.port(et.serverP).Counters.TxPackets
	dbBefore := et.port(et.clientP).Counters.Drops["directed-broadcast"]
	run(t, et.client.NS, false, "ping", "-b", "-c", "3", "-i", "0.2", "-W", "1", "198.51.100.255")
	if d := et.port(et.clientP).Counters.Drops["directed-broadcast"] - dbBefore; d != 3 {
		t.Fatalf("%d directed broadcasts counted, want 3", d)
	}
	if tx := et.port(et.serverP).Counters.TxPackets - txBefore; tx != 0 {
		t.Fatalf("%d frames sent onto the server's link for a directed broadcast", tx)
	}
}

// TestBeyondScopeOnRealHosts: a packet from the client's link-local
// address to the server's global one would leave its link: the router
// answers ICMPv6 destination unreachable code 2 (RFC 4443 §3.1) from its
// own link-local address, and forwards nothing.
func TestBeyondScopeOnRealHosts(t *testing.T) {
	et := newEdgeTopo(t)
	var cmac net.HardwareAddr
	var sock *afpacket.Port
	if err := et.client.Do(func() error {
		in, err := net.InterfaceByName(et.client.ifname)
		if err != nil {
			return err
		}
		cmac = in.HardwareAddr
		sock, err = afpacket.Open(et.client.ifname, afpacket.Config{BlockSize: 64 << 10, NumBlocks: 4})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	frame := build(t, frameSpec{src: "fe80::10", dst: "2001:db8:2::10", dstMAC: et.port(et.clientP).MAC, srcMAC: adj.MAC(cmac)})
	txBefore := et.port(et.serverP).Counters.TxPackets
	if n, err := sock.WriteBatch([][]byte{frame}); n != 1 {
		t.Fatalf("send: %v", err)
	}
	timer := time.AfterFunc(3*time.Second, func() { sock.Close() })
	defer timer.Stop()
	bufs := [][]byte{make([]byte, dataplane.MaxFrame)}
	meta := make([]dataplane.RxMeta, 1)
	for {
		n, err := sock.ReadBatch(bufs, meta)
		if err != nil {
			t.Fatal("no destination unreachable code 2 within 3 s")
		}
		if n == 0 {
			continue
		}
		p := gopacket.NewPacket(bufs[0][:meta[0].Len], layers.LayerTypeEthernet, gopacket.Default)
		icmp, _ := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		ip6, _ := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		if icmp == nil || icmp.TypeCode.Type() != layers.ICMPv6TypeDestinationUnreachable {
			continue
		}
		if icmp.TypeCode.Code() != 2 || ip6.SrcIP.String() != "fe80::1" || ip6.DstIP.String() != "fe80::10" {
			t.Fatalf("answer %v → %v, code %d; want fe80::1 → fe80::10, code 2", ip6.SrcIP, ip6.DstIP, icmp.TypeCode.Code())
		}
		break
	}
	if tx := et.port(et.serverP).Counters.TxPackets - txBefore; tx != 0 {
		t.Fatalf("%d frames went out to the server", tx)
	}
}
