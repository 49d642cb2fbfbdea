package main

import (
	"context"

	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fibd/fibd/dataplane/hoststack"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/internal/vlanswitch"
)

type demo struct {
	ctx            context.Context
	bin, table, io string
	scope          *netnstest.Scope
	router         *netnstest.NS
	sock, dir      string
	fibd           *exec.Cmd
	results        []result
	start          time.Time
}

type result struct {
	name string
	ok   bool
	why  string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(serveMain(os.Args[2:]))
	}
	self, _ := os.Executable()
	d := &demo{start: time.Now()}
	flag.StringVar(&d.bin, "bin", filepath.Dir(self), "directory holding the fibd and fibctl binaries")
	flag.StringVar(&d.table, "table", "testdata/tables/ipv4.txt.gz", "route table loaded into both FIBs")
	flag.StringVar(&d.io, "io", "auto", "fibd's packet I/O: auto, afpacket or xdp")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := d.run(ctx)
	os.Exit(code)
}

func (d *demo) run(ctx context.Context) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "fibdemo needs root: it creates network namespaces (run `sudo make demo`)")
		return 2
	}
	for _, tool := range []string{"ip", "ping", "curl", "traceroute", "ethtool"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "fibdemo needs %s: run `make deps` first\n", tool)
			return 2
		}
	}
	d.scope = netnstest.NewScope()
	defer func() {
		banner("Tearing down")
		d.scope.Close()
		fmt.Println("removed the fibd-demo-* namespaces")
	}()
	// Ctrl-C: stop fibd and the checks; the deferred teardown runs.
	go func() {
		<-ctx.Done()
		if d.fibd != nil && d.fibd.Process != nil {
			_ = d.fibd.Process.Signal(syscall.SIGTERM)
		}
	}()
	d.ctx = ctx
	err := d.scope.Run(func() { d.script(ctx) })
	if ctx.Err() != nil {
		fmt.Println("\ninterrupted")
		return 130
	}
	if err != nil {
		d.check("demo ran to the end", false, err.Error())
	}
	return d.summary()
}

func (d *demo) script(ctx context.Context) {
	banner("1. The network: two customers with identical addressing")
	fmt.Println(`
  customer A client ── a-cli ┐                  ┌ a-srv ── customer A server
    192.0.2.10               │   fibd router    │          198.51.100.10  "customer A"
                             │  FIB 10 / FIB 20 │
  customer B client ─ switch ┴ trunk.200        └ b-srv ── customer B server
    192.0.2.10   (VLAN 200 access port)                    198.51.100.10  "customer B"

  and on the router itself, 192.0.2.1:80 in FIB 10 (for A) and in FIB 20 (for B)`)
	s := d.scope
	d.router = netnstest.New(s, "demo-router")
	type customer struct {
		name, fib, port, srvPort string
		client, server           *netnstest.NS
		cif                      string
	}
	var cs []*customer
	sw := netnstest.New(s, "demo-switch")
	for _, c := range []*customer{{name: "customer A", fib: "10", port: "a-cli", srvPort: "a-srv"},
		{name: "customer B", fib: "20", port: "trunk.200", srvPort: "b-srv"}} {
		tag := strings.ToLower(c.name[len(c.name)-1:])
		c.client = netnstest.New(s, "demo-"+tag+"-client")
		c.server = netnstest.New(s, "demo-"+tag+"-server")
		c.cif = "eth0"
		if tag == "a" {
			netnstest.NamedVeth(d.scope, c.client, "eth0", d.router, "a-cli")
		} else {
			netnstest.NamedVeth(d.scope, c.client, "eth0", sw, "acc200")
			// Hosts behind the userspace switch compute their own
			// checksums (see internal/vlanswitch).
			c.client.Exec("ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off")
		}
		netnstest.NamedVeth(d.scope, c.server, "eth0", d.router, c.srvPort)
		c.client.Exec("ip", "addr", "add", "192.0.2.10/24", "dev", "eth0")
		c.client.Exec("ip", "-6", "addr", "add", "2001:db8:1::10/64", "dev", "eth0", "nodad")
		c.client.Exec("ip", "route", "add", "default", "via", "192.0.2.1")
		c.client.Exec("ip", "-6", "route", "add", "default", "via", "2001:db8:1::1")
		c.server.Exec("ip", "addr", "add", "198.51.100.10/24", "dev", "eth0")
		c.server.Exec("ip", "-6", "addr", "add", "2001:db8:2::10/64", "dev", "eth0", "nodad")
		c.server.Exec("ip", "route", "add", "default", "via", "198.51.100.1")
		c.server.Exec("ip", "-6", "route", "add", "default", "via", "2001:db8:2::1")
		d.serveHTTP(c.server, c.name)
		cs = append(cs, c)
	}
	netnstest.NamedVeth(d.scope, sw, "trunk", d.router, "trunk")
	var vs *vlanswitch.Switch
	if err := sw.Do(func() (err error) { vs, err = vlanswitch.Start("trunk", map[uint16]string{200: "acc200"}); return err }); err != nil {
		s.Fatalf("access switch: %v", err)
	}
	s.Cleanup(vs.Stop)
	fmt.Printf("\nnamespaces: %s, its customers' clients and servers, and %s\n", d.router.Name, sw.Name)

	banner("2. Start fibd in the router namespace")
	d.dir, _ = os.MkdirTemp("", "fibd-demo-")
	s.Cleanup(func() { os.RemoveAll(d.dir) })
	d.sock = filepath.Join(d.dir, "fibd.sock")
	logf, _ := os.Create(filepath.Join(d.dir, "fibd.log"))
	args := []string{"--socket", d.sock, "--state", "", "--io", d.io, "--log-level", "warn", "--host-netns-prefix", hostPrefix}
	// fibd enters only the router's network namespace (not a mount
	// namespace of its own, as `ip netns exec` would give it), so the
	// FIBs' host namespaces it mounts are visible to fibctl exec.
	fmt.Printf("$ nsenter --net=/run/netns/%s fibd %s\n", d.router.Name, shellJoin(args))
	d.fibd = exec.Command(filepath.Join(d.bin, "fibd"), args...)
	d.fibd.Stdout, d.fibd.Stderr = logf, logf
	s.Cleanup(func() {
		// Host namespaces outlive fibd by design; the demo's go with it.
		list, _ := hoststack.List(hostPrefix)
		for _, ns := range list {
			_ = ns.Remove()
		}
	})
	if err := d.router.Do(d.fibd.Start); err != nil {
		s.Fatalf("starting fibd: %v", err)
	}
	s.Cleanup(func() {
		_ = d.fibd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = d.fibd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = d.fibd.Process.Kill()
		}
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(d.sock); err == nil {
			break
		}
		if i == 100 {
			out, _ := os.ReadFile(filepath.Join(d.dir, "fibd.log"))
			s.Fatalf("fibd did not come up:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	banner("3. Configure it with fibctl")
	d.fibctl("fib", "add", "10")
	d.fibctl("fib", "add", "20")
	d.fibctl("port", "bind", "a-cli", "--fib", "10")
	d.fibctl("port", "bind", "a-srv", "--fib", "10")
	d.fibctl("port", "bind", "trunk", "--vlan", "200", "--fib", "20")
	d.fibctl("port", "bind", "b-srv", "--fib", "20")
	for _, c := range cs {
		for _, a := range []string{"192.0.2.1/24", "2001:db8:1::1/64", "fe80::1/64"} {
			d.fibctl("addr", "add", a, "dev", c.port)
		}
		for _, a := range []string{"198.51.100.1/24", "2001:db8:2::1/64", "fe80::1/64"} {
			d.fibctl("addr", "add", a, "dev", c.srvPort)
		}
	}
	// Each FIB gets a host stack: the router itself serves HTTP on
	// 192.0.2.1:80 to customer A in FIB 10 and, the same address and
	// port, to customer B in FIB 20.
	for _, c := range cs {
		d.fibctl("fib", "set", c.fib, "--host", "on")
		d.routerServer(c.fib, "the router, in FIB "+c.fib+", for "+c.name)
	}
	d.fibctl("route", "add", "203.0.113.0/24", "via", "198.51.100.10", "--fib", "10")
	d.fibctl("route", "add", "203.0.113.0/24", "via", "198.51.100.10", "--fib", "20")
	d.fibctl("port", "show")

	banner("4. Load the full IPv4 table into both FIBs")
	for _, id := range []string{"10", "20"} {
		d.fibctl("route", "load", d.table, "--fib", id, "--via", "198.51.100.254", "--via", "198.51.100.253")
	}
	d.fibctl("fib", "show")

	banner("5. Prove it")
	for _, c := range cs {
		ctx := c.name + ": "
		d.expect(ctx+"gateway answers ping", c.client, "from 192.0.2.1", "ping", "-c", "2", "-i", "0.2", "-W", "2", "192.0.2.1")
		d.expect(ctx+"gateway answers ping6", c.client, "from 2001:db8:1::1", "ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", "2001:db8:1::1")
		d.expect(ctx+"server answers ping", c.client, "from 198.51.100.10", "ping", "-c", "2", "-i", "0.2", "-W", "2", "198.51.100.10")
		d.expect(ctx+"http://198.51.100.10/ says "+c.name, c.client, c.name, "curl", "-sS", "--max-time", "5", "http://198.51.100.10/")
		d.expect(ctx+"http://[2001:db8:2::10]/ says "+c.name, c.client, c.name, "curl", "-sS", "--max-time", "5", "http://[2001:db8:2::10]/")
		d.expect(ctx+"traceroute shows the router", c.client, " 1  192.0.2.1", "traceroute", "-n", "-q", "1", "-w", "2", "-m", "3", "198.51.100.10")
		onRouter := "the router, in FIB " + c.fib + ", for " + c.name
		d.expect(ctx+"http://192.0.2.1/ on the router says "+onRouter, c.client, onRouter, "curl", "-sS", "--max-time", "5", "http://192.0.2.1/")
		d.expect(ctx+"http://[2001:db8:1::1]/ on the router says "+onRouter, c.client, onRouter, "curl", "-sS", "--max-time", "5", "http://[2001:db8:1::1]/")
		d.expectFibctl(ctx+"the router's own ping in FIB "+c.fib+" reaches the server", "from 198.51.100.10",
			"exec", "--fib", c.fib, "--", "ping", "-c", "2", "-i", "0.2", "-W", "2", "198.51.100.10")
	}
	d.fibctl("route", "get", "198.51.100.10", "--fib", "10")
	d.fibctl("route", "get", "1.1.1.1", "--fib", "20")
	d.fibctl("neigh", "show", "--fib", "10")
	d.fibctl("neigh", "show", "--fib", "20")
	d.fibctl("stats")
	d.fibctl("port", "show")
}

func (d *demo) serveHTTP(ns *netnstest.NS, body string) {
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp", ":80"); return err }); err != nil {
		d.scope.Fatalf("http server: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, body) }),
		ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	d.scope.Cleanup(func() { srv.Close() })
}

// hostPrefix names the demo's host namespaces (fibd-demo-fib10, …), apart
// from a real fibd's.
const hostPrefix = "fibd-demo-fib"

// routerServer starts `fibctl exec --fib FIB -- fibdemo serve` on the
// router: an HTTP server on the router's own addresses inside FIB fib.
func (d *demo) routerServer(fib, body string) {
	args := []string{"--socket", d.sock, "exec", "--fib", fib, "--", filepath.Join(d.bin, "fibdemo"), "serve",
		"--body", body, "--http", "192.0.2.1:80", "--http", "[2001:db8:1::1]:80"}
	fmt.Printf("\n$ fibctl exec --fib %s -- fibdemo serve --body %s --http 192.0.2.1:80 --http '[2001:db8:1::1]:80' &\n",
		fib, shellJoin([]string{body}))
	cmd := exec.Command(filepath.Join(d.bin, "fibctl"), args...)
	out := &strings.Builder{}
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(b) })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		d.check("fibctl exec --fib "+fib+" -- fibdemo serve", false, err.Error())
		return
	}
	d.scope.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		got := out.String()
		mu.Unlock()
		if strings.Contains(got, "serving") || time.Now().After(deadline) {
			fmt.Print(indent(got))
			d.check("fibctl exec --fib "+fib+" -- fibdemo serve", strings.Contains(got, "serving"), got)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// expectFibctl runs a fibctl command as a check: it must succeed and print
// want.
func (d *demo) expectFibctl(name, want string, args ...string) {
	d.stopIfInterrupted()
	fmt.Printf("\n$ fibctl %s\n", strings.Join(args, " "))
	b, err := exec.CommandContext(d.ctx, filepath.Join(d.bin, "fibctl"), append([]string{"--socket", d.sock}, args...)...).CombinedOutput()
	fmt.Print(indent(string(b)))
	ok := err == nil && strings.Contains(string(b), want)
	why := ""
	if !ok {
		why = fmt.Sprintf("want %q in the output (err %v)", want, err)
	}
	d.check(name, ok, why)
}

// fibctl runs one fibctl command, printing it and its output; a failure
// is a failed check.
func (d *demo) fibctl(args ...string) {
	d.stopIfInterrupted()
	full := append([]string{"--socket", d.sock}, args...)
	fmt.Printf("\n$ fibctl %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(d.ctx, filepath.Join(d.bin, "fibctl"), full...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	err := cmd.Run()
	d.check("fibctl "+strings.Join(args, " "), err == nil, fmt.Sprint(err))
}

// expect runs a command in a host, prints it and its output, and checks
// that it succeeded and printed want.
func (d *demo) expect(name string, ns *netnstest.NS, want string, args ...string) {
	d.stopIfInterrupted()
	fmt.Printf("\n[%s] $ %s\n", strings.TrimPrefix(ns.Name, "fibd-"), strings.Join(args, " "))
	b, err := exec.CommandContext(d.ctx, "ip", append([]string{"netns", "exec", ns.Name}, args...)...).CombinedOutput()
	out := string(b)
	d.stopIfInterrupted()
	fmt.Print(indent(out))
	ok := err == nil && strings.Contains(out, want)
	why := ""
	if !ok {
		why = fmt.Sprintf("want %q in the output (err %v)", want, err)
	}
	d.check(name, ok, why)
}

// stopIfInterrupted ends the script at once on Ctrl-C: the scope unwinds
// and the teardown runs.
func (d *demo) stopIfInterrupted() {
	if d.ctx.Err() != nil {
		d.scope.Fatalf("interrupted")
	}
}

func (d *demo) check(name string, ok bool, why string) {
	d.results = append(d.results, result{name, ok, why})
	if !ok {
		fmt.Printf("  !! FAIL: %s: %s\n", name, why)
	}
}

func (d *demo) summary() int {
	banner("Summary")
	failed := 0
	for _, r := range d.results {
		if strings.HasPrefix(r.name, "fibctl ") && r.ok {
			continue // listed as one line below
		}
		mark := "PASS"
		if !r.ok {
			mark, failed = "FAIL", failed+1
		}
		fmt.Printf("  %s  %s\n", mark, r.name)
		if !r.ok && r.why != "" {
			fmt.Printf("        %s\n", r.why)
		}
	}
	n := 0
	for _, r := range d.results {
		if strings.HasPrefix(r.name, "fibctl ") && r.ok {
			n++
		}
	}
	fmt.Printf("  PASS  %d fibctl commands\n", n)
	took := time.Since(d.start).Round(time.Second)
	if failed > 0 {
		fmt.Printf("\nFAIL: %d check(s) failed (%s); fibd's log: see above, or rerun with the same command\n", failed, took)
		return 1
	}
	fmt.Printf("\nPASS: each customer reached its own server and its own HTTP server on the router (the same address in both FIBs), never the other's, through one fibd (%s)\n", took)
	return 0
}

// shellJoin quotes what a shell would need quoted.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

func banner(s string) { fmt.Printf("\n=== %s ===\n", s) }

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n"
}
