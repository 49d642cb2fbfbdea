//go:build linux

package dataplane_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/backend"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/netnstest"
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
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (make deps installs it)", tool)
		}
	}
}

func newTopo(t *testing.T, kind string) *topo {
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
	open := func(name string, idx int) (ios []dataplane.PacketIO, b string, err error) {
		if derr := tp.rtr.Do(func() error { ios, b, err = inner(name, idx); return nil }); derr != nil {
			return nil, "", derr
		}
		return ios, b, err
	}
	e, err := dataplane.New(dataplane.Config{Registry: tp.reg, Open: open, Links: links})
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
	f := tp.fib(id)
	p, err := tp.e.BindPort(ifname, vlan, id)
	if err != nil {
		tp.t.Fatalf("bind %s.%d: %v", ifname, vlan, err)
	}
	for _, a := range append(addrs, "fe80::1/64") {
		if err := f.AddAddress(p, netip.MustParsePrefix(a)); err != nil {
			tp.t.Fatalf("%s: address %s: %v", ifname, a, err)
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

// accessSwitch is a tiny userspace 802.1Q switch for the tests: frames
// from each access port go out of the trunk with that port's VLAN tag, and
// frames from the trunk go to the access port of their VLAN, untagged. It
// shares no code with fibd (the point is to check fibd's tagging against
// something independent), and runs until the test ends.
type accessSwitch struct {
	trunk  int
	access map[uint16]int // VLAN → socket
	wg     sync.WaitGroup
}

func rawSocket(t *testing.T, ifname string) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		t.Fatal(err)
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1)
	unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	return fd
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func startSwitch(t *testing.T, ns *netnstest.NS, trunk string, access map[uint16]string) {
	t.Helper()
	sw := &accessSwitch{access: map[uint16]int{}}
	err := ns.Do(func() error {
		sw.trunk = rawSocket(t, trunk)
		for vid, name := range access {
			sw.access[vid] = rawSocket(t, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var stop sync.WaitGroup
	done := make(chan struct{})
	stop.Add(1)
	go func() { defer stop.Done(); sw.fromTrunk(done) }()
	for vid, fd := range sw.access {
		stop.Add(1)
		go func() { defer stop.Done(); sw.fromAccess(done, vid, fd) }()
	}
	t.Cleanup(func() {
		close(done)
		stop.Wait()
		unix.Close(sw.trunk)
		for _, fd := range sw.access {
			unix.Close(fd)
		}
	})
}

func (sw *accessSwitch) fromAccess(done chan struct{}, vid uint16, fd int) {
	buf := make([]byte, 4096)
	out := make([]byte, 4100)
	for {
		select {
		case <-done:
			return
		default:
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil || n < 14 {
			continue
		}
		copy(out, buf[:12])
		binary.BigEndian.PutUint16(out[12:], 0x8100)
		binary.BigEndian.PutUint16(out[14:], vid)
		copy(out[16:], buf[12:n])
		unix.Write(sw.trunk, out[:n+4])
	}
}

func (sw *accessSwitch) fromTrunk(done chan struct{}) {
	buf := make([]byte, 4096)
	oob := make([]byte, 256)
	out := make([]byte, 4096)
	for {
		select {
		case <-done:
			return
		default:
		}
		n, oobn, _, _, err := unix.Recvmsg(sw.trunk, buf, oob, 0)
		if err != nil || n < 14 {
			continue
		}
		// The kernel strips the tag into PACKET_AUXDATA; an inline tag is
		// handled too.
		var vid uint16
		tagged := false
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA && len(m.Data) >= int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
					aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
					if aux.Status&unix.TP_STATUS_VLAN_VALID != 0 {
						vid, tagged = aux.Vlan_tci&0xfff, true
					}
				}
			}
		}
		frame := buf[:n]
		if !tagged && binary.BigEndian.Uint16(frame[12:]) == 0x8100 {
			vid = binary.BigEndian.Uint16(frame[14:]) & 0xfff
			copy(out, frame[:12])
			copy(out[12:], frame[16:])
			frame = out[:n-4]
		}
		if fd, ok := sw.access[vid]; ok {
			unix.Write(fd, frame)
		}
	}
}

var _ = os.Getpid
