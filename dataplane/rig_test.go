package dataplane_test

import (
	"cmp"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/pktiotest"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/neigh"
	"github.com/fibd/fibd/neigh/neightest"
)

// fakeLinks is a Links with interfaces the test declares.
type fakeLinks struct {
	mu       sync.Mutex
	links    map[string]dataplane.LinkInfo
	watch    func(dataplane.LinkInfo, bool)
	prepared map[string]int
	stripped map[string]bool // interfaces whose VLAN stripping stays on
	kill     chan struct{}   // ends the current Watch with an error
	watches  int
}

func (l *fakeLinks) ByName(name string) (dataplane.LinkInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	li, ok := l.links[name]
	if !ok {
		return li, errors.New("no such link")
	}
	return li, nil
}

func (l *fakeLinks) Prepare(name string) (dataplane.Prepared, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prepared[name]++
	return dataplane.Prepared{Release: func() error { return nil }, VLANStripped: l.stripped[name]}, nil
}

func (l *fakeLinks) Watch(done <-chan struct{}, fn func(dataplane.LinkInfo, bool)) error {
	kill := make(chan struct{})
	l.mu.Lock()
	l.watch, l.kill = fn, kill
	l.watches++
	l.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-kill:
		return errors.New("netlink: no buffer space available (events lost)")
	}
}

// overrun ends the current subscription, as a netlink overrun does, and
// returns how many the engine had made.
func (l *fakeLinks) overrun() int {
	l.watcher()
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.kill)
	l.watch = nil
	return l.watches
}

// removeQuietly deletes interface name without telling anyone: an event
// lost in an overrun.
func (l *fakeLinks) removeQuietly(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.links, name)
}

// watcher waits (bounded) for the engine to subscribe, on its own goroutine.
func (l *fakeLinks) watcher() func(dataplane.LinkInfo, bool) {
	for i := 0; i < 1000; i++ {
		l.mu.Lock()
		fn := l.watch
		l.mu.Unlock()
		if fn != nil {
			return fn
		}
		time.Sleep(time.Millisecond)
	}
	panic("the engine never watched links")
}

func (l *fakeLinks) setUp(name string, up bool) {
	fn := l.watcher()
	l.mu.Lock()
	li := l.links[name]
	li.Up = up
	l.links[name] = li
	l.mu.Unlock()
	fn(li, false)
}

// remove deletes interface name, as the kernel reports it.
func (l *fakeLinks) remove(name string) {
	fn := l.watcher()
	l.mu.Lock()
	li := l.links[name]
	delete(l.links, name)
	l.mu.Unlock()
	fn(li, true)
}

// add creates interface name with ifindex index (up), as the kernel
// reports it.
func (l *fakeLinks) add(name string, index int, mac adj.MAC) {
	fn := l.watcher()
	li := dataplane.LinkInfo{Name: name, Index: index, MAC: mac, MTU: 1500, Up: true}
	l.mu.Lock()
	l.links[name] = li
	l.mu.Unlock()
	fn(li, false)
}

func (l *fakeLinks) timesPrepared(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.prepared[name]
}

// rig is an engine over in-memory interfaces eth0, eth1, … with MACs
// 02:00:00:00:00:0N.
type rig struct {
	t     testing.TB
	reg   *fib.Registry
	e     *dataplane.Engine
	links *fakeLinks
	clock *neightest.Clock
	// ios holds each interface's packet I/O; opening an interface again
	// (after it was deleted) makes a new one.
	mu     sync.Mutex
	ios    map[string]*pktiotest.IO
	opened map[string]int
}

// io returns ifname's current packet I/O.
func (r *rig) io(ifname string) *pktiotest.IO {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ios[ifname]
}

func ifMAC(i int) adj.MAC { return adj.MAC{2, 0, 0, 0, 0, byte(i)} }

func newRig(t testing.TB, nIfaces int) *rig { return newRigWith(t, nIfaces, nil) }

// newRigWith is newRig with cfg edited by edit before the engine starts.
func newRigWith(t testing.TB, nIfaces int, edit func(*dataplane.Config)) *rig {
	r := &rig{t: t, reg: fib.NewRegistry(fib.Options{}), ios: map[string]*pktiotest.IO{}, opened: map[string]int{},
		links: &fakeLinks{links: map[string]dataplane.LinkInfo{}, prepared: map[string]int{}, stripped: map[string]bool{}},
		clock: neightest.NewClock(time.Unix(1e9, 0))}
	for i := 0; i < nIfaces; i++ {
		name := "eth" + string(rune('0'+i))
		r.links.links[name] = dataplane.LinkInfo{Name: name, Index: 10 + i, MAC: ifMAC(i), MTU: 1500, Up: true}
		r.ios[name] = pktiotest.New(pktiotest.Config{})
	}
	open := func(name string, _ int, _ dataplane.OpenOptions) ([]dataplane.PacketIO, string, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		io := r.ios[name]
		if r.opened[name] > 0 || io == nil {
			io = pktiotest.New(pktiotest.Config{})
			r.ios[name] = io
		}
		r.opened[name]++
		return []dataplane.PacketIO{io}, "fake", nil
	}
	cfg := dataplane.Config{Registry: r.reg, Open: open, Links: r.links,
		Neigh: neigh.Config{Clock: r.clock, Rand: neightest.Rand(0.5)}}
	if edit != nil {
		edit(&cfg)
	}
	e, err := dataplane.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	r.e = e
	return r
}

func (r *rig) fib(id adj.FIBID) *fib.FIB {
	r.t.Helper()
	if f, ok := r.reg.Get(id); ok {
		return f
	}
	f, err := r.reg.Create(id)
	if err != nil {
		r.t.Fatal(err)
	}
	return f
}

// port binds ifname/vlan to FIB id and gives it addresses.
func (r *rig) port(ifname string, vlan uint16, id adj.FIBID, addrs ...string) adj.PortID {
	r.t.Helper()
	return r.portSpec(dataplane.PortSpec{Interface: ifname, VLAN: vlan}, id, addrs...)
}

// portSpec binds the port spec names to FIB id and gives it addresses.
func (r *rig) portSpec(spec dataplane.PortSpec, id adj.FIBID, addrs ...string) adj.PortID {
	r.t.Helper()
	f := r.fib(id)
	p, err := r.e.BindPort(spec, id)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, a := range addrs {
		if err := f.AddAddress(p, netip.MustParsePrefix(a)); err != nil {
			r.t.Fatal(err)
		}
	}
	return p
}

func (r *rig) neighbor(id adj.FIBID, p adj.PortID, ip string, mac adj.MAC) {
	r.t.Helper()
	if err := r.e.Neighbors().AddStatic(adj.Key{FIB: id, Port: p, Addr: netip.MustParseAddr(ip)}, mac); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) route(id adj.FIBID, prefix string, paths ...fib.Path) {
	r.t.Helper()
	if err := r.fib(id).Add(fib.Route{Prefix: netip.MustParsePrefix(prefix), Source: "static", Preference: fib.PrefStatic, Paths: paths}); err != nil {
		r.t.Fatal(err)
	}
}

func via(gw string) fib.Path {
	return fib.Path{Kind: fib.PathGateway, Gateway: netip.MustParseAddr(gw)}
}

// inject hands a frame to ifname's receive queue.
func (r *rig) inject(ifname string, frame []byte, meta dataplane.RxMeta) {
	r.t.Helper()
	if !r.io(ifname).Inject(frame, meta) {
		r.t.Fatalf("inject on %s refused", ifname)
	}
}

// expect waits (bounded) until ifname has transmitted n frames and returns
// them decoded.
func (r *rig) expect(ifname string, n int) []gopacket.Packet {
	r.t.Helper()
	var got [][]byte
	deadline := time.Now().Add(2 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		got = append(got, r.io(ifname).Written()...)
		if len(got) < n {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if len(got) != n {
		r.t.Fatalf("%s sent %d frames, want %d", ifname, len(got), n)
	}
	out := make([]gopacket.Packet, n)
	for i, b := range got {
		out[i] = gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	}
	return out
}

// quiet checks that ifname sends nothing more for a little while.
func (r *rig) quiet(ifname string) {
	r.t.Helper()
	time.Sleep(20 * time.Millisecond)
	if got := r.io(ifname).Written(); len(got) != 0 {
		r.t.Fatalf("%s sent %d unexpected frames: % x", ifname, len(got), got[0])
	}
}

// settle waits until every injected frame has been read.
func (r *rig) settle() {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		busy := false
		r.mu.Lock()
		for _, io := range r.ios {
			if io.Pending() > 0 {
				busy = true
			}
		}
		r.mu.Unlock()
		if !busy {
			time.Sleep(5 * time.Millisecond)
			return
		}
		time.Sleep(time.Millisecond)
	}
	r.t.Fatal("frames not consumed")
}

func hw(m adj.MAC) net.HardwareAddr { return net.HardwareAddr(m[:]) }

// frameSpec describes a test frame; zero fields take defaults.
type frameSpec struct {
	src, dst string
	dstMAC   adj.MAC
	srcMAC   adj.MAC
	vlan     uint16 // inline tag (the outer one with inner)
	inner    uint16 // inline QinQ inner tag (TPID 0x8100)
	tpid     uint16 // the outer tag's TPID; 0: 0x8100
	ttl      uint8
	df       bool
	payload  int
	proto    string // "udp" (default), "icmp-echo"
	id       uint16
	sport    uint16 // UDP source port; 0: 40000
}

func build(t testing.TB, s frameSpec) []byte {
	t.Helper()
	src, dst := netip.MustParseAddr(s.src), netip.MustParseAddr(s.dst)
	if s.ttl == 0 {
		s.ttl = 64
	}
	if s.srcMAC == (adj.MAC{}) {
		s.srcMAC = adj.MAC{2, 0xaa, 0, 0, 0, 1}
	}
	eth := &layers.Ethernet{SrcMAC: hw(s.srcMAC), DstMAC: hw(s.dstMAC)}
	var ls []gopacket.SerializableLayer
	ls = append(ls, eth)
	et := layers.EthernetTypeIPv4
	if src.Is6() {
		et = layers.EthernetTypeIPv6
	}
	switch {
	case s.vlan != 0 && s.inner != 0:
		eth.EthernetType = layers.EthernetType(cmp.Or(s.tpid, 0x8100))
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: s.vlan, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: s.inner, Type: et})
	case s.vlan != 0:
		eth.EthernetType = layers.EthernetType(cmp.Or(s.tpid, 0x8100))
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: s.vlan, Type: et})
	default:
		eth.EthernetType = et
	}
	var l3 gopacket.NetworkLayer
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: s.ttl, SrcIP: src.AsSlice(), DstIP: dst.AsSlice(), Protocol: layers.IPProtocolUDP, Id: s.id}
		if s.df {
			ip.Flags = layers.IPv4DontFragment
		}
		if s.proto == "icmp-echo" {
			ip.Protocol = layers.IPProtocolICMPv4
		}
		l3 = ip
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: s.ttl, SrcIP: src.AsSlice(), DstIP: dst.AsSlice(), NextHeader: layers.IPProtocolUDP}
		if s.proto == "icmp-echo" {
			ip.NextHeader = layers.IPProtocolICMPv6
		}
		l3 = ip
	}
	ls = append(ls, l3.(gopacket.SerializableLayer))
	payload := gopacket.Payload(make([]byte, s.payload))
	switch {
	case s.proto == "icmp-echo" && src.Is4():
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 7, Seq: 1}, payload)
	case s.proto == "icmp-echo":
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
		icmp.SetNetworkLayerForChecksum(l3)
		ls = append(ls, icmp, &layers.ICMPv6Echo{Identifier: 7, SeqNumber: 1}, payload)
	default:
		udp := &layers.UDP{SrcPort: layers.UDPPort(cmp.Or(s.sport, 40000)), DstPort: 9}
		udp.SetNetworkLayerForChecksum(l3)
		ls = append(ls, udp, payload)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
