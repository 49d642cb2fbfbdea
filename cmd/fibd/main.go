// Command fibd is the fibd daemon: it holds the FIBs, serves the fibd.v1
// gRPC API on a unix socket (and optionally on TCP with mutual TLS),
// applies a config file at start, restores the configuration saved by the
// API from its state file, and drives the dataplane.
//
//	fibd [--socket /run/fibd/fibd.sock] [--state /var/lib/fibd/state.json]
//	     [--config fibd.json] [--io auto|afpacket|xdp|none] [--listen :50051 --tls-cert ... --tls-key ... --tls-client-ca ...]
//	     [--metrics-addr 127.0.0.1:9469]
//	fibd --check-config fibd.json
//
// SIGTERM or SIGINT stop it cleanly: no new RPCs, running ones get a few
// seconds, the socket is removed.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/fibd/fibd/dataplane/hoststack"
)

// flags are fibd's command line.
type flags struct {
	socket      string
	listen      string
	tlsCert     string
	tlsKey      string
	tlsClientCA string
	config      string
	state       string
	dataplane   string
	metricsAddr string
	logLevel    string
	logFormat   string
	limits      limitFlags
	version     bool
	checkConfig string
	hostPrefix  string
	workers     int
	fastPath    string
	cpus        string
	cpuList     []int // cpus, parsed by checkFlags
}

type limitFlags struct {
	routes4, routes6, perSource, neighbors int
}

// flagInfo is one flag, for the test that checks the man page.
type flagInfo = flag.Flag

func parseFlags(args []string) (*flags, error) {
	var f flags
	fs := newFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return checkFlags(&f, fs)
}

// newFlagSet declares fibd's flags into f.
func newFlagSet(fp *flags) *flag.FlagSet {
	f := fp
	// --double-dash flags, as fibctl's (pflag is what cobra uses).
	fs := flag.NewFlagSet("fibd", flag.ContinueOnError)
	fs.SortFlags = false
	fs.StringVar(&f.socket, "socket", "/run/fibd/fibd.sock", "unix socket to serve the API on (mode 0600); empty disables")
	fs.StringVar(&f.listen, "listen", "", "TCP address to also serve the API on, with mutual TLS (needs --tls-cert, --tls-key, --tls-client-ca)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "server certificate (PEM) for --listen")
	fs.StringVar(&f.tlsKey, "tls-key", "", "server private key (PEM) for --listen")
	fs.StringVar(&f.tlsClientCA, "tls-client-ca", "", "CA (PEM) that client certificates must chain to, for --listen")
	fs.StringVar(&f.config, "config", "", "config file (JSON) applied at start: FIBs, ports, addresses, static routes and neighbours")
	fs.StringVar(&f.state, "state", "/var/lib/fibd/state.json", "state file: the configuration made through the API, saved on every change and restored at start; empty disables")
	fs.StringVar(&f.dataplane, "io", "auto", "packet I/O: "+ioKinds)
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics on this address (e.g. 127.0.0.1:9469); empty disables")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.IntVar(&f.limits.routes4, "limit-routes-v4", 0, "default IPv4 route limit per FIB (0: none)")
	fs.IntVar(&f.limits.routes6, "limit-routes-v6", 0, "default IPv6 route limit per FIB (0: none)")
	fs.IntVar(&f.limits.perSource, "limit-routes-per-source", 0, "default limit of one source's routes per family in a FIB (0: none)")
	fs.IntVar(&f.limits.neighbors, "limit-neighbors", 0, "default limit of static neighbours per FIB (0: none)")
	fs.StringVar(&f.hostPrefix, "host-netns-prefix", hoststack.DefaultPrefix, "names FIB N's host namespace prefix+N (fibctl fib set N --host on); a fibd removes the namespaces under its prefix that no FIB has")
	fs.IntVar(&f.workers, "workers", 0, "RX workers per interface with AF_PACKET (a PACKET_FANOUT group); 0: one per RX queue, at most one per CPU. AF_XDP has one per RX queue")
	fs.StringVar(&f.cpus, "cpus", "", "pin the workers: RX queue i of every interface is read on the i-th CPU of this list (e.g. 0-3 or 1,3), wrapping around; empty: not pinned")
	fs.StringVar(&f.fastPath, "fast-path", "on", "in-kernel XDP fast path: on (forward the common case in the XDP program on interfaces where AF_XDP attaches natively, the rest in user space) or off (every frame through user space)")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.StringVar(&f.checkConfig, "check-config", "", "validate this config file (syntax and meaning) and exit: 0 if it would apply, 1 with each problem if not")
	return fs
}

func checkFlags(fp *flags, fs *flag.FlagSet) (*flags, error) {
	f := *fp
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if f.checkConfig != "" || f.version {
		return &f, nil
	}
	if err := checkHostPrefix(f.hostPrefix); err != nil {
		return nil, err
	}
	if f.fastPath != "on" && f.fastPath != "off" {
		return nil, fmt.Errorf("--fast-path %q: want on or off", f.fastPath)
	}
	if f.workers < 0 {
		return nil, fmt.Errorf("--workers %d: want 0 (one per RX queue) or more", f.workers)
	}
	cpus, err := parseCPUList(f.cpus)
	if err != nil {
		return nil, fmt.Errorf("--cpus %q: %w", f.cpus, err)
	}
	f.cpuList = cpus
	if f.socket == "" && f.listen == "" {
		return nil, errors.New("nothing to serve on: give --socket or --listen")
	}
	if f.listen != "" && (f.tlsCert == "" || f.tlsKey == "" || f.tlsClientCA == "") {
		return nil, errors.New("--listen serves only with mutual TLS: give --tls-cert, --tls-key and --tls-client-ca")
	}
	return &f, nil
}

func newLogger(f *flags) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is neither text nor json", f.logFormat)
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
		if bi.Main.Version != "" {
			return bi.Main.Version
		}
	}
	return "devel"
}

func main() {
	f, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fibd:", err)
		os.Exit(2)
	}
	if f.version {
		fmt.Println(version())
		return
	}
	if f.checkConfig != "" {
		os.Exit(checkConfig(f.checkConfig, os.Stdout))
	}
	log, err := newLogger(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fibd:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, f, log); err != nil {
		log.Error("fibd failed", "err", err)
		os.Exit(1)
	}
}

// shutdownGrace is how long running RPCs get at shutdown before their
// streams are cut (a watcher would otherwise hold fibd up forever).
const shutdownGrace = 5 * time.Second
