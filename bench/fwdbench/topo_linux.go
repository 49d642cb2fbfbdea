package fwdbench

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/netnstest"
)

// Locally administered MACs, fixed so frames can be pre-built.
var (
	macSrc  = adj.MAC{0x02, 0xfb, 0, 0, 0, 0x01}
	macR0   = adj.MAC{0x02, 0xfb, 0, 0, 0, 0x02}
	macR1   = adj.MAC{0x02, 0xfb, 0, 0, 0, 0x03}
	macSink = adj.MAC{0x02, 0xfb, 0, 0, 0, 0x04}
)

// Interface names inside the namespaces (private, so fixed names are safe).
const (
	ifSrc  = "src0"
	ifR0   = "r0"
	ifR1   = "r1"
	ifSink = "dst0"
)

// topology is src (src0) ↔ (r0) router (r1) ↔ (dst0) dst.
type topology struct {
	tb               netnstest.TB
	src, router, dst *netnstest.NS
	sinkNL           *netlink.Handle
	sinkSock         int
	sinkXDP          *xdpSink
	// readyTimeout bounds how long a forwarder may take to be ready; 0 is
	// 10 s (a full table into the fast path's maps takes longer).
	readyTimeout time.Duration
}

func newTopology(tb netnstest.TB, sink Sink, queues int) *topology {
	tb.Helper()
	queues = max(queues, 1)
	netnstest.Require(tb)
	t := &topology{
		tb:     tb,
		src:    netnstest.New(tb, "src"),
		router: netnstest.New(tb, "rtr"),
		dst:    netnstest.New(tb, "dst"),
	}
	a, b, c, d := netnstest.Name("s"), netnstest.Name("a"), netnstest.Name("b"), netnstest.Name("d")
	netnstest.VethQueues(tb, a, t.src, b, t.router, queues)
	netnstest.VethQueues(tb, c, t.router, d, t.dst, queues)
	for _, e := range []struct {
		ns       *netnstest.NS
		dev, new string
		mac      adj.MAC
	}{{t.src, a, ifSrc, macSrc}, {t.router, b, ifR0, macR0}, {t.router, c, ifR1, macR1}, {t.dst, d, ifSink, macSink}} {
		e.ns.Exec("ip", "link", "set", e.dev, "down")
		e.ns.Exec("ip", "link", "set", e.dev, "address", e.mac.String(), "name", e.new)
		e.ns.Sysctl("net/ipv6/conf/"+e.new+"/disable_ipv6", "1")
		e.ns.Exec("ip", "link", "set", e.new, "up")
	}
	t.src.Exec("ip", "addr", "add", pfx(SrcAddr, SrcPrefix), "dev", ifSrc)

	t.dst.Exec("ip", "addr", "add", pfx(SinkAddr, SinkPrefix), "dev", ifSink)
	switch sink {
	case SinkXDP:
		t.dst.Exec("ip", "route", "add", "local", DestPrefix.String(), "dev", "lo")
		if err := t.dst.Do(func() (err error) { t.sinkXDP, err = attachXDPSink(ifSink); return err }); err != nil {
			tb.Fatalf("sink: %v", err)
		}
		tb.Cleanup(t.sinkXDP.close)
	case SinkBlackhole:
		// The sink routes the range into a blackhole: dropped at the
		// input route lookup (the sink does not forward, so no ICMP).
		t.dst.Exec("ip", "route", "add", "blackhole", DestPrefix.String())
	default:
		// The sink owns the whole destination range and discards at a
		// bound, never-read UDP socket: no ICMP port unreachable per
		// packet, and packets still show in dst0's rx_packets.
		t.dst.Exec("ip", "route", "add", "local", DestPrefix.String(), "dev", "lo")
		if err := t.dst.Do(func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			t.sinkSock = fd
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 0) // the kernel's minimum
			return unix.Bind(fd, &unix.SockaddrInet4{Port: int(DiscardPort)})
		}); err != nil {
			tb.Fatalf("sink socket: %v", err)
		}
		tb.Cleanup(func() { _ = unix.Close(t.sinkSock) })
	}
	h, err := netns.GetFromName(t.dst.Name)
	if err != nil {
		tb.Fatalf("sink namespace: %v", err)
	}
	defer h.Close()
	if t.sinkNL, err = netlink.NewHandleAt(h); err != nil {
		tb.Fatalf("sink netlink: %v", err)
	}
	tb.Cleanup(t.sinkNL.Close)
	return t
}

func pfx(a netip.Addr, p netip.Prefix) string {
	return netip.PrefixFrom(a, p.Bits()).String()
}

// kernelRouting configures the router namespace for Linux forwarding:
// addresses, a route for the destinations via the sink, its neighbour
// entry pinned, ip_forward on. Idempotent.
func (t *topology) kernelRouting() {
	r := t.router
	r.Exec("ip", "addr", "replace", pfx(RouterIn, SrcPrefix), "dev", ifR0)
	r.Exec("ip", "addr", "replace", pfx(RouterOut, SinkPrefix), "dev", ifR1)
	r.Exec("ip", "neigh", "replace", SinkAddr.String(), "lladdr", macSink.String(), "dev", ifR1, "nud", "permanent")
	r.Exec("ip", "route", "replace", DestPrefix.String(), "via", SinkAddr.String(), "dev", ifR1)
	r.Sysctl("net.ipv4.ip_forward", "1")
}

// noKernelRouting turns Linux forwarding off in the router namespace
// before a userspace forwarder takes the ports.
func (t *topology) noKernelRouting() {
	t.router.Sysctl("net.ipv4.ip_forward", "0")
}

// sinkRx returns the frames the sink received: its XDP program's count,
// or dst0's rx_packets.
func (t *topology) sinkRx() uint64 {
	if t.sinkXDP != nil {
		n, err := t.sinkXDP.count()
		if err != nil {
			t.tb.Fatalf("sink count: %v", err)
		}
		return n
	}
	l, err := t.sinkNL.LinkByName(ifSink)
	if err != nil {
		t.tb.Fatalf("sink stats: %v", err)
	}
	return l.Attrs().Statistics.RxPackets
}

// sinkICMPUnreachables returns the sink's Icmp OutDestUnreachs, which must
// stay 0: the sink must not answer the traffic.
func (t *topology) sinkICMPUnreachables() uint64 {
	var v uint64
	if err := t.dst.Do(func() error {
		b, err := os.ReadFile("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		v, err = snmpField(string(b), "Icmp:", "OutDestUnreachs")
		return err
	}); err != nil {
		t.tb.Fatalf("sink snmp: %v", err)
	}
	return v
}

// snmpField picks one counter out of /proc/net/snmp's header/value line
// pairs.
func snmpField(snmp, section, field string) (uint64, error) {
	lines := strings.Split(snmp, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], section) || !strings.HasPrefix(lines[i+1], section) {
			continue
		}
		names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		for j := range names {
			if names[j] == field && j < len(vals) {
				return strconv.ParseUint(vals[j], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("fwdbench: %s %s not in snmp", section, field)
}

// env describes the router side for a forwarder.
func (t *topology) env(ready func()) *Env {
	return &Env{
		In: ifR0, Out: ifR1, InMAC: macR0, OutMAC: macR1,
		NextHop: SinkAddr, NextHopMAC: macSink, Dests: DestPrefix,
		ready: ready,
	}
}
