package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/fib"
)

// run starts everything, serves until ctx ends, and shuts down.
func run(ctx context.Context, f *flags, log *slog.Logger) error {
	// Read both files before changing anything, so a bad one stops fibd
	// with the state untouched.
	var restored *control.Config
	if f.state != "" {
		var err error
		if restored, err = control.LoadState(f.state); err != nil {
			return fmt.Errorf("%w (fibd never overwrites it: repair it, or move it away to start empty)", err)
		}
	}
	var cfg *control.Config
	if f.config != "" {
		var err error
		if cfg, err = loadConfig(f.config); err != nil {
			return err
		}
	}

	reg := fib.NewRegistry(fib.Options{})
	dp, nb, stopDP, err := newDataplane(f.dataplane, f.hostPrefix, workerFlags{f.workers, f.cpuList}, f.fastPath == "on", reg, log)
	if err != nil {
		return err
	}
	// The engine releases the interfaces (their offloads, sysctls and XDP
	// programs go back to how they were) when fibd stops.
	defer stopDP()
	srv, err := control.New(control.Options{Registry: reg, Dataplane: dp, Neighbors: nb, Logger: log, Version: version(),
		Limits: control.Limits{Routes4: f.limits.routes4, Routes6: f.limits.routes6, PerSource: f.limits.perSource, Neighbors: f.limits.neighbors}})
	if err != nil {
		return err
	}
	// The state first (everything as it was), then the config file as a
	// diff on top: it wins for what it names (control.ApplyConfigFile).
	// Neither stops fibd: what cannot be applied is logged, item by item,
	// and the rest of the router comes up.
	if restored != nil {
		errs := srv.RestoreState(restored)
		log.Info("state restored", "path", f.state, "fibs", len(restored.FIBs), "ports", len(restored.Ports),
			"routes", len(restored.Routes), "neighbors", len(restored.Neighbors), "not_restored", len(errs))
	}
	if cfg != nil {
		changes, errs := srv.ApplyConfigFile(cfg)
		log.Info("config file applied", "path", f.config, "changes", len(changes), "not_applied", len(errs))
	}
	if c, ok := dp.(interface{ removeStaleHosts() }); ok {
		c.removeStaleHosts()
	}
	if f.state != "" {
		if err := os.MkdirAll(filepath.Dir(f.state), 0o750); err != nil {
			return err
		}
		if err := srv.EnableState(f.state); err != nil {
			return err
		}
	}

	metrics := control.NewMetrics(srv)
	gs := grpc.NewServer(append(control.ServerOptions(), metrics.ServerOptions()...)...)
	control.NewGRPCService(srv).Register(gs)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	if f.socket != "" {
		ln, err := listenUnix(f.socket)
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		defer os.Remove(f.socket)
	}
	var tcpServer *grpc.Server
	if f.listen != "" {
		tc, err := serverTLS(f)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", f.listen)
		if err != nil {
			return err
		}
		// A separate server: its credentials are per server in grpc-go.
		opts := append(control.ServerOptions(), metrics.ServerOptions()...)
		tcpServer = grpc.NewServer(append(opts, grpc.Creds(credentials.NewTLS(tc)))...)
		control.NewGRPCService(srv).Register(tcpServer)
		go func() { _ = tcpServer.Serve(ln) }()
		log.Info("serving", "tcp", ln.Addr().String(), "tls", "mutual")
	}
	for _, ln := range lns {
		go func() { _ = gs.Serve(ln) }()
		log.Info("serving", "unix", f.socket)
	}
	var metricsServer *http.Server
	if f.metricsAddr != "" {
		ln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics.Handler())
		metricsServer = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = metricsServer.Serve(ln) }()
		log.Info("serving metrics", "addr", ln.Addr().String())
	}
	log.Info("fibd started", "epoch", srv.Epoch(), "io", dp.Backend(), "version", version())

	<-ctx.Done()
	log.Info("shutting down")
	stopped := make(chan struct{})
	go func() {
		gs.GracefulStop()
		if tcpServer != nil {
			tcpServer.GracefulStop()
		}
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(shutdownGrace):
		gs.Stop()
		if tcpServer != nil {
			tcpServer.Stop()
		}
		<-stopped
	}
	if metricsServer != nil {
		_ = metricsServer.Close()
	}
	if c, ok := dp.(interface{ Close() error }); ok {
		_ = c.Close()
	}
	log.Info("fibd stopped")
	return nil
}

// loadConfig reads the JSON config file, refusing unknown fields so a typo
// is an error rather than a silently ignored setting.
func loadConfig(path string) (*control.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return control.ParseConfigFile(path, b)
}

// checkConfig validates a config file without starting fibd: it parses it
// and applies it to an empty control plane over the none dataplane (no
// packets, interfaces need not exist), which checks every item's meaning —
// prefixes, gateways on declared subnets, ports that addresses and routes
// name. It prints each problem and returns the exit status.
func checkConfig(path string, out io.Writer) int {
	c, err := loadConfig(path)
	if err != nil {
		fmt.Fprintln(out, err)
		return 1
	}
	reg := fib.NewRegistry(fib.Options{})
	quiet := slog.New(slog.DiscardHandler)
	dp, nb, stop, err := newDataplane("none", "", workerFlags{}, false, reg, quiet)
	if err != nil {
		fmt.Fprintln(out, err)
		return 1
	}
	defer stop()
	srv, err := control.New(control.Options{Registry: reg, Dataplane: dp, Neighbors: nb, Logger: quiet})
	if err != nil {
		fmt.Fprintln(out, err)
		return 1
	}
	_, errs := srv.ApplyConfigFile(c)
	for _, e := range errs {
		fmt.Fprintf(out, "%s: %v\n", path, e)
	}
	if len(errs) > 0 {
		return 1
	}
	fmt.Fprintf(out, "%s: OK: %d FIBs, %d ports, %d addresses, %d static routes, %d static neighbours\n", path,
		len(c.FIBs), len(c.Ports), len(c.Addresses), len(c.Routes), len(c.Neighbors))
	return 0
}

// listenUnix listens on a unix socket with mode 0600. A stale socket file
// left by a crash is removed; one a live fibd serves is not.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another fibd is serving there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	// The umask makes the socket 0600 from birth: no window in which
	// another user could connect before the chmod.
	old := umask(0o177)
	ln, err := net.Listen("unix", path)
	umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	return ln, nil
}

// serverTLS is the server side of mutual TLS: fibd's certificate, and
// client certificates required and checked against the client CA.
func serverTLS(f *flags) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	pem, err := os.ReadFile(f.tlsClientCA)
	if err != nil {
		return nil, fmt.Errorf("--tls-client-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("--tls-client-ca: no PEM certificate in it")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13}, nil
}
