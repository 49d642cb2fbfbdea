package hostbench

import (
	"cmp"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fibd/fibd/bench/fibdproc"
	"github.com/fibd/fibd/bench/rounds"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/dataplane/hoststack"
	"github.com/fibd/fibd/internal/ethtool"
	"github.com/fibd/fibd/internal/netnstest"
)

// Ports the server listens on in each path.
const (
	tcpPort  = "5001"
	httpPort = "8080"
)

// path is one way from a customer to a server: the customer's namespace,
// the server's address, and the listeners this process opened there.
type path struct {
	name    string
	client  *netnstest.NS
	server  string // address the client connects to
	tcp     net.Listener
	httpSrv *http.Server
	got     atomic.Int64  // bytes the TCP sink read in the current trial
	eof     chan struct{} // a stream's end reached the sink
}

// Run builds the three paths, measures them in rounds and removes
// everything, also on error or cancellation.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.IO = cmp.Or(cfg.IO, "afpacket")
	cfg.Rounds = cmp.Or(cfg.Rounds, 3)
	cfg.TCPFor = cmp.Or(cfg.TCPFor, 10*time.Second)
	cfg.HTTPFor = cmp.Or(cfg.HTTPFor, 5*time.Second)
	cfg.HTTPConns = cmp.Or(cfg.HTTPConns, 4)
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	s := netnstest.NewScope()
	defer s.Close()
	var res *Result
	err := s.Run(func() { res = run(ctx, s, cfg) })
	return res, err
}

func run(ctx context.Context, s *netnstest.Scope, cfg Config) *Result {
	fibd, proc := fibdPath(ctx, s, cfg)
	kern := kernelPath(s, "km", true)
	kdef := kernelPath(s, "kd", false)
	paths := []*path{fibd, kern, kdef}
	for _, p := range paths {
		defer p.close()
	}
	res := &Result{Rounds: cfg.Rounds, IO: cfg.IO}
	tcp := make([][]float64, len(paths))
	req := make([][]float64, len(paths))
	var fibdCPU time.Duration
	var fibdBytes int64
	for r := range cfg.Rounds {
		// Alternate who goes first, so a drift in machine speed during
		// the round is shared.
		order := []int{0, 1, 2}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, i := range order {
			if ctx.Err() != nil {
				s.Fatalf("%v", ctx.Err())
			}
			p := paths[i]
			cpu0, _ := proc.CPU()
			mbps, n := p.stream(cfg.TCPFor)
			if i == 0 {
				cpu1, _ := proc.CPU()
				fibdCPU += cpu1 - cpu0
				fibdBytes += n
			}
			rps := p.requests(cfg.HTTPFor, cfg.HTTPConns)
			tcp[i] = append(tcp[i], mbps)
			req[i] = append(req[i], rps)
			cfg.Log("round %d %-22s tcp %7.0f Mbit/s  http %6.0f req/s", r+1, p.name, mbps, rps)
		}
	}
	res.TCPMbps, res.KernelTCPMbps, res.KernelDefaultTCPMbps = rounds.Median(tcp[0]), rounds.Median(tcp[1]), rounds.Median(tcp[2])
	res.HTTPReqPerSec, res.KernelHTTPReqPerSec, res.KernelDefaultHTTPReqPerSec = rounds.Median(req[0]), rounds.Median(req[1]), rounds.Median(req[2])
	res.RatioVsKernel, res.RatioVsKernelMin, res.RatioVsKernelMax = rounds.Ratio(tcp[0], tcp[1])
	res.RatioVsKernelDefault, res.RatioVsKernelDefaultMin, res.RatioVsKernelDefaultMax = rounds.Ratio(tcp[0], tcp[2])
	res.HTTPRatioVsKernel, res.HTTPRatioVsKernelMin, res.HTTPRatioVsKernelMax = rounds.Ratio(req[0], req[1])
	if fibdBytes > 0 {
		res.FibdCPUPerGB = fibdCPU.Seconds() / (float64(fibdBytes) / 1e9)
	}
	if h := hostOf(ctx, proc); h != nil {
		res.Punted, res.Injected, res.HostDrops = h.GetPunted(), h.GetInjected(), h.GetDrops()
	}
	return res
}

func hostOf(ctx context.Context, proc *fibdproc.Proc) *fibdpb.FibHost {
	id := uint32(10)
	stream, err := proc.Conn.ListFibs(ctx, &fibdpb.ListFibsRequest{FibId: &id})
	if err != nil {
		return nil
	}
	r, err := stream.Recv()
	if err != nil || len(r.GetFibs()) == 0 {
		return nil
	}
	return r.GetFibs()[0].GetHost()
}

// fibdPath: customer — veth — fibd (FIB 10, host stack on), the server
// in FIB 10's host namespace at the router's own 192.0.2.1.
func fibdPath(ctx context.Context, s *netnstest.Scope, cfg Config) (*path, *fibdproc.Proc) {
	router, client := netnstest.New(s, "hb-r"), netnstest.New(s, "hb-c")
	netnstest.NamedVeth(s, client, "eth0", router, "p0")
	client.Exec("ip", "addr", "add", "192.0.2.10/24", "dev", "eth0")
	prefix := netnstest.Name("hb") + "-fib"
	s.Cleanup(func() {
		list, _ := hoststack.List(prefix)
		for _, ns := range list {
			_ = ns.Remove()
		}
	})
	proc, err := fibdproc.Start(ctx, fibdproc.Options{Path: cfg.FibdPath, NetNS: router.Name, IO: cfg.IO,
		Args: []string{"--host-netns-prefix", prefix}})
	if err != nil {
		s.Fatalf("fibd: %v", err)
	}
	s.Cleanup(proc.Stop)
	c := proc.Conn
	on := true
	steps := []func() error{
		func() error { _, err := c.CreateFib(ctx, &fibdpb.CreateFibRequest{FibId: 10}); return err },
		func() error {
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "p0", FibId: 10})
			return err
		},
		func() error {
			_, err := c.AddAddress(ctx, &fibdpb.AddAddressRequest{Port: "p0", Prefix: "192.0.2.1/24"})
			return err
		},
		func() error {
			_, err := c.SetFibSettings(ctx, &fibdpb.SetFibSettingsRequest{FibId: 10, Settings: &fibdpb.FibSettings{HostStack: &on}})
			return err
		},
	}
	for _, st := range steps {
		if err := st(); err != nil {
			s.Fatalf("configuring fibd: %v", err)
		}
	}
	ns := hoststack.Name(prefix, 10)
	p := &path{name: "fibd host stack", client: client, server: "192.0.2.1"}
	var tcp, web net.Listener
	// The address reaches the host namespace a moment after the host
	// stack starts.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if tcp, err = ns.Listen("tcp", "192.0.2.1:"+tcpPort); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		s.Fatalf("listening in fib 10: %v", err)
	}
	if web, err = ns.Listen("tcp", "192.0.2.1:"+httpPort); err != nil {
		s.Fatalf("listening in fib 10: %v", err)
	}
	p.serve(tcp, web)
	return p, proc
}

// kernelPath: customer — veth — a namespace routing with the kernel —
// veth — the server's namespace. matched turns off, on the router's two
// veths and the server's, the offloads fibd turns off on its ports.
func kernelPath(s *netnstest.Scope, tag string, matched bool) *path {
	client, router, server := netnstest.New(s, tag+"-c"), netnstest.New(s, tag+"-r"), netnstest.New(s, tag+"-s")
	netnstest.NamedVeth(s, client, "eth0", router, "r0")
	netnstest.NamedVeth(s, router, "r1", server, "eth0")
	client.Exec("ip", "addr", "add", "192.0.2.10/24", "dev", "eth0")
	client.Exec("ip", "route", "add", "default", "via", "192.0.2.1")
	router.Exec("ip", "addr", "add", "192.0.2.1/24", "dev", "r0")
	router.Exec("ip", "addr", "add", "198.51.100.1/24", "dev", "r1")
	router.Sysctl("net.ipv4.ip_forward", "1")
	server.Exec("ip", "addr", "add", "198.51.100.10/24", "dev", "eth0")
	server.Exec("ip", "route", "add", "default", "via", "198.51.100.1")
	name := "kernel, default offloads"
	if matched {
		name = "kernel, fibd's offloads"
		off := map[string]bool{}
		for _, f := range ethtool.ForwardingOff {
			off[f] = false
		}
		for _, e := range []struct {
			ns  *netnstest.NS
			dev string
		}{{router, "r0"}, {router, "r1"}, {server, "eth0"}} {
			if err := e.ns.Do(func() error { _, err := ethtool.Set(e.dev, off); return err }); err != nil {
				s.Fatalf("offloads off on %s: %v", e.dev, err)
			}
		}
	}
	p := &path{name: name, client: client, server: "198.51.100.10"}
	var tcp, web net.Listener
	if err := server.Do(func() (err error) {
		if tcp, err = net.Listen("tcp", ":"+tcpPort); err != nil {
			return err
		}
		web, err = net.Listen("tcp", ":"+httpPort)
		return err
	}); err != nil {
		s.Fatalf("server: %v", err)
	}
	p.serve(tcp, web)
	return p
}

// serve runs the TCP sink (counting bytes read) and the HTTP server.
func (p *path) serve(tcp, web net.Listener) {
	p.tcp = tcp
	p.eof = make(chan struct{}, 1)
	go func() {
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 256<<10)
				for {
					n, err := c.Read(buf)
					p.got.Add(int64(n))
					if err != nil {
						select {
						case p.eof <- struct{}{}:
						default:
						}
						return
					}
				}
			}()
		}
	}()
	p.httpSrv = &http.Server{ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello from a FIB\n") })}
	go func() { _ = p.httpSrv.Serve(web) }()
}

func (p *path) close() {
	if p.tcp != nil {
		p.tcp.Close()
	}
	if p.httpSrv != nil {
		p.httpSrv.Close()
	}
}

// stream sends one TCP stream from the customer for d and returns the
// rate the server read at, in Mbit/s, and the bytes.
func (p *path) stream(d time.Duration) (float64, int64) {
	var c net.Conn
	if err := p.client.Do(func() (err error) {
		c, err = net.DialTimeout("tcp", net.JoinHostPort(p.server, tcpPort), 5*time.Second)
		return err
	}); err != nil {
		return 0, 0
	}
	buf := make([]byte, 128<<10)
	p.got.Store(0)
	start := time.Now()
	_ = c.SetWriteDeadline(start.Add(d))
	for time.Since(start) < d {
		if _, err := c.Write(buf); err != nil {
			break
		}
	}
	n := p.got.Load() // what arrived while the sender was sending
	el := time.Since(start)
	c.Close()
	// What the sender's buffers still hold drains before the next
	// measurement starts.
	select {
	case <-p.eof:
	case <-time.After(10 * time.Second):
	}
	return float64(n) * 8 / el.Seconds() / 1e6, n
}

// requests runs conns keep-alive HTTP clients for d and returns the
// answered requests per second.
func (p *path) requests(d time.Duration, conns int) float64 {
	var cl *http.Client
	tr := &http.Transport{MaxIdleConnsPerHost: conns, DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		err = p.client.Do(func() (err error) { c, err = (&net.Dialer{}).DialContext(ctx, network, addr); return err })
		return c, err
	}}
	defer tr.CloseIdleConnections()
	cl = &http.Client{Transport: tr, Timeout: 5 * time.Second}
	url := "http://" + net.JoinHostPort(p.server, httpPort) + "/"
	var done atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				resp, err := cl.Get(url)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}
