//go:build linux

package dataplane_test

import (
	"encoding/binary"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/afpacket"
	"github.com/fibd/fibd/dataplane/backend"
	"github.com/fibd/fibd/dataplane/fastpath"
	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/netnstest"
)

// fpRig is a router namespace whose three interfaces (rin, rout1, rout2)
// fibd owns on AF_XDP, with or without the in-kernel fast path, and a
// namespace on their far side (pin, po1, po2) where the test writes raw
// frames into pin and captures what comes out of each. Every MAC is
// fixed, so two rigs built alike produce byte-identical frames.
type fpRig struct {
	t     *testing.T
	rtr   *netnstest.NS
	gen   *netnstest.NS
	reg   *fib.Registry
	e     *dataplane.Engine
	fp    *backend.FastPath
	tx    *afpacket.Port
	caps  map[string]chan []byte
	ports map[string]adj.PortID
}

var (
	macRin   = adj.MAC{2, 0, 0, 0, 1, 1}
	macRout1 = adj.MAC{2, 0, 0, 0, 1, 2}
	macRout2 = adj.MAC{2, 0, 0, 0, 1, 3}
	macPin   = adj.MAC{2, 0, 0, 0, 2, 1}
	macPo1   = adj.MAC{2, 0, 0, 0, 2, 2}
	macPo2   = adj.MAC{2, 0, 0, 0, 2, 3}
)

// attachPass puts an XDP_PASS program on ifname in ns until the test
// ends: a veth delivers frames redirected to its peer only while the
// receiving end runs NAPI, which an XDP program switches on.
func attachPass(t testing.TB, ns *netnstest.NS, ifname string) {
	t.Helper()
	detach, err := netnstest.XDPAction(ns, ifname, netnstest.XDPPass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(detach)
}

func newFPRig(t *testing.T, fast bool) *fpRig { return newFPRigWith(t, fast, nil) }

// newFPRigWith is newFPRig leaving the far ends in bare (no XDP program,
// no NAPI: a veth refuses frames redirected towards them).
func newFPRigWith(t *testing.T, fast bool, bare map[string]bool) *fpRig {
	t.Helper()
	needTools(t, "ip")
	r := &fpRig{t: t, rtr: netnstest.New(t, "fr"), gen: netnstest.New(t, "fg"), reg: fib.NewRegistry(fib.Options{}),
		caps: map[string]chan []byte{}, ports: map[string]adj.PortID{}}
	for _, v := range []struct {
		rif, gif   string
		rmac, gmac adj.MAC
	}{{"rin", "pin", macRin, macPin}, {"rout1", "po1", macRout1, macPo1}, {"rout2", "po2", macRout2, macPo2}} {
		netnstest.NamedVeth(t, r.rtr, v.rif, r.gen, v.gif)
		r.rtr.Exec("ip", "link", "set", v.rif, "address", v.rmac.String())
		r.gen.Exec("ip", "link", "set", v.gif, "address", v.gmac.String())
		if !bare[v.gif] {
			attachPass(t, r.gen, v.gif)
		}
		// The far side sends nothing of its own (no router or neighbour
		// solicitations, no MLD): every frame fibd sees is the test's.
		r.gen.Sysctl("net.ipv6.conf."+v.gif+".disable_ipv6", "1")
	}
	r.rtr.Exec("ip", "link", "set", "rout1", "mtu", "1400")
	r.gen.Exec("ip", "link", "set", "po1", "mtu", "1400")
	var links *backend.Links
	if err := r.rtr.Do(func() (err error) { links, err = backend.NewLinks(false); return err }); err != nil {
		t.Fatal(err)
	}
	var tables fastpath.Tables
	if fast {
		fp, err := backend.NewFastPath()
		if err != nil {
			t.Fatal(err)
		}
		r.fp = fp
		tables = fp
		t.Cleanup(func() { fp.Close() })
	}
	inner, err := backend.OpenerFast(backend.XDP, slog.Default(), r.fp)
	if err != nil {
		t.Fatal(err)
	}
	open := func(name string, idx int, o dataplane.OpenOptions) (ios []dataplane.PacketIO, b string, err error) {
		if derr := r.rtr.Do(func() error { ios, b, err = inner(name, idx, o); return nil }); derr != nil {
			return nil, "", derr
		}
		return ios, b, err
	}
	cfg := dataplane.Config{Registry: r.reg, Open: open, Links: links}
	if tables != nil {
		cfg.FastPath = tables
	}
	e, err := dataplane.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.e = e
	t.Cleanup(func() { e.Close(); links.Close() })
	if err := r.gen.Do(func() (err error) { r.tx, err = afpacket.Open("pin", afpacket.Config{}); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.tx.Close() })
	for _, ifname := range []string{"pin", "po1", "po2"} {
		r.capture(ifname)
	}
	return r
}

// capture reads every frame arriving on ifname (tags put back inline, as
// the wire had them) into r.caps[ifname].
func (r *fpRig) capture(ifname string) {
	var p *afpacket.Port
	if err := r.gen.Do(func() (err error) { p, err = afpacket.Open(ifname, afpacket.Config{}); return err }); err != nil {
		r.t.Fatal(err)
	}
	ch := make(chan []byte, 1<<16)
	r.caps[ifname] = ch
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		bufs := make([][]byte, p.BatchSize())
		for i := range bufs {
			bufs[i] = make([]byte, 4096)
		}
		meta := make([]dataplane.RxMeta, len(bufs))
		for {
			n, err := p.ReadBatch(bufs, meta)
			if err != nil {
				return
			}
			for i := 0; i < n; i++ {
				f := bufs[i][:meta[i].Len]
				out := make([]byte, 0, len(f)+4)
				if meta[i].HasVLAN {
					tpid := meta[i].VLANTPID
					if tpid == 0 {
						tpid = packet.TPID8021Q
					}
					out = append(out, f[:12]...)
					out = binary.BigEndian.AppendUint16(out, tpid)
					out = binary.BigEndian.AppendUint16(out, meta[i].VLAN)
					out = append(out, f[12:]...)
				} else {
					out = append(out, f...)
				}
				select {
				case ch <- out:
				default:
				}
			}
		}
	}()
	r.t.Cleanup(func() { p.Close(); wg.Wait() })
}

func (r *fpRig) fib(id adj.FIBID) *fib.FIB {
	if f, ok := r.reg.Get(id); ok {
		return f
	}
	f, err := r.reg.Create(id)
	if err != nil {
		r.t.Fatal(err)
	}
	return f
}

func (r *fpRig) bind(spec dataplane.PortSpec, id adj.FIBID, addrs ...string) adj.PortID {
	r.t.Helper()
	f := r.fib(id)
	p, err := r.e.BindPort(spec, id)
	if err != nil {
		r.t.Fatalf("bind %s: %v", spec.Name(), err)
	}
	for _, a := range addrs {
		if err := f.AddAddress(p, netip.MustParsePrefix(a)); err != nil {
			r.t.Fatalf("%s: address %s: %v", spec.Name(), a, err)
		}
	}
	r.ports[spec.Name()] = p
	return p
}

func (r *fpRig) neighbor(id adj.FIBID, port adj.PortID, ip string, mac adj.MAC) {
	r.t.Helper()
	if err := r.e.Neighbors().AddStatic(adj.Key{FIB: id, Port: port, Addr: netip.MustParseAddr(ip)}, mac); err != nil {
		r.t.Fatal(err)
	}
}

func (r *fpRig) route(id adj.FIBID, prefix string, paths ...fib.Path) {
	r.t.Helper()
	if err := r.fib(id).Replace(fib.Route{Prefix: netip.MustParsePrefix(prefix), Source: "static", Preference: fib.PrefStatic, Paths: paths}); err != nil {
		if err := r.fib(id).Add(fib.Route{Prefix: netip.MustParsePrefix(prefix), Source: "static", Preference: fib.PrefStatic, Paths: paths}); err != nil {
			r.t.Fatalf("route %s: %v", prefix, err)
		}
	}
}

func gw(ip string) fib.Path { return fib.Path{Kind: fib.PathGateway, Gateway: netip.MustParseAddr(ip)} }

// send writes one frame into pin.
func (r *fpRig) send(frame []byte) {
	r.t.Helper()
	if n, err := r.tx.WriteBatch([][]byte{frame}); err != nil || n != 1 {
		r.t.Fatalf("send: %d, %v", n, err)
	}
}

// out is one captured frame and where it came out.
type out struct {
	iface string
	frame []byte
}

// collect gathers what comes out within wait after the last frame seen
// (at most max after the call).
func (r *fpRig) collect(wait, maxWait time.Duration) []out {
	var got []out
	deadline := time.After(maxWait)
	quiet := time.NewTimer(wait)
	defer quiet.Stop()
	for {
		select {
		case f := <-r.caps["pin"]:
			got = append(got, out{"pin", f})
		case f := <-r.caps["po1"]:
			got = append(got, out{"po1", f})
		case f := <-r.caps["po2"]:
			got = append(got, out{"po2", f})
		case <-quiet.C:
			return got
		case <-deadline:
			return got
		}
		quiet.Reset(wait)
	}
}

// drops returns every port's drop counters, by port and reason.
func (r *fpRig) drops() map[string]uint64 {
	m := map[string]uint64{}
	for _, p := range r.e.Ports() {
		for k, v := range p.Counters.Drops {
			m[p.Name+" "+k] += v
		}
	}
	return m
}

func (r *fpRig) fastForwarded() uint64 { return r.e.FastPath().Forwarded }
