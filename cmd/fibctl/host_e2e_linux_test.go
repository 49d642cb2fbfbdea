package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane/hoststack"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/internal/vlanswitch"
)

// hostRig is the founding example: one router, customer A behind its own
// port in FIB 10 and customer B behind VLAN 200 of a trunk in FIB 20, with
// identical addressing (the router is 192.0.2.1 and 2001:db8:1::1 to both,
// each client 192.0.2.10 and 2001:db8:1::10). Only A has 192.0.2.30, only
// B 192.0.2.20, so a test can tell which customer it reached; B also has
// a server, 198.51.100.10 behind VLAN 201, that FIB 20 forwards to. fibd
// runs inside the router namespace with both FIBs' host stacks on.
type hostRig struct {
	t            *testing.T
	d            *daemon
	router, a, b *netnstest.NS
	bsrv         *netnstest.NS // a server of customer B's, behind VLAN 201 in FIB 20
	prefix, dir  string
	demo         string
	sock, state  string
	fibdArgs     []string
	mu           sync.Mutex
	servers      []*exec.Cmd
	serverOut    []*syncBuffer
	ns10, ns20   hoststack.Namespace
}

func newHostRig(t *testing.T) *hostRig {
	netnstest.Require(t)
	fibd, _ := binaries(t)
	r := &hostRig{t: t, dir: t.TempDir(), demo: filepath.Join(filepath.Dir(fibd), "fibdemo")}
	r.prefix = netnstest.Name("h") + "-fib"
	r.ns10, r.ns20 = hoststack.Name(r.prefix, 10), hoststack.Name(r.prefix, 20)
	t.Cleanup(func() {
		// fibd leaves host namespaces behind by design (programs in them
		// outlive it); the test removes its own.
		list, _ := hoststack.List(r.prefix)
		for _, ns := range list {
			_ = ns.Remove()
		}
	})
	r.router = netnstest.New(t, "hr")
	r.a = netnstest.New(t, "ha")
	r.b = netnstest.New(t, "hb")
	r.bsrv = netnstest.New(t, "hbs")
	sw := netnstest.New(t, "hs")
	veth(t, r.a, "eth0", r.router, "a-cli")
	veth(t, r.b, "eth0", sw, "acc200")
	veth(t, r.bsrv, "eth0", sw, "acc201")
	veth(t, sw, "trunk", r.router, "trunk")
	// Hosts behind the userspace switch compute their own checksums (see
	// internal/vlanswitch).
	r.b.Exec("ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off")
	r.bsrv.Exec("ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off")
	r.bsrv.Exec("ip", "addr", "add", "198.51.100.10/24", "dev", "eth0")
	r.bsrv.Exec("ip", "route", "add", "default", "via", "198.51.100.1")
	var vs *vlanswitch.Switch
	if err := sw.Do(func() (err error) {
		vs, err = vlanswitch.Start("trunk", map[uint16]string{200: "acc200", 201: "acc201"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vs.Stop)
	for _, c := range []struct {
		ns   *netnstest.NS
		only string
	}{{r.a, "192.0.2.30/24"}, {r.b, "192.0.2.20/24"}} {
		c.ns.Exec("ip", "addr", "add", "192.0.2.10/24", "dev", "eth0")
		c.ns.Exec("ip", "addr", "add", c.only, "dev", "eth0")
		c.ns.Exec("ip", "-6", "addr", "add", "2001:db8:1::10/64", "dev", "eth0", "nodad")
		c.ns.Exec("ip", "route", "add", "default", "via", "192.0.2.1")
		c.ns.Exec("ip", "-6", "route", "add", "default", "via", "2001:db8:1::1")
	}
	r.sock = filepath.Join(r.dir, "fibd.sock")
	r.state = filepath.Join(r.dir, "state.json")
	r.fibdArgs = []string{"--socket", r.sock, "--state", r.state, "--io", "afpacket", "--host-netns-prefix", r.prefix}
	r.startFibd()
	r.d.ok("fib", "add", "10")
	r.d.ok("fib", "add", "20")
	r.d.ok("port", "bind", "a-cli", "--fib", "10")
	r.d.ok("port", "bind", "trunk", "--vlan", "200", "--fib", "20")
	r.d.ok("port", "bind", "trunk", "--vlan", "201", "--fib", "20")
	r.d.ok("addr", "add", "198.51.100.1/24", "dev", "trunk.201")
	for _, port := range []string{"a-cli", "trunk.200"} {
		r.d.ok("addr", "add", "192.0.2.1/24", "dev", port)
		r.d.ok("addr", "add", "2001:db8:1::1/64", "dev", port)
	}
	r.d.ok("fib", "set", "10", "--host", "on")
	r.d.ok("fib", "set", "20", "--host", "on")
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, s := range r.servers {
			_ = s.Process.Kill()
			_ = s.Wait()
		}
	})
	return r
}

func veth(t *testing.T, na *netnstest.NS, a string, nb *netnstest.NS, b string) {
	ta, tb := netnstest.Name("v"), netnstest.Name("v")
	netnstest.Veth(t, ta, na, tb, nb)
	na.Exec("ip", "link", "set", ta, "down")
	na.Exec("ip", "link", "set", ta, "name", a, "up")
	nb.Exec("ip", "link", "set", tb, "down")
	nb.Exec("ip", "link", "set", tb, "name", b, "up")
}

// startFibd runs fibd inside the router namespace (only its network: the
// host namespaces it mounts must be visible to this test's fibctl).
func (r *hostRig) startFibd() {
	r.d = launchFibd(r.t, r.sock, func(c *exec.Cmd) error { return r.router.Do(c.Start) }, r.fibdArgs)
}

// serve starts `fibctl exec --fib FIB -- fibdemo serve ARGS…` and waits
// until it serves.
func (r *hostRig) serve(fib string, args ...string) {
	r.t.Helper()
	cmd := exec.Command(r.d.fibctl, append([]string{"--socket", r.sock, "exec", "--fib", fib, "--", r.demo, "serve"}, args...)...)
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.servers = append(r.servers, cmd)
	r.serverOut = append(r.serverOut, out)
	r.mu.Unlock()
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(out.String(), "serving"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("server in fib %s did not start:\n%s", fib, out)
		}
	}
}

// curl runs curl in a client namespace and returns its output.
func curl(t *testing.T, ns *netnstest.NS, args ...string) string {
	t.Helper()
	out, err := ns.Try(append([]string{"curl", "-sS", "--max-time", "20"}, args...)...)
	if err != nil {
		t.Fatalf("curl %s in %s: %v\n%s", strings.Join(args, " "), ns.Name, err, out)
	}
	return out
}

// hostCounters returns FIB id's host-stack counters from fib show --json.
func (r *hostRig) hostCounters(id string) map[string]any {
	r.t.Helper()
	var fibs []map[string]any
	if err := json.Unmarshal([]byte(r.d.ok("fib", "show", id, "--json")), &fibs); err != nil || len(fibs) != 1 {
		r.t.Fatalf("fib show %s --json: %v", id, err)
	}
	h, _ := fibs[0]["host"].(map[string]any)
	if h == nil {
		r.t.Fatalf("fib %s has no host in %v", id, fibs[0])
	}
	return h
}

func num(m map[string]any, path ...string) float64 {
	for i, k := range path {
		if i == len(path)-1 {
			switch v := m[k].(type) {
			case float64:
				return v
			case string: // protojson writes a uint64 field as a string
				var f float64
				fmt.Sscan(v, &f)
				return f
			}
			return 0
		}
		m, _ = m[k].(map[string]any)
	}
	return 0
}

func bigSum(n int) string {
	h := sha256.New()
	_, _ = io.CopyN(h, bigReader(), int64(n))
	return hex.EncodeToString(h.Sum(nil))
}

// bigReader is fibdemo serve's /big stream (cmd/fibdemo BigReader),
// rebuilt here from the same seed.
func bigReader() io.Reader {
	var seed [32]byte
	copy(seed[:], "fibd")
	return rand.NewChaCha8(seed)
}

// TestFoundingExample: two HTTP servers on the router with the same
// address and port, one in FIB 10 and one in FIB 20; each customer
// reaches its own, over IPv4 and IPv6, with 10 MB each way intact.
func TestFoundingExample(t *testing.T) {
	r := newHostRig(t)
	r.serve("10", "--body", "customer A", "--http", "192.0.2.1:80", "--http", "[2001:db8:1::1]:80", "--udp", "192.0.2.1:7")
	r.serve("20", "--body", "customer B", "--http", "192.0.2.1:80", "--http", "[2001:db8:1::1]:80", "--udp", "192.0.2.1:7")
	for _, c := range []struct {
		ns   *netnstest.NS
		want string
	}{{r.a, "customer A"}, {r.b, "customer B"}} {
		for _, url := range []string{"http://192.0.2.1/", "http://[2001:db8:1::1]/"} {
			if got := strings.TrimSpace(curl(t, c.ns, url)); got != c.want {
				t.Fatalf("%s from %s: %q, want %q", url, c.ns.Name, got, c.want)
			}
		}
		// 10 MB down, with the checksum of what the server sent.
		const size = 10 << 20
		file := filepath.Join(r.dir, strings.ReplaceAll(c.want, " ", "-")+".bin")
		curl(t, c.ns, "-o", file, fmt.Sprintf("http://192.0.2.1/big?bytes=%d", size))
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); len(b) != size || hex.EncodeToString(got[:]) != bigSum(size) {
			t.Fatalf("%s: download of %d bytes corrupted (%d bytes)", c.want, size, len(b))
		}
		// 10 MB up: the server answers the checksum of what it received.
		up := strings.Fields(curl(t, c.ns, "--data-binary", "@"+file, "-H", "Content-Type: application/octet-stream", "http://[2001:db8:1::1]/upload"))
		if len(up) != 2 || up[0] != bigSum(size) || up[1] != fmt.Sprint(size) {
			t.Fatalf("%s: upload arrived as %v, want %s %d", c.want, up, bigSum(size), size)
		}
	}
	// A UDP service inside a FIB.
	for _, c := range []struct {
		ns   *netnstest.NS
		want string
	}{{r.a, "customer A hi"}, {r.b, "customer B hi"}} {
		var got string
		err := c.ns.Do(func() error {
			conn, err := net.Dial("udp", "192.0.2.1:7")
			if err != nil {
				return err
			}
			defer conn.Close()
			buf := make([]byte, 100)
			for try := 0; try < 5; try++ {
				_, _ = conn.Write([]byte("hi"))
				_ = conn.SetReadDeadline(time.Now().Add(time.Second))
				if n, err := conn.Read(buf); err == nil {
					got = string(buf[:n])
					return nil
				}
			}
			return fmt.Errorf("no answer")
		})
		if err != nil || got != c.want {
			t.Fatalf("UDP echo from %s: %q, %v; want %q", c.ns.Name, got, err, c.want)
		}
	}
	// fib show names each FIB's host namespace.
	if out := r.d.ok("fib", "show"); !strings.Contains(out, string(r.ns10)) || !strings.Contains(out, string(r.ns20)) {
		t.Fatalf("fib show lacks the host namespaces:\n%s", out)
	}
}

// TestProgramsOnTheRouterReachOnlyTheirFIB: ping and traceroute run on
// the router with fibctl exec reach their FIB's hosts and never the
// other FIB's.
func TestProgramsOnTheRouterReachOnlyTheirFIB(t *testing.T) {
	r := newHostRig(t)
	run := func(fib string, args ...string) (string, int) {
		out, errOut, code := r.d.ctl(append([]string{"exec", "--fib", fib, "--"}, args...)...)
		return out + errOut, code
	}
	for _, c := range []struct {
		fib, reach, never string
	}{{"10", "192.0.2.30", "192.0.2.20"}, {"20", "192.0.2.20", "192.0.2.30"}} {
		if out, code := run(c.fib, "ping", "-c", "2", "-i", "0.2", "-W", "2", c.reach); code != 0 {
			t.Fatalf("fib %s: ping %s: exit %d\n%s", c.fib, c.reach, code, out)
		}
		// The exit status is ping's own: 1 when nothing answered.
		if out, code := run(c.fib, "ping", "-c", "2", "-i", "0.2", "-W", "1", c.never); code != 1 {
			t.Fatalf("fib %s: ping %s (the other FIB's host): exit %d, want 1\n%s", c.fib, c.never, code, out)
		}
		if out, code := run(c.fib, "ping", "-6", "-c", "1", "-W", "2", "2001:db8:1::10"); code != 0 {
			t.Fatalf("fib %s: ping -6: exit %d\n%s", c.fib, code, out)
		}
		out, code := run(c.fib, "traceroute", "-n", "-q", "1", "-w", "2", "-m", "3", c.reach)
		if code != 0 || !strings.Contains(out, " 1  "+c.reach) {
			t.Fatalf("fib %s: traceroute %s: exit %d\n%s", c.fib, c.reach, code, out)
		}
	}
	// /etc/netns/NAMESPACE/hosts is FIB 10's /etc/hosts, and only FIB 10's.
	etc := filepath.Join("/etc/netns", string(r.ns10))
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(etc) })
	if err := os.WriteFile(filepath.Join(etc, "hosts"), []byte("192.0.2.30 only-in-fib10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := run("10", "cat", "/etc/hosts"); code != 0 || !strings.Contains(out, "only-in-fib10") {
		t.Fatalf("fib 10's /etc/hosts: exit %d\n%s", code, out)
	}
	if out, _ := run("20", "cat", "/etc/hosts"); strings.Contains(out, "only-in-fib10") {
		t.Fatalf("fib 20 sees fib 10's /etc/hosts:\n%s", out)
	}
	if b, _ := os.ReadFile("/etc/hosts"); strings.Contains(string(b), "only-in-fib10") {
		t.Fatal("the bind mount leaked into the host's /etc/hosts")
	}
	if _, code := run("10", "no-such-program-anywhere"); code != 127 {
		t.Fatalf("exec of a missing program: exit %d, want 127", code)
	}
	r.d.fails([]string{"exec", "--fib", "30", "--", "true"}, "fib 30")
	r.d.ok("fib", "add", "30")
	r.d.fails([]string{"exec", "--fib", "30", "--", "true"}, "no host stack", "fibctl fib set 30 --host on")
}

// TestOneProcessServesTwoFIBs: the socket package opens one listener per
// FIB on the same address and port, in this process.
func TestOneProcessServesTwoFIBs(t *testing.T) {
	r := newHostRig(t)
	for _, c := range []struct {
		fib  uint32
		body string
	}{{10, "A from one process"}, {20, "B from one process"}} {
		ns := hoststack.Name(r.prefix, c.fib)
		var ln net.Listener
		var err error
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if ln, err = ns.Listen("tcp", "192.0.2.1:8080"); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatalf("listen in fib %d: %v", c.fib, err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, c.body) }),
			ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	if got := curl(t, r.a, "http://192.0.2.1:8080/"); got != "A from one process" {
		t.Fatalf("customer A got %q", got)
	}
	if got := curl(t, r.b, "http://192.0.2.1:8080/"); got != "B from one process" {
		t.Fatalf("customer B got %q", got)
	}
	// Dial from inside a FIB reaches that FIB's customer.
	var l net.Listener
	if err := r.a.Do(func() (err error) { l, err = net.Listen("tcp", "192.0.2.30:9000"); return err }); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			fmt.Fprint(c, "this is A")
			c.Close()
		}
	}()
	c, err := hoststack.Name(r.prefix, 10).DialContext(context.Background(), "tcp", "192.0.2.30:9000")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "this is A" {
		t.Fatalf("dial from fib 10 read %q", b)
	}
}

// TestHostTCPSurvivesRouteChange: a keep-alive connection to a server in
// FIB 10, from a customer network behind a route, keeps working when the
// route moves to another gateway: fibd caches nothing about the flow.
func TestHostTCPSurvivesRouteChange(t *testing.T) {
	r := newHostRig(t)
	r.serve("10", "--body", "customer A", "--http", "192.0.2.1:80")
	r.a.Exec("ip", "addr", "add", "192.0.2.11/24", "dev", "eth0")
	r.a.Exec("ip", "addr", "add", "203.0.113.10/32", "dev", "lo")
	// ARP from the on-link address: fibd answers only senders on the
	// subnet.
	r.a.Sysctl("net.ipv4.conf.all.arp_announce", "2")
	r.d.ok("route", "add", "203.0.113.0/24", "via", "192.0.2.10", "--fib", "10")
	var client *http.Client
	_ = r.a.Do(func() error {
		src := &net.TCPAddr{IP: net.ParseIP("203.0.113.10")}
		client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var c net.Conn
				err := r.a.Do(func() (err error) {
					c, err = (&net.Dialer{LocalAddr: src}).DialContext(ctx, network, addr)
					return err
				})
				return c, err
			}}}
		return nil
	})
	get := func() bool {
		t.Helper()
		reused := false
		req, _ := http.NewRequest("GET", "http://192.0.2.1/", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%v\n%s\n%s\n%s", err, r.d.ok("fib", "show", "10"), r.d.ok("route", "show", "--fib", "10"), r.d.ok("stats"))
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(body)) != "customer A" {
			t.Fatalf("got %q", body)
		}
		return reused
	}
	get()
	r.d.ok("route", "replace", "203.0.113.0/24", "via", "192.0.2.11", "--fib", "10")
	if !get() {
		t.Fatal("the second request did not reuse the connection")
	}
	if out := r.d.ok("route", "get", "203.0.113.10", "--fib", "10"); !strings.Contains(out, "192.0.2.11") {
		t.Fatalf("route not moved:\n%s", out)
	}
}

// TestHostCannotSpoofAndFloodStaysInItsFIB: a program in FIB 10's
// namespace sending from an address that is not FIB 10's is dropped and
// counted; a flood at FIB 10's host stack fills FIB 10's punt queue only,
// while FIB 20's customer keeps being served.
func TestHostCannotSpoofAndFloodStaysInItsFIB(t *testing.T) {
	r := newHostRig(t)
	r.serve("20", "--body", "customer B", "--http", "192.0.2.1:80")
	// A listens where a spoofed datagram would land.
	var sink net.PacketConn
	if err := r.a.Do(func() (err error) { sink, err = net.ListenPacket("udp4", "192.0.2.30:9999"); return err }); err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	spoof := func(src string) error {
		return r.ns10.Do(func() error {
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
			if err != nil {
				return err
			}
			defer syscall.Close(fd)
			pkt := udp4(net.ParseIP(src), net.ParseIP("192.0.2.30"), 9999, []byte("spoofed"))
			return syscall.Sendto(fd, pkt, 0, &syscall.SockaddrInet4{Addr: [4]byte{192, 0, 2, 30}})
		})
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		// The first datagram may precede the mirrored address: retry
		// the genuine one until it arrives.
		if err := spoof("192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		_ = sink.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, _, err := sink.ReadFrom(make([]byte, 100)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a datagram from FIB 10's own address never reached customer A")
		}
	}
	for range 5 {
		if err := spoof("198.51.100.77"); err != nil {
			t.Fatal(err)
		}
	}
	_ = sink.SetReadDeadline(time.Now().Add(time.Second))
	if _, from, err := sink.ReadFrom(make([]byte, 100)); err == nil {
		t.Fatalf("a spoofed datagram reached customer A from %v", from)
	}
	if n := num(r.hostCounters("10"), "drops", "host-spoofed"); n != 5 {
		t.Fatalf("host-spoofed = %v, want 5: %v\n%s", n, r.hostCounters("10"), r.d.ok("stats"))
	}

	// FIB 20 forwards a paced flow from customer B to its server while
	// nothing happens, then while 300k datagrams flood FIB 10's host as
	// fast as A can send them; B also fetches from FIB 20's host.
	var srvSink net.PacketConn
	if err := r.bsrv.Do(func() (err error) { srvSink, err = net.ListenPacket("udp4", ":9000"); return err }); err != nil {
		t.Fatal(err)
	}
	defer srvSink.Close()
	var received atomic.Int64
	go func() {
		buf := make([]byte, 100)
		for {
			if _, _, err := srvSink.ReadFrom(buf); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	flow := func(n int) int64 {
		t.Helper()
		before := received.Load()
		err := r.b.Do(func() error {
			c, err := net.Dial("udp4", "198.51.100.10:9000")
			if err != nil {
				return err
			}
			defer c.Close()
			tick := time.NewTicker(time.Millisecond) // 1,000 pps, 2 per tick
			defer tick.Stop()
			for i := 0; i < n; i += 2 {
				<-tick.C
				_, _ = c.Write([]byte("fib 20 flow"))
				_, _ = c.Write([]byte("fib 20 flow"))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		return received.Load() - before
	}
	if got := flow(1000); got < 990 {
		t.Fatalf("FIB 20's flow lost %d of 1000 with no flood", 1000-got)
	}
	const flood = 300000
	floodDone := make(chan error, 1)
	go func() {
		floodDone <- r.a.Do(func() error {
			c, err := net.Dial("udp4", "192.0.2.1:9")
			if err != nil {
				return err
			}
			defer c.Close()
			payload := make([]byte, 64)
			deadline := time.Now().Add(30 * time.Second)
			for i := 0; i < flood && time.Now().Before(deadline); i++ {
				_, _ = c.Write(payload)
			}
			return nil
		})
	}()
	flowDone := make(chan int64, 1)
	go func() { flowDone <- flow(3000) }()
	for i := range 10 {
		if got := strings.TrimSpace(curl(t, r.b, "http://192.0.2.1/")); got != "customer B" {
			t.Fatalf("request %d from B during the flood: %q", i, got)
		}
	}
	if err := <-floodDone; err != nil {
		t.Fatal(err)
	}
	if got := <-flowDone; got < 2970 {
		t.Fatalf("FIB 20's forwarded flow lost %d of 3000 (more than 1 %%) while FIB 10's host was flooded", 3000-got)
	} else {
		t.Logf("FIB 20's flow during the flood: %d of 3000 forwarded", got)
	}
	h10, h20 := r.hostCounters("10"), r.hostCounters("20")
	if num(h20, "drops", "host-queue-full") != 0 {
		t.Fatalf("FIB 20's punt queue dropped during FIB 10's flood: %v", h20)
	}
	t.Logf("fib 10 host under flood: punted %v, host-queue-full %v; fib 20: punted %v",
		num(h10, "punted"), num(h10, "drops", "host-queue-full"), num(h20, "punted"))
	if num(h10, "punted") < 1 {
		t.Fatalf("FIB 10's host saw nothing of the flood: %v", h10)
	}
}

// TestHostStackSurvivesKillAndTurnsOff: fibd killed with SIGKILL and
// started again reuses the namespaces (the server in them never
// restarts), removes a stale one, and turning a host stack off removes
// its namespace.
func TestHostStackSurvivesKillAndTurnsOff(t *testing.T) {
	r := newHostRig(t)
	r.serve("10", "--body", "customer A", "--http", "0.0.0.0:80")
	if got := strings.TrimSpace(curl(t, r.a, "http://192.0.2.1/")); got != "customer A" {
		t.Fatalf("before: %q", got)
	}
	_ = r.d.cmd.Process.Kill()
	err := <-r.d.done
	r.d.done <- err // for the cleanup, which waits too
	stale := hoststack.Name(r.prefix, 99)
	netnstest.Run(t, "ip", "netns", "add", string(stale))
	r.startFibd()
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := r.a.Try("curl", "-sS", "--max-time", "2", "http://192.0.2.1/")
		if got = strings.TrimSpace(out); err == nil && got == "customer A" {
			break
		}
	}
	if got != "customer A" {
		t.Fatalf("after kill -9 and restart: %q, want the same server's answer", got)
	}
	if !strings.Contains(r.d.stderr.String(), "reused=true") {
		t.Fatalf("the namespace was not reused:\n%s", r.d.stderr)
	}
	list, err := hoststack.List(r.prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0] != r.ns10 || list[1] != r.ns20 {
		t.Fatalf("host namespaces after restart: %v, want %s and %s (the stale one removed)", list, r.ns10, r.ns20)
	}
	r.d.ok("fib", "set", "20", "--host", "off")
	if list, _ = hoststack.List(r.prefix); len(list) != 1 || list[0] != r.ns10 {
		t.Fatalf("after --host off: %v", list)
	}
	if out := r.d.ok("fib", "show", "20"); strings.Contains(out, string(r.ns20)) {
		t.Fatalf("fib 20 still shows a host:\n%s", out)
	}
	// The state says so too: a restart brings back FIB 10's only.
	st, _ := os.ReadFile(r.state)
	var cfg struct {
		FIBs []struct {
			ID        int  `json:"id"`
			HostStack bool `json:"host_stack"`
		} `json:"fibs"`
	}
	if err := json.Unmarshal(st, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, f := range cfg.FIBs {
		if f.HostStack != (f.ID == 10) {
			t.Fatalf("state: %s", bytes.TrimSpace(st))
		}
	}
}

// udp4 builds an IPv4 UDP datagram (UDP checksum 0: none, RFC 768).
func udp4(src, dst net.IP, port uint16, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	copy(p[12:16], src.To4())
	copy(p[16:20], dst.To4())
	binary.BigEndian.PutUint16(p[20:], 40000)
	binary.BigEndian.PutUint16(p[22:], port)
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	copy(p[28:], payload)
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(p[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(p[10:], ^uint16(sum))
	return p
}
