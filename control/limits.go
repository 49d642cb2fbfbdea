package control

import (
	"fmt"
	"strconv"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// LimitSettings are a FIB's limits as an admin sets them: a nil field is
// fibd's default (its --limit-* flags, which may change from one start to
// the next); 0 in SetFIBSettings puts a field back to the default; in
// effective settings 0 means unlimited.
type LimitSettings struct {
	Routes4   *int // IPv4 routes
	Routes6   *int // IPv6 routes
	PerSource *int // routes of one source in one family
	Neighbors *int // static neighbours
	// WarnPercent is how full a limit gets before fibd warns (a log line
	// and fibd_fib_limit_warnings_total), as routers warn before
	// max-prefix; 1-100, default DefaultWarnPercent.
	WarnPercent *int
}

// DefaultWarnPercent is the warning threshold of a limit unless set:
// Cisco's maximum-prefix default.
const DefaultWarnPercent = 75

// warnRearm is how far under the threshold a count must fall before the
// next crossing warns again: a table hovering at the threshold warns once.
const warnRearm = 5

func (l LimitSettings) merge(o LimitSettings) LimitSettings {
	pick := func(dst **int, src *int) {
		switch {
		case src == nil:
		case *src == 0:
			*dst = nil // back to fibd's default
		default:
			v := *src
			*dst = &v
		}
	}
	pick(&l.Routes4, o.Routes4)
	pick(&l.Routes6, o.Routes6)
	pick(&l.PerSource, o.PerSource)
	pick(&l.Neighbors, o.Neighbors)
	pick(&l.WarnPercent, o.WarnPercent)
	return l
}

func (l LimitSettings) check(field string) error {
	for _, v := range []struct {
		name string
		v    *int
	}{{"routes_v4", l.Routes4}, {"routes_v6", l.Routes6}, {"routes_per_source", l.PerSource}, {"neighbors", l.Neighbors}} {
		if v.v != nil && *v.v < 0 {
			return fieldErr(field+"."+v.name, strconv.Itoa(*v.v), "must not be negative")
		}
	}
	if w := l.WarnPercent; w != nil && (*w < 0 || *w > 100) {
		return fieldErr(field+".warn_percent", strconv.Itoa(*w), "must be in 1-100 (0: the default, %d)", DefaultWarnPercent)
	}
	return nil
}

func (l LimitSettings) diff(o LimitSettings) []string {
	var out []string
	str := func(p *int) string {
		if p == nil {
			return "default"
		}
		return strconv.Itoa(*p)
	}
	for _, f := range []struct {
		name string
		a, b *int
	}{{"routes_v4", l.Routes4, o.Routes4}, {"routes_v6", l.Routes6, o.Routes6}, {"routes_per_source", l.PerSource, o.PerSource},
		{"neighbors", l.Neighbors, o.Neighbors}, {"warn_percent", l.WarnPercent, o.WarnPercent}} {
		if str(f.a) != str(f.b) {
			out = append(out, fmt.Sprintf("limits.%s %s → %s", f.name, str(f.a), str(f.b)))
		}
	}
	return out
}

// settingsOf turns Limits (0: the default) into LimitSettings.
func settingsOf(l Limits) LimitSettings {
	p := func(v int) *int {
		if v == 0 {
			return nil
		}
		return &v
	}
	return LimitSettings{Routes4: p(l.Routes4), Routes6: p(l.Routes6), PerSource: p(l.PerSource), Neighbors: p(l.Neighbors)}
}

// effectiveLimits are a FIB's limits in force.
type effectiveLimits struct {
	Limits
	WarnPercent int
}

func (e effectiveLimits) settings() LimitSettings {
	v := func(x int) *int { return &x }
	return LimitSettings{Routes4: v(e.Routes4), Routes6: v(e.Routes6), PerSource: v(e.PerSource), Neighbors: v(e.Neighbors),
		WarnPercent: v(e.WarnPercent)}
}

func (s *Server) effectiveLimitsLocked(f *fib.FIB) effectiveLimits {
	set := s.mu.settings[f.ID()].Limits
	or := func(p *int, d int) int {
		if p != nil {
			return *p
		}
		return d
	}
	return effectiveLimits{
		Limits: Limits{Routes4: or(set.Routes4, s.limits.Routes4), Routes6: or(set.Routes6, s.limits.Routes6),
			PerSource: or(set.PerSource, s.limits.PerSource), Neighbors: or(set.Neighbors, s.limits.Neighbors)},
		WarnPercent: or(set.WarnPercent, DefaultWarnPercent),
	}
}

// applyLimitsLocked puts a FIB's effective limits into force.
func (s *Server) applyLimitsLocked(f *fib.FIB) {
	l := s.effectiveLimitsLocked(f)
	f.SetLimits(fib.Limits{Routes4: l.Routes4, Routes6: l.Routes6, PerSource: l.PerSource})
	s.mu.nbrLimits[f.ID()] = l.Neighbors
}

// warnKey names one limit a FIB can approach: a family's, or a source's
// in a family.
type warnKey struct {
	fib    adj.FIBID
	family int // 4 or 6
	source string
}

// LimitWarning is one crossing of a limit's warning threshold.
type LimitWarning struct {
	FIB    adj.FIBID
	Family int
	Source string // "" for the FIB's own limit
	Count  int
	Limit  int
}

// checkLimitWarnings warns, once per crossing, about every limit of f whose
// warning threshold its routes reached; it runs after route changes.
func (s *Server) checkLimitWarnings(f *fib.FIB) {
	s.mu.Lock()
	l := s.effectiveLimitsLocked(f)
	s.mu.Unlock()
	if l.Routes4 == 0 && l.Routes6 == 0 && l.PerSource == 0 {
		return
	}
	var warn []LimitWarning
	check := func(k warnKey, n, limit int) {
		if limit == 0 {
			return
		}
		at := (limit*l.WarnPercent + 99) / 100
		rearm := limit * max(0, l.WarnPercent-warnRearm) / 100
		s.warnMu.Lock()
		defer s.warnMu.Unlock()
		switch {
		case n >= at && !s.warned[k]:
			s.warned[k] = true
			s.warnCount[k]++
			warn = append(warn, LimitWarning{FIB: k.fib, Family: k.family, Source: k.source, Count: n, Limit: limit})
		case n < rearm && s.warned[k]:
			delete(s.warned, k)
		}
	}
	n4, n6 := f.Counts()
	check(warnKey{f.ID(), 4, ""}, n4, l.Routes4)
	check(warnKey{f.ID(), 6, ""}, n6, l.Routes6)
	if l.PerSource > 0 {
		for _, sc := range f.SourceCounts() {
			check(warnKey{f.ID(), 4, sc.Source}, sc.Routes4, l.PerSource)
			check(warnKey{f.ID(), 6, sc.Source}, sc.Routes6, l.PerSource)
		}
	}
	for _, w := range warn {
		who := "its routes"
		if w.Source != "" {
			who = fmt.Sprintf("source %q", w.Source)
		}
		s.log.Warn(fmt.Sprintf("fib %d: %s reached %d%% of the IPv%d route limit", w.FIB, who, l.WarnPercent, w.Family),
			"fib", w.FIB, "family", w.Family, "source", w.Source, "routes", w.Count, "limit", w.Limit)
	}
}

// LimitWarnings returns how many times each limit's warning threshold was
// crossed, for the metrics.
func (s *Server) LimitWarnings() map[LimitWarning]uint64 {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	out := make(map[LimitWarning]uint64, len(s.warnCount))
	for k, n := range s.warnCount {
		out[LimitWarning{FIB: k.fib, Family: k.family, Source: k.source}] = n
	}
	return out
}
