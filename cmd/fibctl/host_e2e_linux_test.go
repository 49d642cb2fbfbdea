package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane/hoststack"
	"github.com/fibd/fibd/internal/netnstest"
)

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
	// The transfers went through the TUN's offloads: the host's TSO
	// super-packets were cut by fibd, and the upload's segments merged.
	if h := r.hostCounters("10"); num(h, "io", "tun_rx_tso_packets") < 1 || num(h, "io", "tun_tx_gro_segments") < 2 {
		t.Fatalf("FIB 10's host stack used no TSO or GRO: %v", h["io"])
	} else {
		t.Logf("FIB 10's host offloads after 10 MB each way: %v", h["io"])
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
	// Path MTU from the router itself: a host behind a 1280-byte link of
	// FIB 10. A DF ping too big for it is answered by fibd's Packet Too
	// Big / fragmentation needed into the host, which reports the MTU.
	small := netnstest.New(t, "hm")
	netnstest.NamedVeth(t, small, "eth0", r.router, "m-1280")
	for _, ns := range []*netnstest.NS{small, r.router} {
		dev := "eth0"
		if ns == r.router {
			dev = "m-1280"
		}
		ns.Exec("ip", "link", "set", dev, "mtu", "1280")
	}
	small.Exec("ip", "addr", "add", "203.0.113.10/24", "dev", "eth0")
	small.Exec("ip", "route", "add", "default", "via", "203.0.113.1")
	r.d.ok("port", "bind", "m-1280", "--fib", "10")
	r.d.ok("addr", "add", "203.0.113.1/24", "dev", "m-1280")
	if out, code := run("10", "ping", "-c", "1", "-W", "2", "-M", "do", "-s", "1200", "203.0.113.10"); code != 0 {
		t.Fatalf("ping that fits 1280: exit %d\n%s", code, out)
	}
	out, _ := run("10", "ping", "-c", "2", "-i", "0.3", "-W", "2", "-M", "do", "-s", "1400", "203.0.113.10")
	if !strings.Contains(out, "mtu = 1280") && !strings.Contains(out, "mtu=1280") {
		t.Fatalf("a DF ping over the 1280-byte link did not learn its MTU:\n%s", out)
	}
	if h := r.hostCounters("10"); num(h, "icmp_errors") < 1 || num(h, "drops", "too-big") < 1 {
		t.Fatalf("no packet too big counted: %v", h)
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
