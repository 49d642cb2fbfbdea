//go:build linux

package dataplane_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/backend"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/internal/testenv"
	"github.com/fibd/fibd/internal/vlanswitch"
)

// topo is a router namespace whose interfaces a fibd engine in this
// process owns, plus customer hosts around it: real kernel stacks on the
// far side of real veths.
type topo struct {
	t   *testing.T
	rtr *netnstest.NS
	reg *fib.Registry
	e   *dataplane.Engine
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	netnstest.Require(t)
	testenv.RequireTool(t, tools...)
}

func newTopo(t *testing.T, kind string) *topo {
	t.Helper()
	return newTopoWorkers(t, kind, 0)
}

// newTopoWorkers is newTopo with dataplane.Config.Workers set.
func newTopoWorkers(t *testing.T, kind string, workers int) *topo {
	t.Helper()
	tp := &topo{t: t, rtr: netnstest.New(t, "rt"), reg: fib.NewRegistry(fib.Options{})}
	var links *backend.Links
	if err := tp.rtr.Do(func() (err error) { links, err = backend.NewLinks(false); return err }); err != nil {
		t.Fatal(err)
	}
	inner, err := backend.Opener(kind, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	// Sockets must be made inside the router namespace; the engine may
	// open an interface from any goroutine.
	open := func(name string, idx int, o dataplane.OpenOptions) (ios []dataplane.PacketIO, b string, err error) {
		if derr := tp.rtr.Do(func() error { ios, b, err = inner(name, idx, o); return nil }); derr != nil {
			return nil, "", derr
		}
		return ios, b, err
	}
	e, err := dataplane.New(dataplane.Config{Registry: tp.reg, Open: open, Links: links, Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	tp.e = e
	t.Cleanup(func() { e.Close(); links.Close() })
	return tp
}

func (tp *topo) fib(id adj.FIBID) *fib.FIB {
	if f, ok := tp.reg.Get(id); ok {
		return f
	}
	f, err := tp.reg.Create(id)
	if err != nil {
		tp.t.Fatal(err)
	}
	return f
}

// bind gives fibd the router-side interface ifname (VLAN vlan) in FIB id,
// with addresses; every port also gets the link-local fe80::1.
func (tp *topo) bind(ifname string, vlan uint16, id adj.FIBID, addrs ...string) adj.PortID {
	tp.t.Helper()
	return tp.bindSpec(dataplane.PortSpec{Interface: ifname, VLAN: vlan}, id, addrs...)
}

// bindSpec is bind for any port: QinQ, a chosen TPID.
func (tp *topo) bindSpec(spec dataplane.PortSpec, id adj.FIBID, addrs ...string) adj.PortID {
	tp.t.Helper()
	f := tp.fib(id)
	p, err := tp.e.BindPort(spec, id)
	if err != nil {
		tp.t.Fatalf("bind %s: %v", spec.Name(), err)
	}
	for _, a := range append(addrs, "fe80::1/64") {
		if err := f.AddAddress(p, netip.MustParsePrefix(a)); err != nil {
			tp.t.Fatalf("%s: address %s: %v", spec.Name(), a, err)
		}
	}
	return p
}

// host is a customer machine: a namespace with one veth to the router (or
// to a switch), addresses and default routes.
type host struct {
	*netnstest.NS
	ifname string
}

func (tp *topo) host(tag, peerIf string, peer *netnstest.NS, mtu int, addrs []string, gw4, gw6 string) *host {
	tp.t.Helper()
	ns := netnstest.New(tp.t, tag)
	h := &host{NS: ns, ifname: netnstest.Name("h")}
	netnstest.Veth(tp.t, h.ifname, ns, peerIf, peer)
	if mtu != 0 {
		ns.Exec("ip", "link", "set", h.ifname, "mtu", fmt.Sprint(mtu))
		peer.Exec("ip", "link", "set", peerIf, "mtu", fmt.Sprint(mtu))
	}
	for _, a := range addrs {
		args := []string{"ip", "addr", "add", a, "dev", h.ifname}
		if strings.Contains(a, ":") {
			args = append(args, "nodad")
		}
		ns.Exec(args...)
	}
	ns.Exec("ip", "route", "add", "default", "via", gw4)
	ns.Exec("ip", "-6", "route", "add", "default", "via", gw6)
	return h
}

// serveHTTP runs an HTTP server inside ns on port 80 that answers GET with
// body and POST with the number of bytes it received.
func serveHTTP(t *testing.T, ns *netnstest.NS, body string) {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp", ":80"); return err }); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%s got %d bytes\n", body, n)
			return
		}
		fmt.Fprintln(w, body)
	}), ReadTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// run runs a command in a host and returns its output; failing is an
// error unless want is false.
func run(t *testing.T, ns *netnstest.NS, wantOK bool, args ...string) string {
	t.Helper()
	out, err := ns.Try(args...)
	if wantOK && err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !wantOK && err == nil {
		t.Fatalf("%s: succeeded, want failure\n%s", strings.Join(args, " "), out)
	}
	return out
}

func wantIn(t *testing.T, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Fatalf("output lacks %q:\n%s", s, out)
		}
	}
}

// startSwitch runs a userspace VLAN access switch inside ns until the test
// ends (the kernel has no 8021q module to do it).
func startSwitch(t *testing.T, ns *netnstest.NS, trunk string, access map[uint16]string) {
	t.Helper()
	var sw *vlanswitch.Switch
	if err := ns.Do(func() (err error) { sw, err = vlanswitch.Start(trunk, access); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Stop)
}
