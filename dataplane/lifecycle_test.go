package dataplane_test

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/pktiotest"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// portInfo returns the engine's description of a port, by name.
func (r *rig) portInfo(name string) dataplane.PortInfo {
	r.t.Helper()
	for _, p := range r.e.Ports() {
		if p.Name == name {
			return p
		}
	}
	r.t.Fatalf("no port %q", name)
	return dataplane.PortInfo{}
}

// drainAnnouncements waits for what an interface sends when it comes up
// (gratuitous ARP, unsolicited NA) and checks that is all it was.
func (r *rig) drainAnnouncements(ifname string) {
	r.t.Helper()
	time.Sleep(30 * time.Millisecond)
	for _, f := range r.io(ifname).Written() {
		p := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
		if p.Layer(layers.LayerTypeARP) == nil && p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement) == nil {
			r.t.Fatalf("%s sent %v on coming up, want only announcements", ifname, p)
		}
	}
}

// waitPort waits (bounded) until the port's state is up (or down).
func (r *rig) waitPort(name string, up bool) dataplane.PortInfo {
	r.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		p := r.portInfo(name)
		if p.Up == up || time.Now().After(deadline) {
			if p.Up != up {
				r.t.Fatalf("port %s: up %v (%s), want %v", name, p.Up, p.Reason, up)
			}
			return p
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestInterfaceDeletedAndRecreatedIsReopened deletes the egress interface
// and makes a new one under the same name (a new ifindex, a new MAC): the
// port waits, down with the reason, and forwards again on the new
// interface, which is prepared afresh. A replacement seen without its
// delete event (events lost) is reopened too.
func TestInterfaceDeletedAndRecreatedIsReopened(t *testing.T) {
	r := newRig(t, 2)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	send := func() {
		r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
	}
	send()
	r.expect("eth1", 1)

	r.links.remove("eth1")
	p := r.waitPort("eth1", false)
	if p.Reason != "interface missing" {
		t.Fatalf("port eth1 down because %q, want \"interface missing\"", p.Reason)
	}
	send()
	r.settle()
	if n := r.portInfo("eth0").Counters.Drops["egress-down"]; n != 1 {
		t.Fatalf("frame to a deleted interface: egress-down %d, want 1", n)
	}

	newMAC := adj.MAC{2, 0, 0, 0, 0x11, 1}
	r.links.add("eth1", 77, newMAC)
	p = r.waitPort("eth1", true)
	if p.Ifindex != 77 || p.MAC != newMAC {
		t.Fatalf("port eth1 on ifindex %d, MAC %v; want the new interface 77, %v", p.Ifindex, p.MAC, newMAC)
	}
	r.drainAnnouncements("eth1")
	if n := r.links.timesPrepared("eth1"); n != 2 {
		t.Fatalf("eth1 prepared %d times, want 2 (the new interface is the kernel's until prepared)", n)
	}
	send()
	out := r.expect("eth1", 1)[0]
	if got := adj.MAC(ethOf(t, out).SrcMAC); got != newMAC {
		t.Fatalf("forwarded from %v, want the new interface's MAC %v", got, newMAC)
	}

	// Deleted and recreated between two events the engine saw: only the
	// new ifindex tells.
	r.links.add("eth1", 78, newMAC)
	deadline := time.Now().Add(2 * time.Second)
	for r.portInfo("eth1").Ifindex != 78 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if p := r.waitPort("eth1", true); p.Ifindex != 78 {
		t.Fatalf("port eth1 still on ifindex %d after the interface was replaced by 78", p.Ifindex)
	}
	r.drainAnnouncements("eth1")
	send()
	r.expect("eth1", 1)
}

// TestPortBoundBeforeItsInterfaceExists: the bind succeeds, the port is
// down ("interface missing") and comes up, forwarding, when the interface
// appears.
func TestPortBoundBeforeItsInterfaceExists(t *testing.T) {
	r := newRig(t, 1)
	r.twoPorts(10, "eth0", "eth5", 0, serverMAC)
	if p := r.portInfo("eth5"); p.Up || p.Reason != "interface missing" {
		t.Fatalf("port of an absent interface: up %v, reason %q", p.Up, p.Reason)
	}
	r.links.add("eth5", 55, ifMAC(5))
	r.waitPort("eth5", true)
	r.drainAnnouncements("eth5")
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
	r.expect("eth5", 1)
}

// blockingLinks makes Prepare of one interface wait until released, as a
// slow netlink call or an XDP attach retrying EBUSY would.
type blockingLinks struct {
	*fakeLinks
	name    string
	entered chan struct{}
	release chan struct{}
}

func (l *blockingLinks) Prepare(name string) (dataplane.Prepared, error) {
	if name == l.name {
		close(l.entered)
		<-l.release
	}
	return l.fakeLinks.Prepare(name)
}

// TestPacketPathNeverWaitsForControl holds a bind in interface preparation
// and, separately, the engine's mutex itself, while traffic flows — into a
// FIB without ports (a leak target) among others, whose first packet once
// needed the engine's mutex. Forwarding, Ports and Stats go on.
func TestPacketPathNeverWaitsForControl(t *testing.T) {
	r := newRig(t, 3)
	bl := &blockingLinks{fakeLinks: r.links, name: "eth2", entered: make(chan struct{}), release: make(chan struct{})}
	// The rig's engine uses r.links; make one over the blocking links.
	e, err := dataplane.New(dataplane.Config{Registry: r.reg, Open: func(name string, _ int, _ dataplane.OpenOptions) ([]dataplane.PacketIO, string, error) {
		return []dataplane.PacketIO{r.io(name)}, "fake", nil
	}, Links: bl})
	if err != nil {
		t.Fatal(err)
	}
	r.e.Close()
	r.e = e
	t.Cleanup(func() { e.Close() })
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	// 203.0.113.0/24 leaks into FIB 30, which has no port and answers
	// unreachable.
	r.fib(30)
	r.route(10, "203.0.113.0/24", fib.Path{Kind: fib.PathLookup, FIB: 30})
	r.route(30, "203.0.113.0/24", fib.Path{Kind: fib.PathUnreachable})
	leaked := func() uint64 { return e.FIBCounters()[30].Drops["unreachable"] }
	waitLeaked := func(n uint64) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for leaked() < n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := leaked(); got < n {
			t.Fatalf("FIB 30 counted %d leaked packets, want %d", got, n)
		}
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := e.BindPort(dataplane.PortSpec{Interface: "eth2"}, 10); err != nil {
			t.Errorf("bind eth2: %v", err)
		}
	}()
	<-bl.entered
	send := func() {
		r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
		r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "203.0.113.9", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
	}
	// While a bind prepares an interface: the first packet into FIB 30
	// creates its counters.
	send()
	r.expect("eth1", 1)
	waitLeaked(1)
	if len(e.Ports()) != 3 {
		t.Fatalf("Ports during a bind: %d, want 3", len(e.Ports()))
	}
	close(bl.release)
	wg.Wait()

	// With the engine's mutex held, as by a control call.
	release := dataplane.HoldLock(e)
	defer release()
	send()
	r.expect("eth1", 1)
	waitLeaked(2)
}

// TestReceiveErrorBacksOff: a receive error that does not go away is
// retried with a growing pause, not in a spin, and shown in the port's
// state until reads succeed again.
func TestReceiveErrorBacksOff(t *testing.T) {
	r := newRig(t, 2)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	io := r.io("eth0")
	io.SetReadError(errors.New("device reset"))
	time.Sleep(300 * time.Millisecond)
	n := io.Stats().ReadErrors
	// Doubling from 1 ms, 300 ms hold about nine tries; a spin makes
	// hundreds of thousands.
	if n == 0 || n > 30 {
		t.Fatalf("%d receive attempts in 300 ms of errors, want a backoff (1-30)", n)
	}
	p := r.portInfo("eth0")
	if p.Up || !strings.Contains(p.Reason, "receive failing: device reset") {
		t.Fatalf("port eth0 during receive errors: up %v, reason %q", p.Up, p.Reason)
	}
	if got := r.e.Unknown()["eth0"].RxErrors; got != n {
		t.Fatalf("interface rx errors %d, want %d", got, n)
	}
	io.SetReadError(nil)
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
	r.expect("eth1", 1)
	if p := r.waitPort("eth0", true); p.Reason != "" {
		t.Fatalf("port eth0 up again with reason %q", p.Reason)
	}
}

// TestOversizeFrameMidBatchCountsTheRightFrame: the egress I/O refuses the
// middle frame of a batch; that one is counted refused, and the frame
// after it still goes out.
func TestOversizeFrameMidBatchCountsTheRightFrame(t *testing.T) {
	r := newRig(t, 2)
	r.mu.Lock()
	r.ios["eth1"] = pktiotest.New(pktiotest.Config{MaxTxFrame: 300})
	r.mu.Unlock()
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	// Many triples, so that most share a batch with their neighbours.
	const triples = 50
	for i := 0; i < triples; i++ {
		for _, size := range []int{10, 600, 20} {
			r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), payload: size}),
				dataplane.RxMeta{})
		}
	}
	got := r.expect("eth1", 2*triples)
	for i, p := range got {
		want := 10
		if i%2 == 1 {
			want = 20
		}
		if n := len(ipv4Of(t, p).Payload) - 8; n != want {
			t.Fatalf("frame %d carries %d bytes, want %d (frames in order, the long ones refused)", i, n, want)
		}
	}
	c := r.portInfo("eth1").Counters
	if c.TxPackets != 2*triples || c.Drops["tx-refused"] != triples || c.Drops["tx-full"] != 0 {
		t.Fatalf("eth1 counters: tx %d, drops %v; want tx %d, tx-refused %d", c.TxPackets, c.Drops, 2*triples, triples)
	}
}

// TestUnresolvedGatewayIsCountedAsSuch: a route whose gateway is on no
// connected subnet answers host unreachable and counts "unresolved", not
// "unreachable" (which is an unreachable route's).
func TestUnresolvedGatewayIsCountedAsSuch(t *testing.T) {
	r := newRig(t, 2)
	_, b := r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	r.route(10, "203.0.113.0/24", via("198.51.100.20"))
	// The gateway's subnet goes: the route stays, unresolved.
	if err := r.fib(10).DeleteAddress(b, netip.MustParsePrefix("198.51.100.1/24")); err != nil {
		t.Fatal(err)
	}
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "203.0.113.5", dstMAC: ifMAC(0)}), dataplane.RxMeta{})
	r.expect("eth0", 1)
	if d := r.portInfo("eth0").Counters.Drops; d["unresolved"] != 1 || d["unreachable"] != 0 {
		t.Fatalf("drops %v, want unresolved 1", d)
	}
}

// TestLinkWatchSurvivesAnOverrun: the kernel ends the link subscription
// (a netlink overrun loses events); the engine subscribes again and checks
// every interface, so a deletion it never heard of is still seen.
func TestLinkWatchSurvivesAnOverrun(t *testing.T) {
	r := newRig(t, 2)
	r.twoPorts(10, "eth0", "eth1", 0, serverMAC)
	r.links.removeQuietly("eth1")
	before := r.links.overrun()
	if p := r.waitPort("eth1", false); p.Reason != "interface missing" {
		t.Fatalf("eth1 down because %q after the resync, want \"interface missing\"", p.Reason)
	}
	r.links.watcher()
	r.links.mu.Lock()
	after := r.links.watches
	r.links.mu.Unlock()
	if after != before+1 {
		t.Fatalf("%d subscriptions after the overrun, want %d", after, before+1)
	}
	// And it follows links again.
	r.links.add("eth1", 91, ifMAC(1))
	r.waitPort("eth1", true)
}

// TestMTURaisedPastTheBuffersReopens: an interface whose MTU is raised to
// jumbo size while open is opened again with buffers that hold its frames
// (its ports stay bound and come back up); a smaller change does nothing.
func TestMTURaisedPastTheBuffersReopens(t *testing.T) {
	r := newRig(t, 2)
	p := r.port("eth0", 0, 10, "192.0.2.1/24")
	setMTU := func(mtu int) {
		fn := r.links.watcher()
		r.links.mu.Lock()
		li := r.links.links["eth0"]
		li.MTU = mtu
		r.links.links["eth0"] = li
		r.links.mu.Unlock()
		fn(li, false)
	}
	opened := func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.opened["eth0"]
	}
	setMTU(1400)
	if n := opened(); n != 1 {
		t.Fatalf("a smaller MTU reopened the interface (%d opens)", n)
	}
	setMTU(9000)
	if n := opened(); n != 2 {
		t.Fatalf("MTU 9000: %d opens, want 2 (reopened with jumbo buffers)", n)
	}
	for _, pi := range r.e.Ports() {
		if pi.ID == p && (!pi.Up || pi.MTU != 9000) {
			t.Fatalf("after the reopen: %+v", pi)
		}
	}
}
