package isolation

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/bench/fibdproc"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/netnstest"
)

// The tenants, their addressing (the same for both) and their MACs.
var (
	tenants      = []uint32{10, 20}
	clientAddr   = netip.MustParsePrefix("192.0.2.2/24")
	routerIn     = netip.MustParsePrefix("192.0.2.1/24")
	routerOut    = netip.MustParsePrefix("198.51.100.1/24")
	gatewayAddr  = netip.MustParsePrefix("198.51.100.2/24")
	serverAddr   = netip.MustParseAddr("203.0.113.10")
	serverPrefix = netip.MustParsePrefix("203.0.113.0/24")
	// churnRange holds the destinations of the flow into the re-pointed
	// table, owned by FIB 10's server.
	churnRange = netip.MustParsePrefix("198.18.0.0/16")
	// scanSubnet and floodSubnet6 are connected subnets of the server-side
	// ports (198.19.0.1/16, 2001:db8:10::1/64) where nobody lives: what
	// the scan probes and the flood's senders claim to be.
	scanSubnet   = netip.MustParsePrefix("198.19.0.1/16")
	floodSubnet6 = netip.MustParsePrefix("2001:db8:10::1/64")
)

// mac returns a locally administered MAC for tenant t's interface role r
// (1 client, 2 router client side, 3 router server side, 4 server).
func mac(t uint32, r byte) adj.MAC { return adj.MAC{0x02, 0xfd, byte(t), 0, 0, r} }

// tenant is one customer's namespaces and its end of the traffic.
type tenant struct {
	id             uint32
	client, server *netnstest.NS
	sink           *sink
	// Router interface names (fibd ports).
	in, out string
}

// topology is the router namespace with fibd, and the tenants.
type topology struct {
	router  *netnstest.NS
	tenants map[uint32]*tenant
	fibd    *fibdproc.Proc
	discard []int
}

// build makes the namespaces and links, starts fibd in the router
// namespace and configures both tenants through its API.
func build(ctx context.Context, tb netnstest.TB, cfg *Config) (*topology, error) {
	netnstest.Require(tb)
	tp := &topology{router: netnstest.New(tb, "iso-r"), tenants: map[uint32]*tenant{}}
	for _, id := range tenants {
		tn := &tenant{id: id, client: netnstest.New(tb, fmt.Sprintf("iso-c%d", id)), server: netnstest.New(tb, fmt.Sprintf("iso-s%d", id)),
			in: fmt.Sprintf("c%d", id), out: fmt.Sprintf("s%d", id)}
		tp.tenants[id] = tn
		for _, l := range []struct {
			ns      *netnstest.NS
			nsMAC   adj.MAC
			rtrName string
			rtrMAC  adj.MAC
		}{{tn.client, mac(id, 1), tn.in, mac(id, 2)}, {tn.server, mac(id, 4), tn.out, mac(id, 3)}} {
			a, b := netnstest.Name("x"), netnstest.Name("y")
			netnstest.Veth(tb, a, l.ns, b, tp.router)
			for _, e := range []struct {
				ns       *netnstest.NS
				dev, new string
				mac      adj.MAC
			}{{l.ns, a, "eth0", l.nsMAC}, {tp.router, b, l.rtrName, l.rtrMAC}} {
				e.ns.Exec("ip", "link", "set", e.dev, "down")
				e.ns.Exec("ip", "link", "set", e.dev, "address", e.mac.String(), "name", e.new)
				e.ns.Sysctl("net/ipv6/conf/"+e.new+"/disable_ipv6", "1")
				e.ns.Exec("ip", "link", "set", e.new, "up")
			}
		}
		tn.client.Exec("ip", "addr", "add", clientAddr.String(), "dev", "eth0")
		tn.client.Exec("ip", "route", "add", "default", "via", routerIn.Addr().String())
		tn.server.Exec("ip", "addr", "add", gatewayAddr.String(), "dev", "eth0")
		tn.server.Exec("ip", "addr", "add", netip.PrefixFrom(serverAddr, 32).String(), "dev", "lo")
		tn.server.Exec("ip", "route", "add", "local", churnRange.String(), "dev", "lo")
		tn.server.Exec("ip", "route", "add", "default", "via", routerOut.Addr().String())
		// A discard socket that is never read: the server's kernel drops
		// the flows quietly (no ICMP port unreachable back into fibd).
		if err := tn.server.Do(func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			tp.discard = append(tp.discard, fd)
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 0)
			return unix.Bind(fd, &unix.SockaddrInet4{Port: flowPort})
		}); err != nil {
			return nil, err
		}
		var err error
		if tn.sink, err = startSink(tn.server, "eth0", fmt.Sprintf("sink%d", id), id, mac(id, 4), mac(id, 3)); err != nil {
			return nil, err
		}
	}
	var err error
	tp.fibd, err = fibdproc.Start(ctx, fibdproc.Options{Path: cfg.FibdPath, NetNS: tp.router.Name, IO: cfg.IO})
	if err != nil {
		return nil, err
	}
	return tp, tp.configure(ctx)
}

func (tp *topology) close() {
	for _, tn := range tp.tenants {
		if tn.sink != nil {
			tn.sink.close()
		}
	}
	for _, fd := range tp.discard {
		_ = unix.Close(fd)
	}
	if tp.fibd != nil {
		tp.fibd.Stop()
	}
}

// configure sets both tenants up through fibd's API, identically: their
// FIB, ports, addresses and the route to the server via the gateway.
func (tp *topology) configure(ctx context.Context) error {
	c := tp.fibd.Conn
	for _, id := range tenants {
		tn := tp.tenants[id]
		if _, err := c.CreateFib(ctx, &fibdpb.CreateFibRequest{FibId: id}); err != nil {
			return err
		}
		for _, p := range []struct {
			name  string
			addrs []netip.Prefix
		}{{tn.in, []netip.Prefix{routerIn}}, {tn.out, []netip.Prefix{routerOut, scanSubnet, floodSubnet6}}} {
			if _, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: p.name, FibId: id}); err != nil {
				return fmt.Errorf("bind %s: %w", p.name, err)
			}
			for _, a := range p.addrs {
				if _, err := c.AddAddress(ctx, &fibdpb.AddAddressRequest{Port: p.name, Prefix: a.String()}); err != nil {
					return err
				}
			}
		}
		if _, err := c.AddRoute(ctx, &fibdpb.AddRouteRequest{Route: &fibdpb.Route{FibId: id, Prefix: serverPrefix.String(), Source: "static",
			Paths: []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: gatewayAddr.Addr().String()}}}}); err != nil {
			return err
		}
	}
	return nil
}

// waitFlowing waits (at most 10 s) until every sink sees its flows.
func (tp *topology) waitFlowing(ctx context.Context, flows []*flow) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for _, f := range flows {
			if tp.tenants[f.tenant].sink.received(f.id, 0, f.mark()) == 0 {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("isolation: the flows did not get through fibd within 10 s")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// misdelivered sums the sinks' misdelivered frames and returns the last
// description of one.
func (tp *topology) misdelivered() (uint64, string) {
	var n uint64
	var why string
	for _, tn := range tp.tenants {
		n += tn.sink.misdelivered.Load()
		if p := tn.sink.lastBad.Load(); p != nil {
			why = *p
		}
	}
	return n, why
}
