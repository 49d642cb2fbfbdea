// Package fpm feeds fibd from FRR's zebra: it listens for zebra's FPM
// connection (module dplane_fpm_nl), turns the netlink route and nexthop
// messages it carries into batches of one fibd ModifyRoutes session, and
// answers each installed route with an offload notification.
//
// zebra is the client: it connects, resends its whole table on every
// connect (with no end-of-table marker) and drops what changes while it
// is not connected. So each connection is a session that opens a
// mark-and-sweep resync in each of its FIBs and closes it once zebra has
// been quiet for Config.QuietPeriod: routes zebra no longer has go then,
// and nothing that it resends is ever missing in between.
package fpm

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fibd/fibd/control/feed"
	"github.com/fibd/fibd/control/fibdpb"
)

// DefaultAddr is where zebra's "fpm address" points by default.
const DefaultAddr = "127.0.0.1:2620"

// DefaultQuietPeriod closes a resync: zebra sends its table in one burst
// as fast as the connection takes it, so three quiet seconds mean it is
// done.
const DefaultQuietPeriod = 3 * time.Second

// DefaultMinResync is the shortest a resync lasts. When zebra restarts,
// its clients (bgpd, staticd, ospfd) reconnect to it ten seconds later
// (FRR's lib/zclient.c retries every 10 s), and only then does zebra hold,
// and send, their routes: a resync closed sooner would sweep them all.
const DefaultMinResync = 15 * time.Second

// Config configures a Listener.
type Config struct {
	// Source is the fibd source of the routes; default "fpm".
	Source string
	// Tables maps zebra's table IDs to FIBs. A zebra that runs inside a
	// FIB's namespace reports table 254 (main) for everything: map 254.
	Tables map[uint32]uint32
	// QuietPeriod ends a connection's resync; default DefaultQuietPeriod.
	QuietPeriod time.Duration
	// MinResync is the shortest a connection's resync lasts; default
	// DefaultMinResync.
	MinResync time.Duration
	// NoFeedback turns off the offload notifications.
	NoFeedback bool
	Log        *slog.Logger
	// InterfaceName names zebra's ifindex (zebra runs where the listener
	// does); default net.InterfaceByIndex.
	InterfaceName func(ifindex uint32) (string, bool)
}

// Listener serves zebra's FPM connections.
type Listener struct {
	cfg    Config
	client fibdpb.FibdServiceClient
	fibs   []uint32

	mu      sync.Mutex
	current net.Conn
	ignored map[string]uint64

	stats struct {
		connections, frames, messages, routes, deletes, nexthops, unsupported,
		malformed, resyncs, feedback, feedbackDropped atomic.Uint64
	}
}

// Stats count what a Listener did.
type Stats struct {
	Connections, Frames, Messages uint64
	// Routes and Deletes are route messages passed to fibd, Nexthops the
	// nexthop messages; Unsupported the routes fibd cannot forward
	// (answered OFFLOAD_FAILED); Ignored counts, per reason, what belongs
	// to no FIB.
	Routes, Deletes, Nexthops, Unsupported uint64
	Ignored                                map[string]uint64
	// Malformed frames closed their connection; Resyncs ended.
	Malformed, Resyncs        uint64
	Feedback, FeedbackDropped uint64
}

// New makes a Listener that feeds fibd through c.
func New(c fibdpb.FibdServiceClient, cfg Config) (*Listener, error) {
	if len(cfg.Tables) == 0 {
		return nil, errors.New("fpm: map at least one zebra table to a FIB")
	}
	if cfg.Source == "" {
		cfg.Source = "fpm"
	}
	if cfg.QuietPeriod <= 0 {
		cfg.QuietPeriod = DefaultQuietPeriod
	}
	if cfg.MinResync <= 0 {
		cfg.MinResync = DefaultMinResync
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.InterfaceName == nil {
		cfg.InterfaceName = func(i uint32) (string, bool) {
			ifi, err := net.InterfaceByIndex(int(i))
			if err != nil {
				return "", false
			}
			return ifi.Name, true
		}
	}
	fibs := slices.Sorted(maps.Values(cfg.Tables))
	return &Listener{cfg: cfg, client: c, fibs: slices.Compact(fibs), ignored: map[string]uint64{}}, nil
}

// Stats returns the counters.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	ign := maps.Clone(l.ignored)
	l.mu.Unlock()
	s := &l.stats
	return Stats{Connections: s.connections.Load(), Frames: s.frames.Load(), Messages: s.messages.Load(),
		Routes: s.routes.Load(), Deletes: s.deletes.Load(), Nexthops: s.nexthops.Load(),
		Unsupported: s.unsupported.Load(), Ignored: ign, Malformed: s.malformed.Load(), Resyncs: s.resyncs.Load(),
		Feedback: s.feedback.Load(), FeedbackDropped: s.feedbackDropped.Load()}
}

func (l *Listener) ignore(reason string) {
	l.mu.Lock()
	l.ignored[reason]++
	l.mu.Unlock()
}

// Serve accepts zebra's connections on ln until ctx ends. One zebra is
// served at a time: a new connection is zebra reconnecting, so it
// replaces the old one.
func (l *Listener) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				l.closeCurrent(nil)
				return nil
			}
			return err
		}
		l.closeCurrent(c)
		wg.Go(func() {
			if err := l.serveConn(ctx, c); err != nil {
				l.cfg.Log.Warn("fpm connection closed", "peer", c.RemoteAddr().String(), "reason", err)
			}
		})
	}
}

func (l *Listener) closeCurrent(next net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.current != nil {
		l.current.Close()
	}
	l.current = next
}

// bankShift splits fibd's group IDs: zebra's nexthop IDs are below 1<<28
// (FRR keeps the IDs above for daemons' own groups), and each session
// numbers its groups in a bank of its own, so a restarted zebra that
// reuses an ID for another nexthop never re-points the routes its
// predecessor's group still carries before they are resent.
const (
	bankShift = 28
	banks     = 8
)

// serveConn is one zebra connection: one fibd session.
func (l *Listener) serveConn(ctx context.Context, c net.Conn) error {
	defer c.Close()
	l.stats.connections.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &session{l: l, conn: c, nh: map[uint32]*NexthopMsg{}, mat: map[uint32]map[uint32]int{},
		routes: map[routeKey]uint32{}}
	var err error
	if s.ports, err = l.ports(ctx); err != nil {
		return fmt.Errorf("list fibd's ports: %w", err)
	}
	if s.bank, err = l.freeBank(ctx); err != nil {
		return fmt.Errorf("list fibd's next-hop groups: %w", err)
	}
	s.fb = newFeedback(c, &l.stats.feedback, &l.stats.feedbackDropped)
	defer s.fb.close()
	opts := feed.Options{Source: l.cfg.Source, FIBs: l.fibs, Logf: func(f string, a ...any) {
		l.cfg.Log.Warn(fmt.Sprintf(f, a...))
	}}
	if !l.cfg.NoFeedback {
		opts.Done = s.done
	}
	w, err := feed.Open(ctx, l.client, opts)
	if err != nil {
		return fmt.Errorf("open a fibd session: %w", err)
	}
	s.w = w
	defer func() {
		if err := w.Close(); err != nil {
			l.cfg.Log.Warn("fpm session end", "reason", err)
		}
	}()
	go func() {
		select {
		case <-w.Done():
			c.Close() // fibd went away: zebra reconnects and resends
		case <-ctx.Done():
		}
	}()
	for _, f := range l.fibs {
		w.BeginResync(f)
	}
	l.cfg.Log.Info("zebra connected", "peer", c.RemoteAddr().String(), "fibs", l.fibs, "bank", s.bank)
	// The resync ends when zebra has been quiet for QuietPeriod, and not
	// before MinResync.
	opened := time.Now()
	var quiet *time.Timer
	quiet = time.AfterFunc(l.cfg.QuietPeriod, func() {
		if left := l.cfg.MinResync - time.Since(opened); left > 0 {
			quiet.Reset(left)
			return
		}
		s.endResync()
	})
	defer quiet.Stop()

	br := bufio.NewReaderSize(c, 2*MaxFrame)
	payload := make([]byte, MaxFrame)
	var msgs []Message
	for {
		var h [frameHeaderLen]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			if w.Err() != nil {
				return fmt.Errorf("fibd session ended: %w", w.Err())
			}
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		n := int(binary.BigEndian.Uint16(h[2:]))
		if h[0] != frameVersion || h[1] != frameTypeNetlink || n < frameHeaderLen {
			l.stats.malformed.Add(1)
			return malformed("frame header version %d type %d length %d (want version 1, type 1 netlink)", h[0], h[1], n)
		}
		p := payload[:n-frameHeaderLen]
		if _, err := io.ReadFull(br, p); err != nil {
			return fmt.Errorf("frame cut off: %w", err)
		}
		l.stats.frames.Add(1)
		quiet.Reset(l.cfg.QuietPeriod)
		msgs, err = ParseFrame(p, msgs[:0])
		if err != nil {
			// Nothing of the frame is applied; what came before stays.
			l.stats.malformed.Add(1)
			return err
		}
		// A frame is applied whole: FRR 8.4 sends an update as DEL and
		// NEW of the prefix in one frame.
		w.Begin()
		for i := range msgs {
			l.stats.messages.Add(1)
			s.handle(&msgs[i])
		}
		w.Commit()
	}
}

// ports maps fibd's port names to their FIBs.
func (l *Listener) ports(ctx context.Context) (map[string]uint32, error) {
	st, err := l.client.ListPorts(ctx, &fibdpb.ListPortsRequest{})
	if err != nil {
		return nil, err
	}
	m := map[string]uint32{}
	for {
		r, err := st.Recv()
		if err == io.EOF {
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		for _, p := range r.GetPorts() {
			m[p.GetName()] = p.GetFibId()
		}
	}
}

// freeBank picks the bank holding the fewest of the source's groups
// (none, unless sessions ended before their resync did).
func (l *Listener) freeBank(ctx context.Context) (uint32, error) {
	var used [banks]int
	for _, f := range l.fibs {
		st, err := l.client.ListNextHopGroups(ctx, &fibdpb.ListNextHopGroupsRequest{FibId: &f})
		if err != nil {
			return 0, err
		}
		for {
			r, err := st.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				return 0, err
			}
			for _, g := range r.GetGroups() {
				if g.GetSource() == l.cfg.Source {
					used[(g.GetId()>>bankShift)%banks]++
				}
			}
		}
	}
	best := 0
	for b := range used {
		if used[b] < used[best] {
			best = b
		}
	}
	return uint32(best), nil
}

// IgnoredReasons lists the ignore reasons, sorted, for logs and tests.
func (s Stats) IgnoredReasons() []string {
	r := slices.Collect(maps.Keys(s.Ignored))
	sort.Strings(r)
	return r
}
