package control

import (
	"fmt"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// FIBSettings are what a FIB is configured with besides its routes and
// ports: its name, its limits, its neighbour table. In SetFIBSettings a
// nil field is left as it is; FIBSettings returns every field set to its
// effective value (Name nil when the FIB has none). The state file keeps
// only what an admin set, so a FIB that never had a limit of its own
// follows fibd's --limit-* defaults as they change.
type FIBSettings struct {
	Name      *string
	Limits    LimitSettings
	Neighbors NeighborSettings
	// Host turns the FIB's host stack on or off (Dataplane.SetHost).
	Host *bool
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
// any field is invalid. Each change is logged and saved in the state file.
func (s *Server) SetFIBSettings(id adj.FIBID, set FIBSettings) (FIBSettings, error) {
	if err := set.check("settings"); err != nil {
		return FIBSettings{}, err
	}
	f, err := s.fib(id)
	if err != nil {
		return FIBSettings{}, err
	}
	s.mu.Lock()
	changes, err := s.setSettingsLocked(f, set)
	s.mu.Unlock()
	if err != nil {
		return FIBSettings{}, err
	}
	if len(changes) > 0 {
		s.log.Info("fib settings changed", "fib", id, "changes", changes)
	}
	eff, _ := s.FIBSettings(id)
	return eff, s.saveState()
}

func (set FIBSettings) check(field string) error {
	if set.Name != nil {
		if err := checkFIBName(field+".name", *set.Name); err != nil {
			return err
		}
	}
	if err := set.Limits.check(field + ".limits"); err != nil {
		return err
	}
	return set.Neighbors.check(field + ".neighbors")
}

// setSettingsLocked merges set into what an admin set for f and applies
// the result; it returns the fields that changed, as text.
func (s *Server) setSettingsLocked(f *fib.FIB, set FIBSettings) ([]string, error) {
	id := f.ID()
	old := s.mu.settings[id]
	next := old
	if set.Name != nil {
		if *set.Name == "" {
			next.Name = nil
		} else {
			if other, ok := s.mu.names[*set.Name]; ok && other != id {
				return nil, fmt.Errorf("%w: the name %q is fib %d's", fib.ErrFIBExists, *set.Name, other)
			}
			next.Name = set.Name
		}
	}
	next.Limits = old.Limits.merge(set.Limits)
	next.Neighbors = old.Neighbors.merge(set.Neighbors)
	if set.Host != nil {
		next.Host = set.Host
		if !*set.Host {
			next.Host = nil // off is the default: nothing to save
		}
	}
	wasOn, on := old.Host != nil && *old.Host, next.Host != nil && *next.Host
	if on != wasOn {
		// Namespace and TUN work happens under s.mu: a few milliseconds,
		// and it keeps the host in step with the setting that is saved.
		if err := s.dp.SetHost(id, on); err != nil {
			return nil, fmt.Errorf("fib %d host stack: %w", id, err)
		}
	}
	if err := s.nb.SetSettings(id, next.Neighbors); err != nil {
		if on != wasOn {
			_ = s.dp.SetHost(id, wasOn)
		}
		return nil, err
	}
	if old.Name != nil {
		delete(s.mu.names, *old.Name)
	}
	if next.Name != nil {
		s.mu.names[*next.Name] = id
	}
	if next.empty() {
		delete(s.mu.settings, id)
	} else {
		s.mu.settings[id] = next
	}
	s.applyLimitsLocked(f)
	return old.diff(next), nil
}

// FIBSettings returns a FIB's effective settings, every field set but Name
// (nil when the FIB has none).
func (s *Server) FIBSettings(id adj.FIBID) (FIBSettings, error) {
	f, err := s.fib(id)
	if err != nil {
		return FIBSettings{}, err
	}
	s.mu.Lock()
	st := s.mu.settings[id]
	on := st.Host != nil && *st.Host
	eff := FIBSettings{Name: st.Name, Limits: s.effectiveLimitsLocked(f).settings(), Host: &on}
	s.mu.Unlock()
	eff.Neighbors = s.nb.Settings(id)
	return eff, nil
}

// savedSettingsLocked returns the settings an admin set for a FIB (only
// those), for the state file.
func (s *Server) savedSettingsLocked(id adj.FIBID) (FIBSettings, bool) {
	st, ok := s.mu.settings[id]
	return st, ok
}

func (set FIBSettings) empty() bool {
	return set.Name == nil && set.Limits == (LimitSettings{}) && set.Neighbors.empty() && set.Host == nil
}

// diff names the fields that differ between two sets of settings.
func (set FIBSettings) diff(o FIBSettings) []string {
	var out []string
	str := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	if str(set.Name) != str(o.Name) {
		out = append(out, fmt.Sprintf("name %s → %s", str(set.Name), str(o.Name)))
	}
	out = append(out, set.Limits.diff(o.Limits)...)
	if on := func(b *bool) bool { return b != nil && *b }; on(set.Host) != on(o.Host) {
		out = append(out, fmt.Sprintf("host stack %v → %v", on(set.Host), on(o.Host)))
	}
	if !sameJSON(configNeighbors(set.Neighbors), configNeighbors(o.Neighbors)) {
		out = append(out, "neighbors")
	}
	return out
}

// checkFIBName accepts a short lower-case word that is not a number (so a
// name never reads as an ID): letters, digits, - _ . , starting with a
// letter. "" clears a name.
func checkFIBName(field, name string) error {
	if name == "" {
		return nil
	}
	if len(name) > maxFIBName {
		return fieldErr(field, name, "longer than %d bytes", maxFIBName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'):
		default:
			return fieldErr(field, name, "a FIB name is lower-case letters, digits, - _ . and starts with a letter")
		}
	}
	return nil
}

// maxFIBName bounds a FIB name.
const maxFIBName = 32

// FIBByName returns the ID of the FIB with that name.
func (s *Server) FIBByName(name string) (adj.FIBID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.mu.names[name]
	return id, ok
}
