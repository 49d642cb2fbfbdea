package control

import (
	"fmt"
	"time"

	"github.com/fibd/fibd/fib/adj"
)

// FIBSettings are what a FIB is configured with besides its routes, ports
// and limits. In SetFIBSettings a nil field is left as it is; FIBSettings
// returns every field set to its effective value.
type FIBSettings struct {
	Neighbors NeighborSettings
}

// NeighborSettings configure a FIB's ARP/ND table (see neigh.FIBConfig).
type NeighborSettings struct {
	MaxEntries           *int
	ARPAccept            *bool
	GCStaleTime          *time.Duration
	BaseReachableTime    *time.Duration
	DelayFirstProbeTime  *time.Duration
	RetransTimer         *time.Duration
	SolicitRate          *int
	SolicitBurst         *int
	ReservedSolicitRate  *int
	ReservedSolicitBurst *int
}

// Bounds of the neighbour settings: a table or a timer past them is a
// typing error, not a configuration.
const (
	maxNeighborEntries = 1 << 22
	maxNeighborTimer   = time.Hour
	maxSolicitRate     = 1 << 20
)

// merge returns n with every field o sets taken from o.
func (n NeighborSettings) merge(o NeighborSettings) NeighborSettings {
	pick := func(dst **int, src *int) {
		if src != nil {
			*dst = src
		}
	}
	pickDur := func(dst **time.Duration, src *time.Duration) {
		if src != nil {
			*dst = src
		}
	}
	pick(&n.MaxEntries, o.MaxEntries)
	if o.ARPAccept != nil {
		n.ARPAccept = o.ARPAccept
	}
	pickDur(&n.GCStaleTime, o.GCStaleTime)
	pickDur(&n.BaseReachableTime, o.BaseReachableTime)
	pickDur(&n.DelayFirstProbeTime, o.DelayFirstProbeTime)
	pickDur(&n.RetransTimer, o.RetransTimer)
	pick(&n.SolicitRate, o.SolicitRate)
	pick(&n.SolicitBurst, o.SolicitBurst)
	pick(&n.ReservedSolicitRate, o.ReservedSolicitRate)
	pick(&n.ReservedSolicitBurst, o.ReservedSolicitBurst)
	return n
}

// empty reports whether no field is set.
func (n NeighborSettings) empty() bool { return n == NeighborSettings{} }

// check validates the fields that are set, naming the first bad one.
func (n NeighborSettings) check(field string) error {
	ints := []struct {
		name string
		v    *int
		max  int
	}{{"max_entries", n.MaxEntries, maxNeighborEntries}, {"solicit_rate", n.SolicitRate, maxSolicitRate},
		{"solicit_burst", n.SolicitBurst, maxSolicitRate}, {"reserved_solicit_rate", n.ReservedSolicitRate, maxSolicitRate},
		{"reserved_solicit_burst", n.ReservedSolicitBurst, maxSolicitRate}}
	for _, i := range ints {
		if i.v != nil && (*i.v < 1 || *i.v > i.max) {
			return fieldErr(field+"."+i.name, fmt.Sprint(*i.v), "must be in 1-%d", i.max)
		}
	}
	durs := []struct {
		name string
		v    *time.Duration
	}{{"gc_stale_time", n.GCStaleTime}, {"base_reachable_time", n.BaseReachableTime},
		{"delay_first_probe_time", n.DelayFirstProbeTime}, {"retrans_timer", n.RetransTimer}}
	for _, d := range durs {
		if d.v != nil && (*d.v < time.Millisecond || *d.v > maxNeighborTimer) {
			return fieldErr(field+"."+d.name, d.v.String(), "must be between 1ms and %v", maxNeighborTimer)
		}
	}
	return nil
}

// SetFIBSettings changes the settings set decides (nil fields stay as
// they are) and returns the FIB's effective settings. Nothing changes if
// any field is invalid. The changes are saved in the state file.
func (s *Server) SetFIBSettings(id adj.FIBID, set FIBSettings) (FIBSettings, error) {
	if err := set.Neighbors.check("settings.neighbors"); err != nil {
		return FIBSettings{}, err
	}
	if _, err := s.fib(id); err != nil {
		return FIBSettings{}, err
	}
	s.mu.Lock()
	merged := s.mu.settings[id].Neighbors.merge(set.Neighbors)
	if err := s.nb.SetSettings(id, merged); err != nil {
		s.mu.Unlock()
		return FIBSettings{}, err
	}
	if merged.empty() {
		delete(s.mu.settings, id)
	} else {
		s.mu.settings[id] = FIBSettings{Neighbors: merged}
	}
	s.mu.Unlock()
	s.log.Info("fib settings changed", "fib", id)
	if err := s.saveState(); err != nil {
		return FIBSettings{}, err
	}
	return s.FIBSettings(id)
}

// FIBSettings returns a FIB's effective settings, every field set.
func (s *Server) FIBSettings(id adj.FIBID) (FIBSettings, error) {
	if _, err := s.fib(id); err != nil {
		return FIBSettings{}, err
	}
	return FIBSettings{Neighbors: s.nb.Settings(id)}, nil
}

// savedSettingsLocked returns the settings an admin set for a FIB (only
// those), for the state file.
func (s *Server) savedSettingsLocked(id adj.FIBID) (FIBSettings, bool) {
	st, ok := s.mu.settings[id]
	return st, ok
}
