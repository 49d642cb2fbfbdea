package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/feed/fpm"
	"github.com/fibd/fibd/control/feed/gobgp"
)

func newFeedCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "feed",
		Short: "Feed FIBs from a routing daemon (FRR's zebra over FPM, gobgpd)",
		Long: "Feeds run until stopped (SIGINT or SIGTERM), as a routing daemon's dataplane: each speaks\n" +
			"fibd's public API through ModifyRoutes sessions, as any daemon would.",
	}
	c.AddCommand(newFeedFPMCmd(a), newFeedGoBGPCmd(a))
	return c
}

// tableMap is --table ZEBRA_TABLE=FIB, repeated.
type tableMap map[uint32]uint32

func (m tableMap) String() string { return "" }
func (m tableMap) Type() string   { return "TABLE=FIB" }

func (m tableMap) Set(s string) error {
	t, f, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("%q: want ZEBRA_TABLE=FIB_ID, e.g. 254=10", s)
	}
	tid, err := strconv.ParseUint(t, 10, 32)
	if err != nil {
		return fmt.Errorf("%q: table %q is not a number", s, t)
	}
	fid, err := strconv.ParseUint(f, 10, 32)
	if err != nil {
		return fmt.Errorf("%q: FIB %q is not an ID", s, f)
	}
	if _, dup := m[uint32(tid)]; dup {
		return fmt.Errorf("%q: table %d is mapped twice", s, tid)
	}
	m[uint32(tid)] = uint32(fid)
	return nil
}

func newFeedFPMCmd(a *app) *cobra.Command {
	var f fibRef
	tables := tableMap{}
	var listen, source string
	var quiet, minResync time.Duration
	var noFeedback, verbose bool
	var statsEvery time.Duration
	c := &cobra.Command{
		Use:   "fpm (--fib FIB | --table ZEBRA_TABLE=FIB...)",
		Short: "Listen for FRR zebra's FPM connection (dplane_fpm_nl) and install its routes",
		Long: "Listen for zebra's FPM connection (zebra -M dplane_fpm_nl, \"fpm address 127.0.0.1 port 2620\")\n" +
			"and install the routes and next-hop groups it sends, as source --source. --fib maps zebra's main\n" +
			"table (254: a zebra inside a FIB's namespace, under fibctl exec) to a FIB; --table maps VRF-lite\n" +
			"table IDs. Routes of other tables, kernel routes, EVPN MACs and MPLS are ignored and counted.\n" +
			"Each connection is a resync: zebra resends everything when it connects, and once it has been\n" +
			"quiet for --quiet-period (and --min-resync has passed: a restarted zebra hears from bgpd and\n" +
			"staticd only 10s later) the routes it did not resend are removed (none missing meanwhile).\n" +
			"Each installed route is answered with RTM_F_OFFLOAD (RTM_F_OFFLOAD_FAILED, logged, when fibd\n" +
			"cannot install it), for zebra --asic-offload=notify_on_offload (FRR 8.5 and later read it).",
		Example: "  fibctl exec --fib 10 -- fibctl feed fpm --fib 10\n" +
			"  fibctl feed fpm --table 10=10 --table 20=20 --listen 127.0.0.1:2620",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.set {
				id, err := a.fibID(&f)
				if err != nil {
					return err
				}
				if _, dup := tables[254]; dup {
					return fmt.Errorf("--fib maps table 254, and so does --table")
				}
				tables[254] = id
			}
			if len(tables) == 0 {
				return fmt.Errorf("give --fib FIB (zebra's main table) or --table ZEBRA_TABLE=FIB")
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			log := feedLog(a, verbose)
			l, err := fpm.New(cl, fpm.Config{Source: source, Tables: tables, QuietPeriod: quiet, MinResync: minResync,
				NoFeedback: noFeedback, Log: log})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen: %w", err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log.Info("fpm listening", "addr", ln.Addr().String(), "tables", fmt.Sprint(map[uint32]uint32(tables)))
			logStats := func(msg string) {
				st := l.Stats()
				log.Info(msg, "connections", st.Connections, "frames", st.Frames, "routes", st.Routes, "deletes", st.Deletes,
					"nexthops", st.Nexthops, "unsupported", st.Unsupported, "malformed", st.Malformed, "resyncs", st.Resyncs,
					"feedback", st.Feedback, "feedback_dropped", st.FeedbackDropped, "ignored", fmt.Sprint(st.Ignored))
			}
			go every(ctx, statsEvery, func() uint64 { return l.Stats().Messages }, func() { logStats("fpm counters") })
			err = l.Serve(ctx, ln)
			logStats("fpm stopped")
			return err
		},
	}
	f.register(c, "the FIB of zebra's main table (254)")
	c.Flags().Var(tables, "table", "map a zebra table ID to a FIB (repeat)")
	c.Flags().StringVar(&listen, "listen", fpm.DefaultAddr, "address zebra's FPM connects to")
	c.Flags().StringVar(&source, "source", "fpm", "source of the routes")
	c.Flags().DurationVar(&quiet, "quiet-period", fpm.DefaultQuietPeriod, "zebra quiet this long ends a connection's resync")
	c.Flags().DurationVar(&minResync, "min-resync", fpm.DefaultMinResync,
		"a resync lasts at least this long (zebra's clients reconnect to a restarted zebra after 10s)")
	c.Flags().BoolVar(&noFeedback, "no-feedback", false, "do not answer routes with offload notifications")
	c.Flags().BoolVar(&verbose, "verbose", false, "log at debug level")
	c.Flags().DurationVar(&statsEvery, "stats-every", time.Minute, "log the counters this often while they change (0: only at the end)")
	return c
}

func newFeedGoBGPCmd(a *app) *cobra.Command {
	var f fibRef
	var addr, source string
	var timeout time.Duration
	var verbose bool
	var profile string
	var statsEvery time.Duration
	c := &cobra.Command{
		Use:   "gobgp --fib FIB [--gobgpd ADDR]",
		Short: "Install gobgpd's best paths into a FIB (gobgpd's WatchEvent, API v4)",
		Long: "Watch gobgpd's best paths (WatchEvent with the initial dump, and End-of-RIB) and install them into\n" +
			"FIB as source --source, eBGP at preference 20 and iBGP at 200; withdraws remove. Each watch is a\n" +
			"resync: it closes when every configured peer that is not administratively down is established\n" +
			"and has sent End-of-RIB for each of its unicast families, or after --resync-timeout; the routes\n" +
			"it did not resend go then, none missing meanwhile. When gobgpd restarts the feed reconnects\n" +
			"(every second) and resyncs. Run one feed per gobgpd, one gobgpd per FIB: inside the FIB's\n" +
			"namespace both run under fibctl exec. Needs gobgpd v4 (its API is not v3's).",
		Example: "  fibctl exec --fib 10 -- gobgpd -f /etc/gobgpd/fib10.toml &\n" +
			"  fibctl exec --fib 10 -- fibctl feed gobgp --fib 10",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.set {
				return fmt.Errorf("give --fib FIB")
			}
			id, err := a.fibID(&f)
			if err != nil {
				return err
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			log := feedLog(a, verbose)
			fd := gobgp.New(cl, gobgp.Config{Addr: addr, FIB: id, Source: source, ResyncTimeout: timeout, Log: log})
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			stopProfile, err := startProfile(profile)
			if err != nil {
				return err
			}
			defer stopProfile()
			log.Info("gobgp feed starting", "gobgpd", addr, "fib", id)
			logStats := func(msg string) {
				st := fd.Stats()
				log.Info(msg, "sessions", st.Sessions, "paths", st.Paths, "withdraws", st.Withdraws, "eors", st.EORs,
					"resyncs", st.Resyncs, "resync_timeouts", st.ResyncTimeouts, "ignored", st.Ignored)
			}
			go every(ctx, statsEvery, func() uint64 { s := fd.Stats(); return s.Paths + s.Withdraws + s.EORs + s.Ignored },
				func() { logStats("gobgp feed counters") })
			err = fd.Run(ctx)
			logStats("gobgp feed stopped")
			return err
		},
	}
	f.register(c, "the FIB to install the best paths into")
	c.Flags().StringVar(&addr, "gobgpd", gobgp.DefaultAddr, "gobgpd's API: host:port or unix:///path")
	c.Flags().StringVar(&source, "source", "gobgp", "source of the routes")
	c.Flags().DurationVar(&statsEvery, "stats-every", time.Minute, "log the counters this often while they change (0: only at the end)")
	c.Flags().StringVar(&profile, "cpuprofile", "", "write a Go CPU profile of the feed to this file when it stops")
	c.Flags().DurationVar(&timeout, "resync-timeout", gobgp.DefaultResyncTimeout, "close a resync after this long even without every End-of-RIB")
	c.Flags().BoolVar(&verbose, "verbose", false, "log at debug level")
	return c
}

// startProfile starts a CPU profile into path ("" for none).
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// feedLog is a feed's logger: text on stderr, debug with --verbose.
func feedLog(a *app, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(a.errOut, &slog.HandlerOptions{Level: level}))
}

// every calls log each period until ctx ends, when mark has moved since
// the last call: a quiet feed does not fill the log.
func every(ctx context.Context, period time.Duration, mark func() uint64, log func()) {
	if period <= 0 {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	last := mark()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if m := mark(); m != last {
				last = m
				log()
			}
		}
	}
}
