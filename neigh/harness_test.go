package neigh_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/neigh"
	"github.com/fibd/fibd/neigh/neightest"
)

// The test topology. Ports 1 and 2 are in different FIBs but carry the
// same customer addressing (192.0.2.0/24, 2001:db8:1::/64) — the case that
// breaks neighbour tables keyed by IP alone. Port 3 is a second port of
// FIB 10.
const (
	fibA  adj.FIBID  = 10
	fibB  adj.FIBID  = 20
	port1 adj.PortID = 1
	port2 adj.PortID = 2
	port3 adj.PortID = 3
)

var (
	macPort1 = adj.MAC{0x02, 0, 0, 0, 0, 0x01}
	macPort2 = adj.MAC{0x02, 0, 0, 0, 0, 0x02}
	macPort3 = adj.MAC{0x02, 0, 0, 0, 0, 0x03}
	macN1    = adj.MAC{0x02, 0xaa, 0, 0, 0, 0x01}
	macN2    = adj.MAC{0x02, 0xaa, 0, 0, 0, 0x02}
	macN3    = adj.MAC{0x02, 0xaa, 0, 0, 0, 0x03}

	v4Local = netip.MustParseAddr("192.0.2.1")
	v4N     = netip.MustParseAddr("192.0.2.2")
	v6Local = netip.MustParseAddr("2001:db8:1::1")
	v6N     = netip.MustParseAddr("2001:db8:1::2")
	llPort1 = netip.MustParseAddr("fe80::1:1")
	llPort2 = netip.MustParseAddr("fe80::2:1")
	llPort3 = netip.MustParseAddr("fe80::3:1")

	t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
)

type harness struct {
	t    *testing.T
	tab  *neigh.Table
	env  *neightest.Env
	clk  *neightest.Clock
	adjs *adj.Table
}

// newHarness builds a Table over the topology with a fixed jitter of 0.5,
// which makes REACHABLE_TIME exactly BaseReachableTime.
func newHarness(t *testing.T, def neigh.FIBConfig) *harness {
	t.Helper()
	h := &harness{t: t, env: neightest.NewEnv(), clk: neightest.NewClock(t0), adjs: new(adj.Table)}
	h.env.AddPort(port1, neightest.Port{FIB: fibA, MAC: macPort1, LinkLocal: llPort1, Addrs: []netip.Prefix{
		netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8:1::1/64")}})
	h.env.AddPort(port2, neightest.Port{FIB: fibB, MAC: macPort2, LinkLocal: llPort2, Addrs: []netip.Prefix{
		netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8:1::1/64")}})
	h.env.AddPort(port3, neightest.Port{FIB: fibA, MAC: macPort3, LinkLocal: llPort3, Addrs: []netip.Prefix{
		netip.MustParsePrefix("198.51.100.1/24"), netip.MustParsePrefix("2001:db8:3::1/64")}})
	tab, err := neigh.New(neigh.Config{Adj: h.adjs, Env: h.env, Clock: h.clk, Rand: neightest.Rand(0.5), Defaults: def})
	if err != nil {
		t.Fatal(err)
	}
	h.tab = tab
	return h
}

func key(fib adj.FIBID, p adj.PortID, a netip.Addr) adj.Key {
	return adj.Key{FIB: fib, Port: p, Addr: a}
}

// state returns the entry's neighbour state, None if absent.
func (h *harness) state(k adj.Key) neigh.State {
	h.t.Helper()
	st := neigh.None
	h.tab.List(k.FIB, func(e neigh.Entry) bool {
		if e.Key == k {
			st = e.State
			return false
		}
		return true
	})
	return st
}

func (h *harness) entry(k adj.Key) (neigh.Entry, bool) {
	var out neigh.Entry
	found := false
	h.tab.List(k.FIB, func(e neigh.Entry) bool {
		if e.Key == k {
			out, found = e, true
			return false
		}
		return true
	})
	return out, found
}

func (h *harness) wantState(k adj.Key, want neigh.State) {
	h.t.Helper()
	if got := h.state(k); got != want {
		h.t.Fatalf("%v: state %v, want %v", k, got, want)
	}
}

// wantAdj checks the adjacency with k's key carries mac and st.
func (h *harness) wantAdj(k adj.Key, mac adj.MAC, st adj.State) {
	h.t.Helper()
	id, ok := h.adjs.Lookup(k)
	if !ok {
		h.t.Fatalf("%v: no adjacency", k)
	}
	gotMAC, gotSt := h.adjs.Get(id).LinkLayer()
	if gotSt != st || (st == adj.Valid && gotMAC != mac) {
		h.t.Fatalf("%v: adjacency %v %v, want %v %v", k, gotMAC, gotSt, mac, st)
	}
}

func (h *harness) counter(fib adj.FIBID, c neigh.Counter) uint64 {
	for _, f := range h.tab.Stats().FIBs {
		if f.FIB == fib {
			return f.Counter(c)
		}
	}
	return 0
}

func (h *harness) wantCounter(fib adj.FIBID, c neigh.Counter, want uint64) {
	h.t.Helper()
	if got := h.counter(fib, c); got != want {
		h.t.Fatalf("fib %d counter %s = %d, want %d", fib, c.Name(), got, want)
	}
}

// resolve calls Resolve and checks the outcome.
func (h *harness) resolve(k adj.Key, pkt []byte, wantOK bool) adj.MAC {
	h.t.Helper()
	mac, ok := h.tab.Resolve(k, pkt)
	if ok != wantOK {
		h.t.Fatalf("Resolve(%v) ok = %v, want %v", k, ok, wantOK)
	}
	return mac
}

// solicitation is a decoded ARP request or NS that neigh transmitted.
type solicitation struct {
	port    adj.PortID
	dst     adj.MAC // link-layer destination
	src     netip.Addr
	target  netip.Addr
	srcMAC  adj.MAC // ARP sender hardware address / SLLA
	ipDst   netip.Addr
	unicast bool
}

// takeSolicits decodes every transmitted frame as a solicitation; any other
// frame fails the test.
func (h *harness) takeSolicits() []solicitation {
	h.t.Helper()
	var out []solicitation
	for _, f := range h.env.TakeFrames() {
		switch f.EtherType {
		case neigh.EtherTypeARP:
			a, err := neigh.ParseARP(f.Payload)
			if err != nil || a.Op != neigh.ARPRequest {
				h.t.Fatalf("transmitted ARP is not a request: %+v %v", a, err)
			}
			out = append(out, solicitation{port: f.Port, dst: f.Dst, src: a.SenderIP, target: a.TargetIP,
				srcMAC: a.SenderMAC, unicast: f.Dst != neigh.BroadcastMAC})
		case neigh.EtherTypeIPv6:
			ns, err := neigh.ParseNS(f.Payload)
			if err != nil {
				h.t.Fatalf("transmitted IPv6 is not a valid NS: %v", err)
			}
			out = append(out, solicitation{port: f.Port, dst: f.Dst, src: ns.Src, target: ns.Target,
				srcMAC: ns.SourceLL, ipDst: ns.Dst, unicast: !ns.Dst.IsMulticast()})
		default:
			h.t.Fatalf("unexpected EtherType %#x", f.EtherType)
		}
	}
	return out
}

// family abstracts ARP and ND so each transition test runs on both.
type family struct {
	name     string
	local    netip.Addr // our address on ports 1 and 2
	neighbor netip.Addr // the neighbour under test
	// solicit injects a solicitation from the neighbour for our address:
	// an ARP request, or an NS with a source link-layer option.
	solicit func(h *harness, fib adj.FIBID, p adj.PortID, from netip.Addr, mac adj.MAC)
	// advertise injects an advertisement: for ND an NA with the given
	// flags; for ARP a reply to us when solicited, else a gratuitous ARP
	// (ARP has no override flag: both behave as O=1).
	advertise func(h *harness, fib adj.FIBID, p adj.PortID, from netip.Addr, mac adj.MAC, solicited, override bool)
}

var families = []family{
	{
		name: "arp", local: v4Local, neighbor: v4N,
		solicit: func(h *harness, fib adj.FIBID, p adj.PortID, from netip.Addr, mac adj.MAC) {
			h.tab.HandleARP(fib, p, mac, arpBytes(h.t, neigh.ARP{Op: neigh.ARPRequest, SenderMAC: mac, SenderIP: from, TargetIP: v4Local}))
		},
		advertise: func(h *harness, fib adj.FIBID, p adj.PortID, from netip.Addr, mac adj.MAC, solicited, _ bool) {
			a := neigh.ARP{Op: neigh.ARPReply, SenderMAC: mac, SenderIP: from, TargetMAC: portMAC(p), TargetIP: v4Local}
			if !solicited {
				a = neigh.ARP{Op: neigh.ARPRequest, SenderMAC: mac, SenderIP: from, TargetIP: from}
			}
			h.tab.HandleARP(fib, p, mac, arpBytes(h.t, a))
		},
	},
	{
		name: "nd", local: v6Local, neighbor: v6N,
		solicit: func(h *harness, fib adj.FIBID, p adj.PortID, from netip.Addr, mac adj.MAC) {
			h.tab.HandleICMPv6(fib, p, mac, nsBytes(h.t, neigh.NS{Src: from, Dst: neigh.SolicitedNode(v6Local),
				Target: v6Local, SourceLL: mac, HasSourceLL: true}))
		},
		advertise: func(h *harness, fib adj.FIBID, p adj.PortID, from netip.Addr, mac adj.MAC, solicited, override bool) {
			dst := v6Local
			if !solicited {
				dst = neigh.AllNodes
			}
			h.tab.HandleICMPv6(fib, p, mac, naBytes(h.t, neigh.NA{Src: from, Dst: dst, Target: from,
				Solicited: solicited, Override: override, TargetLL: mac, HasTargetLL: true}))
		},
	},
}

// forEachFamily runs fn as one subtest per family.
func forEachFamily(t *testing.T, fn func(t *testing.T, f family)) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) { fn(t, f) })
	}
}

func portMAC(p adj.PortID) adj.MAC {
	switch p {
	case port1:
		return macPort1
	case port2:
		return macPort2
	}
	return macPort3
}

func arpBytes(t testing.TB, a neigh.ARP) []byte {
	t.Helper()
	b := make([]byte, neigh.ARPLen)
	if _, err := neigh.BuildARP(b, a); err != nil {
		t.Fatal(err)
	}
	return b
}

func nsBytes(t testing.TB, ns neigh.NS) []byte {
	t.Helper()
	b := make([]byte, neigh.NSMaxLen)
	n, err := neigh.BuildNS(b, ns)
	if err != nil {
		t.Fatal(err)
	}
	return b[:n]
}

func naBytes(t testing.TB, na neigh.NA) []byte {
	t.Helper()
	b := make([]byte, neigh.NAMaxLen)
	n, err := neigh.BuildNA(b, na)
	if err != nil {
		t.Fatal(err)
	}
	return b[:n]
}
