package control

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// SourceStatic is the source of routes an admin configures; they are saved
// in the state file. fibctl uses it unless told otherwise.
const SourceStatic = "static"

// DefaultPreference returns the preference a route gets when its request
// gives none: fib.PrefStatic (1) for "static", fib.PrefEBGP (20) for every
// other source. A daemon that wants another (iBGP's 200, say) sets it.
func DefaultPreference(source string) fib.Preference {
	if source == SourceStatic {
		return fib.PrefStatic
	}
	return fib.PrefEBGP
}

// Limits bound one FIB. Zero means unlimited (or, in a request, the
// Server's default).
type Limits struct {
	Routes4   int // IPv4 routes
	Routes6   int // IPv6 routes
	PerSource int // routes of one source in one family
	Neighbors int // static neighbours
}

func (l Limits) orDefault(d Limits) Limits {
	if l.Routes4 == 0 {
		l.Routes4 = d.Routes4
	}
	if l.Routes6 == 0 {
		l.Routes6 = d.Routes6
	}
	if l.PerSource == 0 {
		l.PerSource = d.PerSource
	}
	if l.Neighbors == 0 {
		l.Neighbors = d.Neighbors
	}
	return l
}

// Options configure a Server.
type Options struct {
	Registry  *fib.Registry // required
	Dataplane Dataplane     // required
	Neighbors Neighbors     // required
	Logger    *slog.Logger  // default slog.Default()
	// Limits apply to every FIB created without its own (including FIB 0).
	Limits Limits
	// Version is reported by GetInfo.
	Version string
}

// Server is the control plane's core. Its methods take domain types
// (netip, fib, adj) and are what the gRPC adapter calls.
//
// Concurrency: all methods are safe for concurrent use. Configuration
// changes (FIBs, ports, addresses, neighbours, resync bookkeeping)
// serialise on the Server's mutex; route changes go straight to the FIB,
// which serialises its own writers, so route pushes into different FIBs run
// in parallel and never wait for an admin's command on another FIB.
type Server struct {
	reg     *fib.Registry
	dp      Dataplane
	nb      Neighbors
	log     *slog.Logger
	epoch   uint64
	started time.Time
	version string
	limits  Limits

	// state is set by EnableState; nil means nothing is persisted.
	state stateHolder

	// warnMu guards the limit warnings (limits.go): which thresholds are
	// crossed now, and how often each was.
	warnMu    sync.Mutex
	warned    map[warnKey]bool
	warnCount map[warnKey]uint64

	// counters count what the metrics show of the control plane's work.
	counters struct {
		batches, batchesRefused atomic.Uint64 // ModifyRoutes batches
		resyncs, flushes        atomic.Uint64
		groupOps                atomic.Uint64 // next-hop group sets and deletes
		watchers                atomic.Int64  // open WatchRoutes streams
		watchersDropped         atomic.Uint64 // ended for falling behind
	}

	// resyncMu serialises resync marks and sweeps (resync.go).
	resyncMu sync.Mutex
	// beforeSweep, when set (by tests), runs in EndResync between the
	// bookkeeping and the sweep.
	beforeSweep func()

	// sess holds the ModifyRoutes sessions and who owns each (FIB,
	// source) (sessions.go). Never held across I/O or a batch.
	sess struct {
		sync.Mutex
		next   uint64
		owners map[resyncKey]*ownership
	}

	mu struct {
		sync.Mutex
		byName    map[string]adj.PortID
		byID      map[adj.PortID]portRec
		nbrLimits map[adj.FIBID]int
		// settings holds the FIB settings an admin set (only those).
		settings map[adj.FIBID]FIBSettings
		names    map[string]adj.FIBID
		// configFile is the config file as last applied (ApplyConfigFile).
		configFile *Config
		resync     map[resyncKey]bool
	}
}

type portRec struct {
	name     string
	spec     PortSpec
	settings PortSettings // as set through SetPortSettings, normalised
}

type resyncKey struct {
	fib    adj.FIBID
	source string
}

// New returns a Server over the given registry, dataplane and neighbour
// table, with a fresh instance epoch. Ports the dataplane already has are
// adopted.
func New(o Options) (*Server, error) {
	if o.Registry == nil || o.Dataplane == nil || o.Neighbors == nil {
		return nil, errors.New("control: Registry, Dataplane and Neighbors are required")
	}
	s := &Server{reg: o.Registry, dp: o.Dataplane, nb: o.Neighbors, log: o.Logger,
		started: time.Now(), version: o.Version, limits: o.Limits, epoch: newEpoch()}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.mu.byName = map[string]adj.PortID{}
	s.mu.byID = map[adj.PortID]portRec{}
	s.mu.nbrLimits = map[adj.FIBID]int{}
	s.mu.settings = map[adj.FIBID]FIBSettings{}
	s.mu.names = map[string]adj.FIBID{}
	s.warned, s.warnCount = map[warnKey]bool{}, map[warnKey]uint64{}
	s.mu.resync = map[resyncKey]bool{}
	s.sess.owners = map[resyncKey]*ownership{}
	for _, p := range s.dp.Ports() {
		s.recordPortLocked(p)
	}
	if f, ok := s.reg.Get(adj.DefaultFIB); ok {
		s.applyLimitsLocked(f)
	}
	return s, nil
}

// newEpoch returns a random, non-zero instance epoch. Random rather than a
// start time, so a clock stepped backwards cannot repeat one.
func newEpoch() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if e := binary.BigEndian.Uint64(b[:]); e != 0 {
			return e
		}
	}
}

// Epoch returns the instance epoch: random, chosen when the Server was
// made, carried by every gRPC response so clients notice a restart.
func (s *Server) Epoch() uint64 { return s.epoch }

// Info describes the running instance.
type Info struct {
	Epoch      uint64
	Version    string
	Dataplane  string
	Started    time.Time
	StateError string
}

// Info returns what GetInfo reports.
func (s *Server) Info() Info {
	in := Info{Epoch: s.epoch, Version: s.version, Dataplane: s.dp.Backend(), Started: s.started}
	if err := s.state.lastErr(); err != nil {
		in.StateError = err.Error()
	}
	return in
}

// Registry returns the fib registry the Server configures.
func (s *Server) Registry() *fib.Registry { return s.reg }

func (s *Server) fib(id adj.FIBID) (*fib.FIB, error) {
	f, ok := s.reg.Get(id)
	if !ok {
		return nil, fibNotFound(id)
	}
	return f, nil
}

func fibNotFound(id adj.FIBID) error {
	return fmt.Errorf("fib %d: %w", id, fib.ErrNoSuchFIB)
}
