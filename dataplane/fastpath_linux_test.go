//go:build linux

package dataplane_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// configureFP gives a rig the differential corpus' configuration: four
// FIBs over the same three interfaces — untagged, VLAN and QinQ ports,
// the same addresses in several FIBs, ports with strict and loose uRPF.
func configureFP(r *fpRig) {
	rin := r.bind(dataplane.PortSpec{Interface: "rin"}, 10, "192.0.2.1/24", "2001:db8:1::1/64")
	out1 := r.bind(dataplane.PortSpec{Interface: "rout1"}, 10, "198.51.100.1/25", "2001:db8:2::1/64")
	out2 := r.bind(dataplane.PortSpec{Interface: "rout2"}, 10, "198.51.100.129/25")
	v100 := r.bind(dataplane.PortSpec{Interface: "rout2", VLAN: 100}, 10, "203.0.113.1/26")
	_ = rin
	r.neighbor(10, out1, "198.51.100.2", macPo1)
	r.neighbor(10, out1, "198.51.100.3", adj.MAC{2, 0, 0, 0, 3, 3})
	r.neighbor(10, out1, "2001:db8:2::2", macPo1)
	r.neighbor(10, out2, "198.51.100.130", macPo2)
	r.neighbor(10, v100, "203.0.113.2", macPo2)
	r.route(10, "198.18.0.0/24", gw("198.51.100.2"))
	r.route(10, "198.18.1.0/24", gw("198.51.100.2"), gw("198.51.100.130"))
	r.route(10, "198.18.2.0/24", gw("203.0.113.2"))
	r.route(10, "198.18.3.0/24", fib.Path{Kind: fib.PathBlackhole})
	r.route(10, "198.18.5.0/24", fib.Path{Kind: fib.PathUnreachable})
	r.route(10, "198.18.9.0/24", gw("198.51.100.50")) // no neighbour: ARP, queued
	r.route(10, "2001:db8:100::/48", gw("2001:db8:2::2"))

	// FIB 20: the same addresses on VLANs, its gateway the same IP with
	// another MAC.
	r.bind(dataplane.PortSpec{Interface: "rin", VLAN: 200}, 20, "192.0.2.1/24")
	o201 := r.bind(dataplane.PortSpec{Interface: "rout2", VLAN: 201}, 20, "198.51.100.1/25")
	r.neighbor(20, o201, "198.51.100.2", macPo2)
	r.route(20, "198.18.0.0/24", gw("198.51.100.2"))

	// FIB 30: QinQ in, QinQ out.
	r.bind(dataplane.PortSpec{Interface: "rin", VLAN: 300, Inner: 400, OuterTPID: packet.TPID8021AD}, 30, "192.0.2.1/24")
	q401 := r.bind(dataplane.PortSpec{Interface: "rout2", VLAN: 300, Inner: 401, OuterTPID: packet.TPID8021AD}, 30, "198.51.100.1/25")
	r.neighbor(30, q401, "198.51.100.2", macPo2)
	r.route(30, "198.18.0.0/24", gw("198.51.100.2"))

	// FIB 40: strict uRPF on one ingress port, loose on another. The
	// way back to 198.18.7.0/24 is ECMP with a member through the strict
	// port, to 198.18.8.0/24 through the egress port only.
	p500 := r.bind(dataplane.PortSpec{Interface: "rin", VLAN: 500}, 40, "192.0.2.1/24", "2001:db8:40::1/64")
	p502 := r.bind(dataplane.PortSpec{Interface: "rin", VLAN: 502}, 40, "203.0.113.65/26")
	o501 := r.bind(dataplane.PortSpec{Interface: "rout2", VLAN: 501}, 40, "198.51.100.1/25", "2001:db8:41::1/64")
	r.neighbor(40, o501, "198.51.100.2", macPo2)
	r.neighbor(40, o501, "2001:db8:41::2", macPo2)
	r.neighbor(40, p500, "192.0.2.2", macPin)
	r.route(40, "198.18.0.0/24", gw("198.51.100.2"))
	r.route(40, "198.18.7.0/24", gw("198.51.100.2"), gw("192.0.2.2"))
	r.route(40, "198.18.8.0/24", gw("198.51.100.2"))
	r.route(40, "2001:db8:400::/48", gw("2001:db8:41::2"))
	if err := r.e.SetPortSettings(p500, dataplane.PortSettings{RPF: dataplane.RPFStrict}); err != nil {
		r.t.Fatal(err)
	}
	if err := r.e.SetPortSettings(p502, dataplane.PortSettings{RPF: dataplane.RPFLoose}); err != nil {
		r.t.Fatal(err)
	}
	if !r.e.WaitFastPath(10 * time.Second) {
		r.t.Fatal("fast path tables did not catch up")
	}
}

// corpusCase is one frame of the differential corpus; fast says whether
// the fast path must forward it itself (the rest it must punt).
type corpusCase struct {
	name  string
	frame []byte
	fast  bool
}

func ipv4Hdr(f []byte) int {
	off := 12
	for et := binary.BigEndian.Uint16(f[off:]); et == 0x8100 || et == 0x88a8; et = binary.BigEndian.Uint16(f[off:]) {
		off += 4
	}
	return off + 2
}

func fixIPv4Sum(f []byte, l3 int) {
	hl := int(f[l3]&15) * 4
	binary.BigEndian.PutUint16(f[l3+10:], 0)
	binary.BigEndian.PutUint16(f[l3+10:], ^packet.Fold(packet.Sum(0, f[l3:l3+hl])))
}

// withNOPOptions inserts four bytes of IPv4 options (NOP, NOP, NOP, EOL).
func withNOPOptions(f []byte) []byte {
	l3 := ipv4Hdr(f)
	out := append(append(slices.Clone(f[:l3+20]), 1, 1, 1, 0), f[l3+20:]...)
	out[l3] = 0x46
	binary.BigEndian.PutUint16(out[l3+2:], binary.BigEndian.Uint16(out[l3+2:])+4)
	fixIPv4Sum(out, l3)
	return out
}

func withMF(f []byte) []byte {
	f = slices.Clone(f)
	l3 := ipv4Hdr(f)
	f[l3+6] |= 0x20
	fixIPv4Sum(f, l3)
	return f
}

func withBadSum(f []byte) []byte {
	f = slices.Clone(f)
	f[ipv4Hdr(f)+10] ^= 0xff
	return f
}

// withPartialUDP leaves the UDP checksum as a sender offloading it would:
// the folded pseudo-header sum.
func withPartialUDP(f []byte) []byte {
	f = slices.Clone(f)
	l3 := ipv4Hdr(f)
	src, dst := f[l3+12:l3+16], f[l3+16:l3+20]
	l4len := int(binary.BigEndian.Uint16(f[l3+2:])) - 20
	s := uint64(binary.BigEndian.Uint32(src)) + uint64(binary.BigEndian.Uint32(dst)) + 17 + uint64(l4len)
	binary.BigEndian.PutUint16(f[l3+20+6:], packet.Fold(s))
	return f
}

// withHopByHop inserts an empty IPv6 hop-by-hop header (PadN).
func withHopByHop(f []byte) []byte {
	l3 := 14
	out := append(slices.Clone(f[:l3+40]), f[l3+6], 0, 1, 4, 0, 0, 0, 0)
	out = append(out, f[l3+40:]...)
	out[l3+6] = 0
	binary.BigEndian.PutUint16(out[l3+4:], binary.BigEndian.Uint16(out[l3+4:])+8)
	return out
}

func corpus(t *testing.T) []corpusCase {
	src4 := "192.0.2.10"
	b := func(s frameSpec) []byte {
		if s.src == "" {
			s.src = src4
		}
		if s.dstMAC == (adj.MAC{}) {
			s.dstMAC = macRin
		}
		s.srcMAC = macPin
		return build(t, s)
	}
	var cs []corpusCase
	add := func(name string, fast bool, f []byte) { cs = append(cs, corpusCase{name, f, fast}) }
	add("v4 gateway", true, b(frameSpec{dst: "198.18.0.5", payload: 100}))
	add("v4 ttl 2", true, b(frameSpec{dst: "198.18.0.6", ttl: 2, payload: 30}))
	add("v4 ttl 1", false, b(frameSpec{dst: "198.18.0.7", ttl: 1, payload: 30}))
	for sp := range uint16(8) {
		add(fmt.Sprintf("v4 ecmp flow %d", sp), true, b(frameSpec{dst: "198.18.1.9", sport: 1000 + 77*sp, payload: 40}))
	}
	add("v4 vlan egress", true, b(frameSpec{dst: "198.18.2.9", payload: 64}))
	add("v4 df at mtu", true, b(frameSpec{dst: "198.18.0.8", df: true, payload: 1400 - 28}))
	add("v4 df over mtu", false, b(frameSpec{dst: "198.18.0.8", df: true, payload: 1401 - 28}))
	add("v4 over mtu, fragmented", false, b(frameSpec{dst: "198.18.0.8", payload: 1401 - 28}))
	add("v4 options", false, withNOPOptions(b(frameSpec{dst: "198.18.0.10", payload: 20})))
	add("v4 fragment", false, withMF(b(frameSpec{dst: "198.18.0.11", payload: 48})))
	add("v4 bad header checksum", false, withBadSum(b(frameSpec{dst: "198.18.0.12", payload: 20})))
	add("v4 blackhole", false, b(frameSpec{dst: "198.18.3.1", payload: 20}))
	add("v4 unreachable", false, b(frameSpec{dst: "198.18.5.1", payload: 20}))
	add("v4 no route", false, b(frameSpec{dst: "198.19.255.1", payload: 20}))
	add("v4 own source", false, b(frameSpec{src: "192.0.2.1", dst: "198.18.0.5", payload: 20}))
	add("v4 other MAC", false, b(frameSpec{dst: "198.18.0.5", dstMAC: adj.MAC{2, 9, 9, 9, 9, 9}, payload: 20}))
	add("v4 link-local destination", false, b(frameSpec{dst: "169.254.1.1", payload: 20}))
	add("v4 multicast", false, b(frameSpec{dst: "224.1.2.3", payload: 20}))
	add("v4 to the router", false, b(frameSpec{dst: "192.0.2.1", proto: "icmp-echo", payload: 8}))
	add("v4 attached host", true, b(frameSpec{dst: "198.51.100.2", payload: 40}))
	add("v4 attached, directed broadcast", false, b(frameSpec{dst: "198.51.100.127", payload: 20}))
	add("v4 padded to 60 bytes", true, append(b(frameSpec{dst: "198.18.0.13"}), make([]byte, 18)...))
	add("v4 partial udp checksum", false, withPartialUDP(b(frameSpec{dst: "198.18.0.14", payload: 32})))
	add("fib 20 vlan swap, same addresses", true, b(frameSpec{dst: "198.18.0.5", vlan: 200, payload: 50}))
	add("fib 30 qinq in and out", true, b(frameSpec{dst: "198.18.0.5", vlan: 300, inner: 400, tpid: packet.TPID8021AD, payload: 50}))
	add("fib 40 strict urpf, source attached here", true, b(frameSpec{dst: "198.18.0.5", vlan: 500, payload: 50}))
	add("fib 40 strict urpf, source via an ecmp member here", true, b(frameSpec{src: "198.18.7.1", dst: "198.18.0.5", vlan: 500, payload: 50}))
	add("fib 40 strict urpf, source via another port", false, b(frameSpec{src: "198.18.8.1", dst: "198.18.0.5", vlan: 500, payload: 50}))
	add("fib 40 strict urpf, source without a route", false, b(frameSpec{src: "198.19.0.1", dst: "198.18.0.5", vlan: 500, payload: 50}))
	add("fib 40 strict urpf v6, source attached here", true, b(frameSpec{src: "2001:db8:40::10", dst: "2001:db8:400::5", vlan: 500, payload: 50}))
	add("fib 40 strict urpf v6, source via another port", false, b(frameSpec{src: "2001:db8:41::77", dst: "2001:db8:400::5", vlan: 500, payload: 50}))
	add("fib 40 loose urpf, source via another port", true, b(frameSpec{src: "198.18.8.1", dst: "198.18.0.5", vlan: 502, payload: 50}))
	add("fib 40 loose urpf, source without a route", false, b(frameSpec{src: "198.19.0.1", dst: "198.18.0.5", vlan: 502, payload: 50}))
	add("unknown vlan", false, b(frameSpec{dst: "198.18.0.5", vlan: 777, payload: 20}))
	src6 := "2001:db8:1::10"
	add("v6 gateway", true, b(frameSpec{src: src6, dst: "2001:db8:100::5", payload: 100}))
	add("v6 attached host", true, b(frameSpec{src: src6, dst: "2001:db8:2::2", payload: 24}))
	add("v6 hop limit 2", true, b(frameSpec{src: src6, dst: "2001:db8:100::6", ttl: 2, payload: 10}))
	add("v6 hop limit 1", false, b(frameSpec{src: src6, dst: "2001:db8:100::7", ttl: 1, payload: 10}))
	add("v6 hop-by-hop header", false, withHopByHop(b(frameSpec{src: src6, dst: "2001:db8:100::8", payload: 10})))
	add("v6 link-local destination", false, b(frameSpec{src: src6, dst: "fe80::99", payload: 10}))
	add("v6 multicast", false, b(frameSpec{src: src6, dst: "ff0e::1", payload: 10}))
	add("v6 no route", false, b(frameSpec{src: src6, dst: "2001:db8:ffff::1", payload: 10}))
	add("v6 over mtu", false, b(frameSpec{src: src6, dst: "2001:db8:100::9", payload: 1400 - 48 + 1}))
	// Last: it starts ARP, whose retries would land in later windows.
	add("v4 unresolved neighbour", false, b(frameSpec{dst: "198.18.9.1", payload: 20}))
	return cs
}

// result is what one corpus frame did.
type result struct {
	outs  []out
	drops map[string]uint64 // counter deltas
	fast  uint64            // frames the fast path forwarded
}

// normalise blanks what the router makes up per run in frames it
// generates itself: the IPv4 identification of its ICMP errors (a
// counter) and so the header checksum.
func normalise(o out) string {
	f := slices.Clone(o.frame)
	if len(f) >= 34 && binary.BigEndian.Uint16(f[12:]) == 0x0800 && f[23] == 1 && bytes.Equal(f[6:12], macRin[:]) {
		f[18], f[19], f[24], f[25] = 0, 0, 0, 0
	}
	return fmt.Sprintf("%s %x", o.iface, f)
}

// solicitation reports whether f is an ARP request or a neighbour
// solicitation: fibd retransmits those on its own clock (a second apart)
// while a neighbour resolves, so they land in whichever frame's window is
// open and are compared as the corpus' set instead.
func solicitation(f []byte) bool {
	switch {
	case len(f) >= 22 && binary.BigEndian.Uint16(f[12:]) == 0x0806:
		return binary.BigEndian.Uint16(f[20:]) == 1
	case len(f) >= 55 && binary.BigEndian.Uint16(f[12:]) == 0x86dd:
		return f[20] == 58 && f[54] == 135
	}
	return false
}

func runCorpus(t *testing.T, r *fpRig, cs []corpusCase, async map[string]bool) []result {
	// Whatever fibd announced on its own when its ports came up (MLD, ND)
	// is not the corpus'.
	r.collect(300*time.Millisecond, 3*time.Second)
	res := make([]result, len(cs))
	for i, c := range cs {
		d0, f0 := r.drops(), r.fastForwarded()
		r.send(c.frame)
		for _, o := range r.collect(150*time.Millisecond, 2*time.Second) {
			if solicitation(o.frame) {
				async[normalise(o)] = true
			} else {
				res[i].outs = append(res[i].outs, o)
			}
		}
		d1 := r.drops()
		res[i].drops = map[string]uint64{}
		for k, v := range d1 {
			// "unreachable" is also counted when a neighbour fails,
			// seconds after the frames that waited for it: those land
			// on whichever frame is current, so they are compared as
			// the corpus' total (asyncDrops) instead.
			if v != d0[k] && !strings.HasSuffix(k, " unreachable") {
				res[i].drops[k] = v - d0[k]
			}
		}
		res[i].fast = r.fastForwarded() - f0
	}
	return res
}

// asyncDrops waits out neighbour resolution (neigh's solicitations, about
// 3 s), adds what fibd sent meanwhile to async, and returns the total of
// the drops runCorpus leaves out per frame.
func asyncDrops(r *fpRig, async map[string]bool) map[string]uint64 {
	for _, o := range r.collect(4*time.Second, 5*time.Second) {
		async[normalise(o)] = true
	}
	out := map[string]uint64{}
	for k, v := range r.drops() {
		if strings.HasSuffix(k, " unreachable") {
			out[k] = v
		}
	}
	return out
}

// TestFastPathAnswersAsTheEngine is the differential test: one corpus of
// frames — every route kind, ECMP, VLAN and QinQ, TTL 1 and 2, DF and MTU
// edges, options, fragments, link-local and multicast, own sources, an
// unresolved neighbour, a uRPF port — goes through fibd without the fast
// path and then through a fibd with it. Every frame must come out of the
// same interfaces byte for byte, with the same drop reasons counted, and
// the frames the fast path should own must be forwarded by it (the rest
// punted to the engine).
func TestFastPathAnswersAsTheEngine(t *testing.T) {
	cs := corpus(t)
	ref := newFPRig(t, false)
	configureFP(ref)
	wantSent, gotSent := map[string]bool{}, map[string]bool{}
	want := runCorpus(t, ref, cs, wantSent)
	wantAsync := asyncDrops(ref, wantSent)

	fp := newFPRig(t, true)
	configureFP(fp)
	if st := fp.e.FastPath(); len(st.Interfaces) != 3 {
		t.Fatalf("fast path on %v, want rin, rout1 and rout2 (native XDP on veth)", st.Interfaces)
	}
	got := runCorpus(t, fp, cs, gotSent)
	if g := asyncDrops(fp, gotSent); !maps.Equal(wantAsync, g) {
		t.Errorf("drops after neighbour resolution differ: engine %v, fast path %v", wantAsync, g)
	}
	if !maps.Equal(wantSent, gotSent) {
		t.Errorf("solicitations and late frames differ: engine %v, fast path %v", slices.Sorted(maps.Keys(wantSent)), slices.Sorted(maps.Keys(gotSent)))
	}
	for i, c := range cs {
		w, g := want[i], got[i]
		var ws, gs []string
		for _, o := range w.outs {
			ws = append(ws, normalise(o))
		}
		for _, o := range g.outs {
			gs = append(gs, normalise(o))
		}
		// One frame's outputs on different interfaces have no order.
		slices.Sort(ws)
		slices.Sort(gs)
		if !slices.Equal(ws, gs) {
			t.Errorf("%s: output differs\nengine:    %s\nfast path: %s", c.name, strings.Join(ws, "\n           "), strings.Join(gs, "\n           "))
		}
		if !maps.Equal(w.drops, g.drops) {
			t.Errorf("%s: drops differ: engine %v, fast path %v", c.name, w.drops, g.drops)
		}
		if w.fast != 0 {
			t.Errorf("%s: the reference counted %d fast-path frames", c.name, w.fast)
		}
		switch {
		case c.fast && g.fast != 1:
			t.Errorf("%s: the fast path forwarded %d frames, want it to forward this one", c.name, g.fast)
		case !c.fast && g.fast != 0:
			t.Errorf("%s: the fast path forwarded it, want it punted to the engine", c.name)
		}
		if c.fast && len(w.outs) == 0 {
			t.Errorf("%s: the engine forwarded nothing", c.name)
		}
	}
	st := fp.e.FastPath()
	t.Logf("fast path: forwarded %d, punts %v", st.Forwarded, st.Punts)
	// Every reason a frame of the corpus can hit ("port-slow-path" is a
	// port whose interface is down, where no frame arrives).
	for _, reason := range []string{"ttl", "options", "fragment", "no-route", "not-gateway", "neighbour", "mtu", "own-source", "not-for-us", "special-address", "rpf", "partial-checksum", "bad-header", "no-port"} {
		if st.Punts[reason] == 0 {
			t.Errorf("no frame punted for %s: %v", reason, st.Punts)
		}
	}
}

// streamTo sends n frames alternating over dsts, each carrying its
// sequence number in the first four payload bytes, paced by gap, while
// change runs; it returns when both are done.
func (r *fpRig) stream(t *testing.T, dsts []string, n int, gap time.Duration, change func()) {
	frames := make([][]byte, n)
	for i := range frames {
		f := build(t, frameSpec{src: "192.0.2.10", dst: dsts[i%len(dsts)], dstMAC: macRin, srcMAC: macPin, payload: 32})
		binary.BigEndian.PutUint32(f[14+20+8:], uint32(i))
		// The payload changed: UDP without a checksum (IPv4 allows it).
		f[14+20+6], f[14+20+7] = 0, 0
		frames[i] = f
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		change()
	}()
	next := time.Now()
	for _, f := range frames {
		r.send(f)
		next = next.Add(gap)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	<-done
}

// seen is one captured forwarded frame: its sequence number, destination
// and next-hop MAC.
type seen struct {
	seq uint32
	dst [4]byte
	mac adj.MAC
}

func seenOn(outs []out, iface string) []seen {
	var s []seen
	for _, o := range outs {
		f := o.frame
		if o.iface != iface || len(f) < 14+20+8+4 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[14+9] != 17 {
			continue
		}
		s = append(s, seen{seq: binary.BigEndian.Uint32(f[14+28:]), dst: [4]byte(f[14+16 : 14+20]), mac: adj.MAC(f[0:6])})
	}
	slices.SortFunc(s, func(a, b seen) int { return int(a.seq) - int(b.seq) })
	return s
}

// TestFastPathBatchesAreAtomicUnderTraffic moves 64 prefixes together,
// batch after batch, from one gateway to the next while frames to all of
// them take turns through the fast path (writing 64 routes one by one
// takes far longer than the gap between two frames). A half-applied batch would show as a
// frame taking the newer gateway followed by a later one still taking an
// older one; the gateways' indexes must never go down in send order.
// Then a neighbour's MAC changes under the same traffic: frames switch
// to the new MAC, once, and never go back.
func TestFastPathBatchesAreAtomicUnderTraffic(t *testing.T) {
	r := newFPRig(t, true)
	r.bind(dataplane.PortSpec{Interface: "rin"}, 10, "192.0.2.1/24")
	out1 := r.bind(dataplane.PortSpec{Interface: "rout1"}, 10, "198.51.100.1/25")
	const gws = 16
	index := map[adj.MAC]int{}
	for i := range gws {
		mac := adj.MAC{2, 0, 0, 0, 5, byte(i)}
		r.neighbor(10, out1, fmt.Sprintf("198.51.100.%d", 10+i), mac)
		index[mac] = i
	}
	moved := adj.MAC{2, 0, 0, 0, 6, 6}
	index[moved] = gws
	f := r.fib(10)
	move := func(i int) {
		var cs []fib.Change
		for j := range 64 {
			p := fmt.Sprintf("198.18.%d.0/24", 64+j)
			cs = append(cs, fib.Change{Op: fib.OpAdd, Route: fib.Route{Prefix: netip.MustParsePrefix(p), Source: "static",
				Preference: fib.PrefStatic, Paths: []fib.Path{gw(fmt.Sprintf("198.51.100.%d", 10+i))}}})
		}
		if _, err := f.Apply(cs); err != nil {
			t.Error(err)
		}
	}
	move(0)
	if !r.e.WaitFastPath(5 * time.Second) {
		t.Fatal("fast path tables did not catch up")
	}
	r.collect(300*time.Millisecond, 3*time.Second)
	f0 := r.fastForwarded()
	const n = 12000
	var dsts []string
	for j := range 64 {
		dsts = append(dsts, fmt.Sprintf("198.18.%d.1", 64+j))
	}
	r.stream(t, dsts, n, 20*time.Microsecond, func() {
		for i := 1; i < gws; i++ {
			time.Sleep(6 * time.Millisecond)
			move(i)
		}
		time.Sleep(8 * time.Millisecond)
		r.neighbor(10, out1, fmt.Sprintf("198.51.100.%d", 10+gws-1), moved)
	})
	got := seenOn(r.collect(200*time.Millisecond, 10*time.Second), "po1")
	if len(got) < n*99/100 {
		t.Fatalf("%d of %d frames came out", len(got), n)
	}
	if fwd := r.fastForwarded() - f0; fwd < uint64(len(got))*9/10 {
		t.Errorf("the fast path forwarded %d of %d frames", fwd, len(got))
	}
	last, changes := 0, 0
	for _, s := range got {
		i, ok := index[s.mac]
		if !ok {
			t.Fatalf("seq %d to %v left with MAC %v, no gateway's", s.seq, s.dst, s.mac)
		}
		if i < last {
			t.Fatalf("seq %d to %v took gateway %d after an earlier frame took gateway %d: a batch was seen half applied", s.seq, s.dst, i, last)
		}
		if i > last {
			changes++
		}
		last = i
	}
	if last != gws {
		t.Fatalf("traffic ended on gateway %d, want the moved MAC (%d)", last, gws)
	}
	t.Logf("%d frames, %d switches seen, last on the new MAC", len(got), changes)
}

// TestFastPathAdjacencyNotReusedAcrossFIBs attacks the fast path's copy of
// adjacency IDs: while FIB 10 traffic flows to a route, the route and its
// neighbour go, and FIB 20 at once makes a new neighbour and route (whose
// adjacency would take a freed ID). No FIB 10 frame may ever leave through
// FIB 20's port or with its neighbour's MAC.
func TestFastPathAdjacencyNotReusedAcrossFIBs(t *testing.T) {
	r := newFPRig(t, true)
	r.bind(dataplane.PortSpec{Interface: "rin"}, 10, "192.0.2.1/24")
	out1 := r.bind(dataplane.PortSpec{Interface: "rout1"}, 10, "198.51.100.1/25")
	o201 := r.bind(dataplane.PortSpec{Interface: "rout2", VLAN: 201}, 20, "198.51.100.1/25")
	r.bind(dataplane.PortSpec{Interface: "rin", VLAN: 200}, 20, "192.0.2.1/24")
	k10 := adj.Key{FIB: 10, Port: out1, Addr: netip.MustParseAddr("198.51.100.2")}
	r.neighbor(10, out1, "198.51.100.2", macPo1)
	r.route(10, "198.18.0.0/24", gw("198.51.100.2"))
	if !r.e.WaitFastPath(5 * time.Second) {
		t.Fatal("fast path tables did not catch up")
	}
	r.collect(300*time.Millisecond, 3*time.Second)
	victim := adj.MAC{2, 0, 0, 0, 7, 7}
	r.stream(t, []string{"198.18.0.1"}, 3000, 20*time.Microsecond, func() {
		time.Sleep(15 * time.Millisecond)
		if err := r.fib(10).Delete(netip.MustParsePrefix("198.18.0.0/24"), "static"); err != nil {
			t.Error(err)
		}
		if err := r.e.Neighbors().DeleteStatic(k10); err != nil {
			t.Error(err)
		}
		for i := range 20 {
			ip := fmt.Sprintf("198.51.100.%d", 20+i)
			r.neighbor(20, o201, ip, victim)
			r.route(20, fmt.Sprintf("198.18.%d.0/24", 100+i), gw(ip))
		}
	})
	outs := r.collect(200*time.Millisecond, 10*time.Second)
	var before, leaked int
	for _, o := range outs {
		if len(o.frame) < 34 {
			continue
		}
		if bytes.Equal(o.frame[0:6], victim[:]) || o.iface == "po2" {
			leaked++
		}
		if o.iface == "po1" {
			before++
		}
	}
	if leaked > 0 {
		t.Fatalf("%d FIB 10 frames left through FIB 20's port or neighbour", leaked)
	}
	if before == 0 {
		t.Fatal("no frame was forwarded before the route went: the attack did not run")
	}
	t.Logf("%d frames forwarded before the route went, none leaked", before)
}

// TestFastPathEgressThatRefusesRedirects: a veth whose peer runs neither
// XDP nor GRO refuses every frame redirected to it, after the program has
// returned. The fast path must see it (the device's XDP features) and
// leave that egress to user space, so its traffic gets through; when the
// peer attaches XDP, the egress comes back to the fast path.
func TestFastPathEgressThatRefusesRedirects(t *testing.T) {
	r := newFPRigWith(t, true, map[string]bool{"po1": true})
	r.bind(dataplane.PortSpec{Interface: "rin"}, 10, "192.0.2.1/24")
	out1 := r.bind(dataplane.PortSpec{Interface: "rout1"}, 10, "198.51.100.1/25")
	r.neighbor(10, out1, "198.51.100.2", macPo1)
	r.route(10, "198.18.0.0/24", gw("198.51.100.2"))
	if !r.e.WaitFastPath(5 * time.Second) {
		t.Fatal("fast path tables did not catch up")
	}
	r.collect(300*time.Millisecond, 3*time.Second)
	const n = 4000
	r.stream(t, []string{"198.18.0.1"}, n, 100*time.Microsecond, func() {})
	got := seenOn(r.collect(300*time.Millisecond, 10*time.Second), "po1")
	if len(got) < n*99/100 {
		t.Fatalf("%d of %d frames arrived through an egress that refuses redirects", len(got), n)
	}
	if f := r.fastForwarded(); f != 0 {
		t.Fatalf("the fast path forwarded %d frames to an egress that refuses them", f)
	}
	attachPass(t, r.gen, "po1")
	if !r.e.WaitFastPath(5 * time.Second) {
		t.Fatal("fast path tables did not catch up")
	}
	r.stream(t, []string{"198.18.0.1"}, 1000, 100*time.Microsecond, func() {})
	again := seenOn(r.collect(300*time.Millisecond, 10*time.Second), "po1")
	if len(again) < 990 || r.fastForwarded() < 990 {
		t.Fatalf("after the peer attached XDP: %d of 1000 arrived, %d by the fast path", len(again), r.fastForwarded())
	}
	t.Logf("%d of %d through user space while refused, then %d by the fast path", len(got), n, r.fastForwarded())
}
