package control

import (
	"slices"
	"strings"

	"github.com/fibd/fibd/fib/adj"
)

// FIBCounters are a FIB's counters with its route counts.
type FIBCounters struct {
	FIBStats
	Routes4, Routes6 int
}

// StatsReport is GetStats' answer.
type StatsReport struct {
	Ports []PortStats
	FIBs  []FIBCounters
	// Interfaces count what arrived for no port, so belongs to no FIB:
	// listed only when no FIB is asked for.
	Interfaces []InterfaceStats
	// FastPath is the in-kernel fast path's report (nil without one).
	FastPath *FastPathStats
}

// Stats returns the dataplane's counters per port and per FIB (nil: all
// FIBs), with port names filled in and every FIB listed even without
// traffic.
func (s *Server) Stats(fibID *adj.FIBID) (StatsReport, error) {
	if fibID != nil {
		if _, err := s.fib(*fibID); err != nil {
			return StatsReport{}, err
		}
	}
	st := s.dp.Stats()
	var rep StatsReport
	for _, p := range st.Ports {
		if fibID != nil && p.FIB != *fibID {
			continue
		}
		if p.Name == "" {
			p.Name = s.PortName(p.Port)
		}
		rep.Ports = append(rep.Ports, p)
	}
	slices.SortFunc(rep.Ports, func(a, b PortStats) int { return int(a.Port) - int(b.Port) })
	byFIB := map[adj.FIBID]Counters{}
	for _, f := range st.FIBs {
		byFIB[f.FIB] = f.Counters
	}
	for _, f := range s.reg.List() {
		if fibID != nil && f.ID() != *fibID {
			continue
		}
		fc := FIBCounters{FIBStats: FIBStats{FIB: f.ID(), Counters: byFIB[f.ID()]}}
		fc.Routes4, fc.Routes6 = f.Counts()
		rep.FIBs = append(rep.FIBs, fc)
	}
	rep.FastPath = st.FastPath
	if fibID == nil {
		rep.Interfaces = slices.Clone(st.Interfaces)
		slices.SortFunc(rep.Interfaces, func(a, b InterfaceStats) int { return strings.Compare(a.Interface, b.Interface) })
	}
	return rep, nil
}
