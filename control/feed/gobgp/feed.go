// Package gobgp feeds fibd from gobgpd, which has no FIB of its own: it
// watches gobgpd's best paths (WatchEvent, v4 API api.GoBgpService) and
// pushes them into one FIB through a fibd ModifyRoutes session, as any
// client of fibd's public API would.
//
// Each watch is a session that opens a mark-and-sweep resync of the FIB:
// the watch starts with a dump of every best path (with no end marker),
// and EOR comes per peer and per family, so the resync closes once every
// configured peer that is not administratively down is established and
// has sent End-of-RIB for each of its IPv4 and IPv6 unicast families — or
// after Config.ResyncTimeout. Until then nothing is removed: no blackhole.
// When gobgpd restarts, the watch ends; the feed reconnects and resyncs.
package gobgp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fibd/fibd/control/feed"
	"github.com/fibd/fibd/control/fibdpb"
)

// DefaultAddr is gobgpd's default API address (--api-hosts).
const DefaultAddr = "127.0.0.1:50051"

// DefaultResyncTimeout closes a resync whose peers never all send EOR.
const DefaultResyncTimeout = 60 * time.Second

// Preferences of the routes: fibd's default for eBGP, and 200 for iBGP
// (the administrative distances routers use).
const (
	PreferenceEBGP = 20
	PreferenceIBGP = 200
)

// Config configures a Feed.
type Config struct {
	// Addr is gobgpd's API: host:port or unix:///path; default DefaultAddr.
	Addr string
	// FIB receives the best paths.
	FIB uint32
	// Source is the fibd source; default "gobgp".
	Source string
	// ResyncTimeout; default DefaultResyncTimeout.
	ResyncTimeout time.Duration
	// Retry is the wait between reconnections to gobgpd; default 1 s.
	Retry time.Duration
	Log   *slog.Logger
}

// Stats count what a Feed did.
type Stats struct {
	Sessions, Paths, Withdraws, EORs, Resyncs, ResyncTimeouts uint64
	// Ignored counts best paths fibd cannot forward: other families,
	// locally originated paths (next hop 0.0.0.0 or ::), invalid next hops.
	Ignored uint64
}

// Feed is a gobgpd → fibd feed.
type Feed struct {
	cfg   Config
	fibd  fibdpb.FibdServiceClient
	stats struct {
		sessions, paths, withdraws, eors, resyncs, timeouts, ignored atomic.Uint64
	}
}

// New makes a Feed that writes to fibd through c.
func New(c fibdpb.FibdServiceClient, cfg Config) *Feed {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Source == "" {
		cfg.Source = "gobgp"
	}
	if cfg.ResyncTimeout <= 0 {
		cfg.ResyncTimeout = DefaultResyncTimeout
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Feed{cfg: cfg, fibd: c}
}

// Stats returns the counters.
func (f *Feed) Stats() Stats {
	s := &f.stats
	return Stats{Sessions: s.sessions.Load(), Paths: s.paths.Load(), Withdraws: s.withdraws.Load(),
		EORs: s.eors.Load(), Resyncs: s.resyncs.Load(), ResyncTimeouts: s.timeouts.Load(), Ignored: s.ignored.Load()}
}

// Run feeds until ctx ends, reconnecting to gobgpd (and fibd) whenever a
// session ends.
func (f *Feed) Run(ctx context.Context) error {
	target := f.cfg.Addr
	if len(target) < 7 || target[:7] != "unix://" {
		target = "dns:///" + target
	}
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		return fmt.Errorf("gobgpd %s: %w", f.cfg.Addr, err)
	}
	defer cc.Close()
	g := api.NewGoBgpServiceClient(cc)
	for {
		err := f.session(ctx, g)
		if ctx.Err() != nil {
			return nil
		}
		f.cfg.Log.Warn("gobgp feed session ended; reconnecting", "reason", err, "in", f.cfg.Retry.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.cfg.Retry):
		}
	}
}

type peerKey struct {
	addr   string
	family familyKey
}

type familyKey struct {
	afi  api.Family_Afi
	safi api.Family_Safi
}

var (
	ipv4 = familyKey{api.Family_AFI_IP, api.Family_SAFI_UNICAST}
	ipv6 = familyKey{api.Family_AFI_IP6, api.Family_SAFI_UNICAST}
)

// resync tracks what closes a session's resync.
type resync struct {
	mu   sync.Mutex
	want map[peerKey]bool // configured peer families; true once EOR came
	up   map[string]bool  // established peers
	done bool
	end  func(reason string)
}

func (r *resync) complete() bool {
	for k, eor := range r.want {
		if !eor || !r.up[k.addr] {
			return false
		}
	}
	return true
}

// check ends the resync if every peer is up and has sent every EOR.
func (r *resync) check() {
	r.mu.Lock()
	if r.done || !r.complete() {
		r.mu.Unlock()
		return
	}
	r.done = true
	r.mu.Unlock()
	r.end("every peer established and sent End-of-RIB")
}

func (r *resync) timeout() {
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return
	}
	r.done = true
	var missing []string
	for k, eor := range r.want {
		if !eor || !r.up[k.addr] {
			missing = append(missing, k.addr)
		}
	}
	r.mu.Unlock()
	r.end(fmt.Sprintf("timeout; still waiting for %v", missing))
}

// session is one watch of gobgpd: one fibd session and resync.
func (f *Feed) session(ctx context.Context, g api.GoBgpServiceClient) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rs := &resync{want: map[peerKey]bool{}, up: map[string]bool{}}
	if err := f.peers(ctx, g, rs); err != nil {
		return fmt.Errorf("list gobgpd's peers: %w", err)
	}
	w, err := feed.Open(ctx, f.fibd, feed.Options{Source: f.cfg.Source, FIBs: []uint32{f.cfg.FIB},
		Logf: func(format string, a ...any) { f.cfg.Log.Warn(fmt.Sprintf(format, a...)) }})
	if err != nil {
		return fmt.Errorf("open a fibd session: %w", err)
	}
	defer func() {
		if err := w.Close(); err != nil {
			f.cfg.Log.Warn("fibd session end", "reason", err)
		}
	}()
	go func() {
		select {
		case <-w.Done():
			cancel() // fibd went away: start over
		case <-ctx.Done():
		}
	}()
	f.stats.sessions.Add(1)
	w.BeginResync(f.cfg.FIB)
	rs.end = func(reason string) {
		w.EndResync(f.cfg.FIB)
		f.stats.resyncs.Add(1)
		f.cfg.Log.Info("gobgp resync closed", "fib", f.cfg.FIB, "why", reason)
	}
	stream, err := g.WatchEvent(ctx, &api.WatchEventRequest{
		Peer: &api.WatchEventRequest_Peer{},
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{
			{Type: api.WatchEventRequest_Table_Filter_TYPE_BEST, Init: true},
			{Type: api.WatchEventRequest_Table_Filter_TYPE_EOR, Init: true},
		}},
		BatchSize: 4096,
	})
	if err != nil {
		return fmt.Errorf("watch gobgpd: %w", err)
	}
	f.cfg.Log.Info("watching gobgpd", "addr", f.cfg.Addr, "fib", f.cfg.FIB, "peers", len(rs.up))
	timer := time.AfterFunc(f.cfg.ResyncTimeout, func() {
		f.stats.timeouts.Add(1)
		rs.timeout()
	})
	defer timer.Stop()
	rs.check() // no peers configured: nothing to wait for
	received := 0
	for {
		ev, err := stream.Recv()
		if err != nil {
			if w.Err() != nil {
				return fmt.Errorf("fibd: %w", w.Err())
			}
			if errors.Is(err, io.EOF) {
				return errors.New("gobgpd closed the watch")
			}
			return err
		}
		switch e := ev.GetEvent().(type) {
		case *api.WatchEventResponse_Peer:
			f.peerEvent(rs, e.Peer)
		case *api.WatchEventResponse_Table:
			w.Begin()
			for _, p := range e.Table.GetPaths() {
				f.path(w, rs, p)
			}
			w.Commit()
			received += len(e.Table.GetPaths())
			// When gobgpd's paths arrive, against when fibd has them, says
			// which of the two a convergence waits for.
			f.cfg.Log.Debug("gobgp watch batch", "paths", len(e.Table.GetPaths()), "received", received)
		}
	}
}

// peers learns the configured peers and their unicast families.
func (f *Feed) peers(ctx context.Context, g api.GoBgpServiceClient, rs *resync) error {
	st, err := g.ListPeer(ctx, &api.ListPeerRequest{})
	if err != nil {
		return err
	}
	for {
		r, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := r.GetPeer()
		if p.GetState().GetAdminState() == api.PeerState_ADMIN_STATE_DOWN {
			continue // it will not come up on its own
		}
		addr := p.GetConf().GetNeighborAddress()
		rs.up[addr] = p.GetState().GetSessionState() == api.PeerState_SESSION_STATE_ESTABLISHED
		fams := 0
		for _, a := range p.GetAfiSafis() {
			fam := a.GetConfig().GetFamily()
			if !a.GetConfig().GetEnabled() && !a.GetState().GetEnabled() {
				continue
			}
			if k := (familyKey{fam.GetAfi(), fam.GetSafi()}); k == ipv4 || k == ipv6 {
				rs.want[peerKey{addr, k}] = false
				fams++
			}
		}
		if fams == 0 {
			// gobgpd's default: the neighbor address's family.
			k := ipv4
			if a, err := netip.ParseAddr(addr); err == nil && a.Is6() {
				k = ipv6
			}
			rs.want[peerKey{addr, k}] = false
		}
	}
}

func (f *Feed) peerEvent(rs *resync, e *api.WatchEventResponse_PeerEvent) {
	st := e.GetPeer().GetState()
	addr := e.GetPeer().GetConf().GetNeighborAddress()
	if addr == "" {
		return
	}
	rs.mu.Lock()
	established := st.GetSessionState() == api.PeerState_SESSION_STATE_ESTABLISHED
	if _, known := rs.up[addr]; known {
		rs.up[addr] = established
	}
	rs.mu.Unlock()
	if established {
		rs.check()
	}
}

// path turns one best-path event into a route change.
func (f *Feed) path(w *feed.Writer, rs *resync, p *api.Path) {
	fam := familyKey{p.GetFamily().GetAfi(), p.GetFamily().GetSafi()}
	if p.GetNlri() == nil {
		// End-of-RIB: a path with a family and no NLRI.
		f.stats.eors.Add(1)
		k := peerKey{p.GetNeighborIp(), fam}
		rs.mu.Lock()
		if _, ok := rs.want[k]; ok {
			rs.want[k] = true
		}
		rs.mu.Unlock()
		rs.check()
		return
	}
	pfx, ok := prefixOf(p)
	if !ok || (fam != ipv4 && fam != ipv6) {
		f.stats.ignored.Add(1)
		return
	}
	if p.GetIsWithdraw() {
		f.stats.withdraws.Add(1)
		w.Route(feed.Route{FIB: f.cfg.FIB, Prefix: pfx, Delete: true})
		return
	}
	nh := nextHop(p)
	if !nh.IsValid() || nh.IsUnspecified() || p.GetIsNexthopInvalid() {
		// Originated by gobgpd itself (next hop "self"), or unusable: not
		// forwardable; whatever fibd had for the prefix from gobgpd goes.
		f.stats.ignored.Add(1)
		w.Route(feed.Route{FIB: f.cfg.FIB, Prefix: pfx, Delete: true})
		return
	}
	f.stats.paths.Add(1)
	pref := uint32(PreferenceEBGP)
	if !p.GetIsFromExternal() && p.GetNeighborIp() != "" {
		pref = PreferenceIBGP
	}
	w.Route(feed.Route{FIB: f.cfg.FIB, Prefix: pfx, Preference: pref,
		Paths: []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: nh.String()}}})
}

func prefixOf(p *api.Path) (netip.Prefix, bool) {
	ip := p.GetNlri().GetPrefix()
	if ip == nil {
		return netip.Prefix{}, false
	}
	a, err := netip.ParseAddr(ip.GetPrefix())
	if err != nil || int(ip.GetPrefixLen()) > a.BitLen() {
		return netip.Prefix{}, false
	}
	pfx := netip.PrefixFrom(a, int(ip.GetPrefixLen()))
	return pfx.Masked(), true
}

// nextHop is the path's NEXT_HOP, or MP_REACH_NLRI's first (global) one.
func nextHop(p *api.Path) netip.Addr {
	for _, a := range p.GetPattrs() {
		var s string
		switch {
		case a.GetNextHop() != nil:
			s = a.GetNextHop().GetNextHop()
		case a.GetMpReach() != nil && len(a.GetMpReach().GetNextHops()) > 0:
			s = a.GetMpReach().GetNextHops()[0]
		default:
			continue
		}
		if nh, err := netip.ParseAddr(s); err == nil {
			return nh
		}
	}
	return netip.Addr{}
}
