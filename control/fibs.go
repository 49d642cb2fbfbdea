package control

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// FIBInfo describes one FIB for listings.
type FIBInfo struct {
	ID                     adj.FIBID
	Routes4, Routes6       int
	Neighbors4, Neighbors6 int
	Ports                  []string
	Limits                 Limits
	Version                uint64
	Settings               FIBSettings
}

// CreateFIB makes an empty FIB. Zero fields of l take the Server's default
// limits.
func (s *Server) CreateFIB(id adj.FIBID, l Limits) error {
	if err := checkLimits(l); err != nil {
		return err
	}
	s.mu.Lock()
	f, err := s.reg.Create(id)
	if err == nil {
		s.setLimitsLocked(f, l)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.log.Info("fib created", "fib", id)
	return s.saveState()
}

func checkLimits(l Limits) error {
	for _, v := range []struct {
		name string
		v    int
	}{{"limits.routes_v4", l.Routes4}, {"limits.routes_v6", l.Routes6},
		{"limits.routes_per_source", l.PerSource}, {"limits.neighbors", l.Neighbors}} {
		if v.v < 0 {
			return fieldErr(v.name, strconv.Itoa(v.v), "must not be negative")
		}
	}
	return nil
}

func (s *Server) setLimitsLocked(f *fib.FIB, l Limits) {
	l = l.orDefault(s.limits)
	f.SetLimits(fib.Limits{Routes4: l.Routes4, Routes6: l.Routes6, PerSource: l.PerSource})
	s.mu.nbrLimits[f.ID()] = l.Neighbors
}

// SetLimits changes a FIB's limits; zero fields take the Server's default.
// Routes already installed stay even above the new limits.
func (s *Server) SetLimits(id adj.FIBID, l Limits) error {
	if err := checkLimits(l); err != nil {
		return err
	}
	f, err := s.fib(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.setLimitsLocked(f, l)
	s.mu.Unlock()
	return s.saveState()
}

// DeleteFIB removes a FIB and its routes (fib.ErrFIBInUse while ports are
// bound to it or routes of other FIBs look up into it, fib.ErrDefaultFIB
// for FIB 0).
func (s *Server) DeleteFIB(id adj.FIBID) error {
	s.mu.Lock()
	var names []string
	for _, p := range s.reg.Ports(id) {
		names = append(names, s.mu.byID[p].name)
	}
	if len(names) > 0 {
		s.mu.Unlock()
		return fmt.Errorf("fib %d: %w: ports %s are bound to it", id, fib.ErrFIBInUse, strings.Join(names, ", "))
	}
	err := s.reg.Delete(id)
	if err == nil {
		delete(s.mu.nbrLimits, id)
		delete(s.mu.settings, id)
		for k := range s.mu.resync {
			if k.fib == id {
				delete(s.mu.resync, k)
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.log.Info("fib deleted", "fib", id)
	return s.saveState()
}

// FIBs calls fn for every FIB by ascending ID (or only for id when only is
// set), until fn returns false.
func (s *Server) FIBs(only *adj.FIBID, fn func(FIBInfo) bool) error {
	var list []*fib.FIB
	if only != nil {
		f, err := s.fib(*only)
		if err != nil {
			return err
		}
		list = []*fib.FIB{f}
	} else {
		list = s.reg.List()
	}
	for _, f := range list {
		if !fn(s.fibInfo(f)) {
			break
		}
	}
	return nil
}

func (s *Server) fibInfo(f *fib.FIB) FIBInfo {
	in := FIBInfo{ID: f.ID(), Version: f.Version()}
	in.Routes4, in.Routes6 = f.Counts()
	fl := f.Limits()
	s.mu.Lock()
	in.Limits = Limits{Routes4: fl.Routes4, Routes6: fl.Routes6, PerSource: fl.PerSource, Neighbors: s.mu.nbrLimits[f.ID()]}
	for _, p := range s.reg.Ports(f.ID()) {
		if r, ok := s.mu.byID[p]; ok {
			in.Ports = append(in.Ports, r.name)
		}
	}
	s.mu.Unlock()
	s.nb.List(f.ID(), func(n NeighborInfo) bool {
		if n.Key.Addr.Is4() {
			in.Neighbors4++
		} else {
			in.Neighbors6++
		}
		return true
	})
	in.Settings = FIBSettings{Neighbors: s.nb.Settings(f.ID())}
	return in
}

// family returns 4 or 6.
func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}
