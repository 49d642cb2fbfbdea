//go:build linux

package dataplane_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/pktiotest"
	"github.com/fibd/fibd/dataplane/xdp"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/neigh"
	"github.com/fibd/fibd/neigh/neightest"
)

// fastIO is an in-memory packet I/O that says it runs the fast path, so
// the engine mirrors its ports into the fast path's tables.
type fastIO struct{ *pktiotest.IO }

func (fastIO) FastPathActive() bool { return true }

// progRig is an engine on in-memory interfaces whose tables are mirrored
// into a real fast path, and an instance of its program to run with
// BPF_PROG_RUN on any frame: the per-frame path of both, side by side.
// The interfaces' indexes are those of veths in a namespace of the test's
// (the redirect map takes only real devices); no traffic crosses them.
type progRig struct {
	*rig
	ns      *netnstest.NS
	fp      *xdp.FastPath
	prog    *ebpf.Program
	ifindex map[string]int
}

func newProgRig(t testing.TB) *progRig {
	netnstest.Require(t)
	ns := netnstest.New(t, "fz")
	for _, p := range [][2]string{{"a0", "b0"}, {"a1", "b1"}} {
		netnstest.NamedVeth(t, ns, p[0], ns, p[1])
		// With XDP on the peer a veth takes redirected frames, so the
		// fast path treats it as an egress.
		attachPass(t, ns, p[1])
	}
	pr := &progRig{ns: ns, ifindex: map[string]int{}}
	fp, err := xdp.NewFastPath()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fp.Close() })
	pr.fp = fp
	if err := ns.Do(func() error {
		for i, name := range []string{"a0", "a1"} {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			pr.ifindex["eth"+string(rune('0'+i))] = ifi.Index
			if err := fp.AllowRedirect(ifi.Index); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, reg: fib.NewRegistry(fib.Options{}), ios: map[string]*pktiotest.IO{}, opened: map[string]int{},
		links: &fakeLinks{links: map[string]dataplane.LinkInfo{}, prepared: map[string]int{}, stripped: map[string]bool{}},
		clock: neightest.NewClock(time.Unix(1e9, 0))}
	for i, name := range []string{"eth0", "eth1"} {
		r.links.links[name] = dataplane.LinkInfo{Name: name, Index: pr.ifindex[name], MAC: ifMAC(i), MTU: 1500, Up: true}
		r.ios[name] = pktiotest.New(pktiotest.Config{})
	}
	open := func(name string, _ int, _ dataplane.OpenOptions) ([]dataplane.PacketIO, string, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return []dataplane.PacketIO{fastIO{r.ios[name]}}, "fake-xdp", nil
	}
	e, err := dataplane.New(dataplane.Config{Registry: r.reg, Open: open, Links: r.links, FastPath: fp,
		Neigh: neigh.Config{Clock: r.clock, Rand: neightest.Rand(0.5)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	r.e = e
	pr.rig = r
	if pr.prog, err = fp.NewProgram(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.prog.Close() })

	// FIB 10: untagged in, gateway, ECMP and a VLAN out; FIB 20 on VLANs
	// with the same addresses.
	in := r.port("eth0", 0, 10, "192.0.2.1/24", "2001:db8:1::1/64")
	out := r.port("eth1", 0, 10, "198.51.100.1/25", "2001:db8:2::1/64")
	v100 := r.port("eth1", 100, 10, "198.51.100.129/25")
	_ = in
	r.neighbor(10, out, "198.51.100.2", adj.MAC{2, 0xbb, 0, 0, 0, 2})
	r.neighbor(10, out, "198.51.100.3", adj.MAC{2, 0xbb, 0, 0, 0, 3})
	r.neighbor(10, v100, "198.51.100.130", adj.MAC{2, 0xbb, 0, 0, 1, 30})
	r.neighbor(10, out, "2001:db8:2::2", adj.MAC{2, 0xbb, 0, 0, 0, 2})
	r.route(10, "198.18.0.0/16", via("198.51.100.2"))
	r.route(10, "198.18.1.0/24", via("198.51.100.2"), via("198.51.100.3"))
	r.route(10, "198.18.2.0/24", via("198.51.100.130"))
	r.route(10, "2001:db8:100::/48", via("2001:db8:2::2"))
	// FIB 20's ports check the source: strict on VLAN 200 (its own subnet
	// passes), loose on VLAN 202 (anything FIB 20 routes passes).
	p200 := r.port("eth0", 200, 20, "192.0.2.1/24")
	p202 := r.port("eth0", 202, 20, "203.0.113.65/26")
	o201 := r.port("eth1", 201, 20, "198.51.100.1/25")
	r.neighbor(20, o201, "198.51.100.2", adj.MAC{2, 0xcc, 0, 0, 0, 2})
	r.route(20, "198.18.0.0/16", via("198.51.100.2"))
	r.route(20, "198.19.0.0/16", via("198.51.100.2"))
	for p, mode := range map[adj.PortID]dataplane.RPFMode{p200: dataplane.RPFStrict, p202: dataplane.RPFLoose} {
		if err := e.SetPortSettings(p, dataplane.PortSettings{RPF: mode}); err != nil {
			t.Fatal(err)
		}
	}
	if !e.WaitFastPath(10 * time.Second) {
		t.Fatal("fast path tables did not catch up")
	}
	return pr
}

// xdpMD is struct xdp_md for BPF_PROG_RUN.
type xdpMD struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

// check runs frame through the program and, when the program forwards it,
// through the engine, and requires the same frame out of the same
// interface. A punted frame must reach the engine as it arrived.
// It reports whether the engine was given the frame.
func (pr *progRig) check(t *testing.T, frame []byte) bool {
	if len(frame) < 14 || len(frame) > 1500 {
		return false
	}
	opts := &ebpf.RunOptions{Data: frame, DataOut: make([]byte, len(frame)+64),
		Context: xdpMD{DataEnd: uint32(len(frame)), IngressIfindex: uint32(pr.ifindex["eth0"])}}
	// The context's ingress index is resolved in the caller's namespace.
	var ret uint32
	err := pr.ns.Do(func() (err error) { ret, err = pr.prog.Run(opts); return err })
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	switch ret {
	case 2: // XDP_PASS: punted (the test XSKMAP is empty)
		// It reaches the engine untouched.
		if !bytes.Equal(opts.DataOut, frame) {
			t.Fatalf("punted frame changed:\nin:  % x\nout: % x", frame, opts.DataOut)
		}
		return false
	case 4: // XDP_REDIRECT: forwarded
	default:
		t.Fatalf("program returned %d for % x", ret, frame)
	}
	got := opts.DataOut // trimmed to the program's output
	if !pr.io("eth0").Inject(frame, dataplane.RxMeta{}) {
		t.Fatal("inject refused")
	}
	deadline := time.Now().Add(2 * time.Second)
	var written [][]byte
	for len(written) == 0 && time.Now().Before(deadline) {
		written = pr.io("eth1").Written()
		if len(written) == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	if len(written) != 1 {
		t.Fatalf("the program forwarded % x; the engine sent %d frames out of eth1", frame, len(written))
	}
	if !bytes.Equal(written[0], got) {
		t.Fatalf("frame % x\nprogram: % x\nengine:  % x", frame, got, written[0])
	}
	return true
}

// FuzzFastPathProgram is the whole per-frame path of the fast path,
// fuzzed against the engine: whatever the frame, the program either punts
// it or forwards exactly what the engine would send, out of the same
// interface.
//
// fuzzsmoke: 3000x
func FuzzFastPathProgram(f *testing.F) {
	pr := newProgRig(f)
	b := func(s frameSpec) []byte {
		if s.src == "" {
			s.src = "192.0.2.10"
		}
		if s.dstMAC == (adj.MAC{}) {
			s.dstMAC = ifMAC(0)
		}
		return build(f, s)
	}
	for _, s := range []frameSpec{
		{dst: "198.18.0.5", payload: 20}, {dst: "198.18.1.7", sport: 999, payload: 8}, {dst: "198.18.2.1", payload: 30},
		{dst: "198.18.3.3", ttl: 2}, {dst: "198.18.3.3", ttl: 1}, {dst: "198.18.0.9", vlan: 200, payload: 10},
		{dst: "198.18.0.9", df: true, payload: 1400}, {src: "2001:db8:1::10", dst: "2001:db8:100::1", payload: 16},
		{src: "2001:db8:1::10", dst: "2001:db8:100::1", ttl: 2}, {dst: "192.0.2.1", proto: "icmp-echo"},
		{dst: "198.51.100.2", payload: 12},
		{src: "198.19.0.1", dst: "198.18.0.9", vlan: 200, payload: 10}, {src: "198.19.0.1", dst: "198.18.0.9", vlan: 202, payload: 10},
		{src: "198.51.100.9", dst: "198.18.0.9", vlan: 202, payload: 10}, {src: "203.0.113.1", dst: "198.18.0.9", vlan: 202, payload: 10},
	} {
		f.Add(b(s))
	}
	f.Add(append(b(frameSpec{dst: "198.18.0.5"}), make([]byte, 18)...))
	f.Fuzz(func(t *testing.T, frame []byte) {
		pr.rig.t = t
		if !pr.check(t, frame) {
			return
		}
		// Whatever else the engine did with it is drained so the next
		// input starts clean.
		pr.settle()
		for _, name := range []string{"eth0", "eth1"} {
			pr.io(name).Written()
		}
	})
}

// TestFastPathProgramForwardsLikeTheEngine: the fuzz rig's program does
// forward the common case (so the fuzzer compares something), byte for
// byte with the engine: single path, ECMP, a VLAN push, a VLAN swap in
// another FIB, IPv6, attached hosts, and a padded minimum frame.
func TestFastPathProgramForwardsLikeTheEngine(t *testing.T) {
	pr := newProgRig(t)
	for _, s := range []frameSpec{
		{dst: "198.18.0.5", payload: 20}, {dst: "198.18.1.7", sport: 999, payload: 8}, {dst: "198.18.1.7", sport: 1234, payload: 8},
		{dst: "198.18.2.1", payload: 30}, {dst: "198.18.0.9", vlan: 200, payload: 10},
		{src: "2001:db8:1::10", dst: "2001:db8:100::1", payload: 16}, {dst: "198.51.100.2", payload: 12},
		{src: "2001:db8:1::10", dst: "2001:db8:2::2", payload: 12},
	} {
		if s.src == "" {
			s.src = "192.0.2.10"
		}
		s.dstMAC = ifMAC(0)
		if !pr.check(t, build(t, s)) {
			t.Errorf("%+v: punted, want the fast path to forward it", s)
		}
		pr.settle()
	}
	padded := append(build(t, frameSpec{src: "192.0.2.10", dst: "198.18.0.5", dstMAC: ifMAC(0)}), make([]byte, 18)...)
	if !pr.check(t, padded) {
		t.Error("padded frame punted")
	}
}
