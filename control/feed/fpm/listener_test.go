package fpm

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/controltest"
	"github.com/fibd/fibd/control/fibdpb"
)

// rig is a real control.Server behind real gRPC on a unix socket (the
// dataplane is controltest's fake: these tests are about the feed), FIB 10
// on eth1 and FIB 20 on eth2 with the same subnet, and a listener mapping
// zebra table 10 to FIB 10 and 20 to FIB 20.
type rig struct {
	t    *testing.T
	ctx  context.Context
	c    *client.Conn
	l    *Listener
	addr string
	ifs  map[uint32]string
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	c := controltest.Serve(t, "eth1", "eth2")
	r := &rig{t: t, ctx: t.Context(), c: c, ifs: map[uint32]string{5: "eth1", 6: "eth2", 7: "lo"}}
	for _, s := range []struct {
		fib  uint32
		port string
	}{{10, "eth1"}, {20, "eth2"}} {
		r.must2(c.CreateFib(r.ctx, &fibdpb.CreateFibRequest{FibId: s.fib}))
		r.must2(c.BindPort(r.ctx, &fibdpb.BindPortRequest{Interface: s.port, FibId: s.fib}))
		r.must2(c.AddAddress(r.ctx, &fibdpb.AddAddressRequest{Port: s.port, Prefix: "192.0.2.1/24"}))
		r.must2(c.AddAddress(r.ctx, &fibdpb.AddAddressRequest{Port: s.port, Prefix: "2001:db8:1::1/64"}))
	}
	if cfg.Tables == nil {
		cfg.Tables = map[uint32]uint32{10: 10, 20: 20}
	}
	if cfg.QuietPeriod == 0 {
		cfg.QuietPeriod = 300 * time.Millisecond
	}
	if cfg.MinResync == 0 {
		cfg.MinResync = time.Millisecond
	}
	cfg.InterfaceName = func(i uint32) (string, bool) { n, ok := r.ifs[i]; return n, ok }
	var err error
	r.l, err = New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	fln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = fln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.l.Serve(ctx, fln) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *rig) must2(_ any, err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// zebra is a connection that speaks as zebra does and collects the
// offload notifications the listener answers with.
type zebra struct {
	t    *testing.T
	conn net.Conn
	mu   sync.Mutex
	fb   map[netip.Prefix]uint32 // prefix → last rtm_flags
	n    atomic.Int64
	gone chan struct{}
}

func (r *rig) zebra() *zebra {
	r.t.Helper()
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	z := &zebra{t: r.t, conn: c, fb: map[netip.Prefix]uint32{}, gone: make(chan struct{})}
	r.t.Cleanup(func() { c.Close() })
	go z.read()
	return z
}

func (z *zebra) read() {
	defer close(z.gone)
	var h [4]byte
	buf := make([]byte, MaxFrame)
	for {
		if _, err := io.ReadFull(z.conn, h[:]); err != nil {
			return
		}
		p := buf[:int(binary.BigEndian.Uint16(h[2:]))-4]
		if _, err := io.ReadFull(z.conn, p); err != nil {
			return
		}
		msgs, err := ParseFrame(p, nil)
		if err != nil {
			z.t.Errorf("feedback frame: %v", err)
			return
		}
		for _, m := range msgs {
			if m.Type != rtmNewRoute || m.Flags&nlmFRequest == 0 || m.Route == nil {
				z.t.Errorf("feedback is not an RTM_NEWROUTE request: %+v", m)
				continue
			}
			z.mu.Lock()
			z.fb[m.Route.Dst] = m.Route.Flags
			z.mu.Unlock()
			z.n.Add(1)
		}
	}
}

func (z *zebra) send(msgs ...nlmsg) {
	z.t.Helper()
	if _, err := z.conn.Write(frame(msgs...)); err != nil {
		z.t.Fatal(err)
	}
}

func (z *zebra) flags(p netip.Prefix) (uint32, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	f, ok := z.fb[p]
	return f, ok
}

var (
	gw2  = netip.MustParseAddr("192.0.2.2")
	gw3  = netip.MustParseAddr("192.0.2.3")
	gw62 = netip.MustParseAddr("2001:db8:1::2")
	pA   = netip.MustParsePrefix("198.51.100.0/24")
	pB   = netip.MustParsePrefix("203.0.113.0/24")
	pC   = netip.MustParsePrefix("203.0.113.128/25")
	pD   = netip.MustParsePrefix("198.51.100.128/25")
	p6   = netip.MustParsePrefix("2001:db8:99::/48")
)

// lookup is what fibd forwards addr in fib to: the gateways, sorted, or
// the resolution's name.
func (r *rig) lookup(fib uint32, addr string) string {
	r.t.Helper()
	resp, err := r.c.LookupRoute(r.ctx, &fibdpb.LookupRouteRequest{FibId: fib, Address: addr})
	if err != nil {
		r.t.Fatal(err)
	}
	var gws []string
	for _, h := range resp.GetEcmp() {
		gws = append(gws, h.GetGateway())
	}
	if len(gws) == 0 && resp.GetNextHop() != "" {
		gws = append(gws, resp.GetNextHop())
	}
	slices.Sort(gws)
	if len(gws) > 0 {
		return strings.Join(gws, ",")
	}
	return strings.ToLower(strings.TrimPrefix(resp.GetResolution().String(), "RESOLUTION_"))
}

func (r *rig) eventually(what string, fn func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *rig) expect(fib uint32, addr, want string) {
	r.t.Helper()
	var got string
	r.eventually(addr+" in fib "+want, func() bool { got = r.lookup(fib, addr); return got == want })
}

// TestRoutesAndNexthopGroups: what FRR 8.4 sends with fpm use-next-hop-groups
// lands in the table's FIB, next-hop groups as fibd groups, and each route
// is answered with RTM_F_OFFLOAD.
func TestRoutesAndNexthopGroups(t *testing.T) {
	r := newRig(t, Config{})
	z := r.zebra()
	z.send(newNexthop(1, 1, gw2, 5), newNexthop(2, 2, gw3, 5), newGroup(3, 3, []uint32{1, 2}, []uint8{1, 1}),
		newNexthop(4, 4, gw62, 5))
	z.send(newRouteNH(5, pA, 10, 3), newRouteNH(6, pB, 10, 1), newRouteNH(7, p6, 10, 4),
		newRouteType(8, pC, 10, rtnBlackhole), newRouteVia(9, pD, 20, gw3, 6),
		newRouteMultipath(10, netip.MustParsePrefix("198.51.100.64/26"), 20, []netip.Addr{gw2, gw3}, []uint8{1, 3}))
	r.expect(10, "198.51.100.7", "192.0.2.2,192.0.2.3")
	r.expect(10, "203.0.113.7", "192.0.2.2")
	r.expect(10, "2001:db8:99::1", "2001:db8:1::2")
	r.expect(10, "203.0.113.200", "blackhole")
	r.expect(20, "198.51.100.200", "192.0.2.3")
	r.expect(20, "198.51.100.70", "192.0.2.2,192.0.2.3")
	// FIB 20 has none of table 10's routes, and FIB 10 none of table 20's.
	if got := r.lookup(20, "203.0.113.7"); got != "miss" {
		t.Errorf("table 10's route leaked into fib 20: %s", got)
	}
	if got := r.lookup(10, "198.51.100.200"); got != "192.0.2.2,192.0.2.3" {
		t.Errorf("fib 10 198.51.100.200 forwards %s, want its own /24", got)
	}
	r.eventually("six offload notifications", func() bool { return z.n.Load() == 6 })
	for _, p := range []netip.Prefix{pA, pB, pC, pD, p6} {
		if f, _ := z.flags(p); f != rtmFOffload {
			t.Errorf("%s: feedback flags %#x, want RTM_F_OFFLOAD", p, f)
		}
	}

	// One group replace re-points its routes: member 2 leaves group 3.
	z.send(newGroup(11, 3, []uint32{1}, []uint8{1}))
	r.expect(10, "198.51.100.7", "192.0.2.2")
	// A singleton's gateway moves: every group with it follows.
	z.send(newNexthop(12, 1, gw3, 5))
	r.expect(10, "198.51.100.7", "192.0.2.3")
	r.expect(10, "203.0.113.7", "192.0.2.3")

	// An update as FRR 8.4 sends it: DEL and NEW of the prefix in one
	// frame; and a withdraw.
	z.send(delRoute(13, pB, 10), newRouteNH(14, pB, 10, 2), delRoute(15, pC, 10))
	r.expect(10, "203.0.113.200", "192.0.2.3")
	st := r.l.Stats()
	if st.Routes != 7 || st.Deletes != 2 || st.Nexthops != 6 {
		t.Errorf("stats %+v", st)
	}
}

// TestIgnoredCounted: kernel routes, unmapped tables, MPLS and EVPN MACs
// are counted and change nothing.
func TestIgnoredCounted(t *testing.T) {
	r := newRig(t, Config{})
	z := r.zebra()
	kernel := message(rtmNewRoute, nlmFRequest, 1, rtmsg(pA, 10, rtprotKernel, rtnUnicast), attr(rtaGateway, gw2.AsSlice()))
	mpls := message(rtmNewRoute, nlmFRequest, 2, []byte{afMPLS, 20, 0, 0, 0, rtprotBGP, 0, rtnUnicast, 0, 0, 0, 0})
	mac := message(rtmNewNeigh, nlmFRequest, 3, make([]byte, 12))
	z.send(kernel, newRouteVia(4, pB, 30, gw2, 5), mpls, mac, newRouteVia(5, pD, 10, gw2, 5))
	r.expect(10, "198.51.100.200", "192.0.2.2")
	if got := r.lookup(10, "198.51.100.7"); got != "miss" {
		t.Errorf("kernel route installed: %s", got)
	}
	st := r.l.Stats()
	want := []string{"MPLS label route", "kernel route", "neighbour (EVPN MAC)", "table 30 (mapped to no FIB)"}
	if !slices.Equal(st.IgnoredReasons(), want) {
		t.Errorf("ignored %v, want %v", st.Ignored, want)
	}
}

// TestUnsupportedAnsweredFailed: a route fibd cannot forward (an MPLS
// encapsulation) is not installed, what it replaces is withdrawn, and zebra
// hears RTM_F_OFFLOAD_FAILED; so does a route fibd refuses, and the rest of
// its batch is installed.
func TestUnsupportedAnsweredFailed(t *testing.T) {
	r := newRig(t, Config{})
	z := r.zebra()
	z.send(newRouteVia(1, pA, 10, gw2, 5))
	r.expect(10, "198.51.100.7", "192.0.2.2")
	encap := message(rtmNewRoute, nlmFRequest, 2, rtmsg(pA, 10, rtprotBGP, rtnUnicast),
		attr(rtaGateway, gw2.AsSlice()), attr(rtaEncapType, []byte{1, 0}))
	// A gateway on no connected subnet and an attached route on an
	// interface that is no fibd port.
	lo := message(rtmNewRoute, nlmFRequest, 3, rtmsg(pB, 10, rtprotStatic, rtnUnicast), attr32(rtaOIF, 7))
	z.send(encap, lo, newRouteVia(4, pD, 10, gw3, 5))
	r.expect(10, "198.51.100.7", "miss")
	r.expect(10, "198.51.100.200", "192.0.2.3")
	r.eventually("failure notifications", func() bool {
		fa, _ := z.flags(pA)
		fb, _ := z.flags(pB)
		return fa == rtmFOffloadFailed && fb == rtmFOffloadFailed
	})
	if f, _ := z.flags(pD); f != rtmFOffload {
		t.Errorf("%s flags %#x", pD, f)
	}
	if r.l.Stats().Unsupported != 2 {
		t.Errorf("unsupported %d", r.l.Stats().Unsupported)
	}
}

// TestMalformedFrameClosesAndKeepsRoutes: a bad frame closes the
// connection and changes nothing; zebra's next connection resyncs.
func TestMalformedFrameClosesAndKeepsRoutes(t *testing.T) {
	r := newRig(t, Config{})
	z := r.zebra()
	z.send(newRouteVia(1, pA, 10, gw2, 5))
	r.expect(10, "198.51.100.7", "192.0.2.2")
	// A good message and a truncated one in one frame: refused whole.
	bad := frame(newRouteVia(2, pB, 10, gw2, 5), message(rtmNewRoute, nlmFRequest, 3, []byte{afInet, 24}))
	if _, err := z.conn.Write(bad); err != nil {
		t.Fatal(err)
	}
	select {
	case <-z.gone:
	case <-time.After(5 * time.Second):
		t.Fatal("listener kept a connection that sent a malformed frame")
	}
	if got := r.lookup(10, "203.0.113.7"); got != "miss" {
		t.Errorf("part of a malformed frame was applied: %s", got)
	}
	if got := r.lookup(10, "198.51.100.7"); got != "192.0.2.2" {
		t.Errorf("an installed route was touched: %s", got)
	}
	// A bad header too.
	z2 := r.zebra()
	if _, err := z2.conn.Write([]byte{2, 1, 0, 4}); err != nil {
		t.Fatal(err)
	}
	<-z2.gone
	if r.l.Stats().Malformed != 2 {
		t.Errorf("malformed %d", r.l.Stats().Malformed)
	}
	z3 := r.zebra()
	z3.send(newRouteVia(1, pA, 10, gw3, 5))
	r.expect(10, "198.51.100.7", "192.0.2.3")
}

// TestReconnectResyncsWithoutMiss: zebra reconnects and resends part of
// its table, with new nexthop IDs that reuse the old ones for other
// gateways; no resent prefix misses or forwards to a wrong gateway at
// any time, and what was not resent goes after the quiet period.
func TestReconnectResyncsWithoutMiss(t *testing.T) {
	r := newRig(t, Config{QuietPeriod: 500 * time.Millisecond})
	z := r.zebra()
	z.send(newNexthop(1, 1, gw2, 5), newNexthop(2, 2, gw3, 5))
	z.send(newRouteNH(3, pA, 10, 1), newRouteNH(4, pB, 10, 2), newRouteNH(5, pD, 10, 2))
	r.expect(10, "203.0.113.7", "192.0.2.3")
	r.eventually("first resync closed", func() bool { return r.l.Stats().Resyncs == 1 })

	var bad atomic.Int64
	var badWhat atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			a := r.lookup(10, "198.51.100.7")
			b := r.lookup(10, "203.0.113.7")
			if a != "192.0.2.2" || b != "192.0.2.3" {
				bad.Add(1)
				badWhat.Store(a + " " + b)
			}
		}
	})
	z.conn.Close()
	z2 := r.zebra()
	// The new zebra numbers its nexthops the other way round.
	z2.send(newNexthop(1, 1, gw3, 5), newNexthop(2, 2, gw2, 5))
	z2.send(newRouteNH(3, pA, 10, 2), newRouteNH(4, pB, 10, 1))
	r.eventually("second resync closed", func() bool { return r.l.Stats().Resyncs == 2 })
	r.expect(10, "198.51.100.200", "192.0.2.2") // pD swept: covered by pA again
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d lookups saw a missing or wrong route during the resync (last: %v)", bad.Load(), badWhat.Load())
	}
	groups, err := r.c.ListNextHopGroups(r.ctx, &fibdpb.ListNextHopGroupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		resp, err := groups.Recv()
		if err != nil {
			break
		}
		n += len(resp.GetGroups())
	}
	if n != 2 {
		t.Errorf("%d next-hop groups after the resync, want the new session's 2", n)
	}
}
