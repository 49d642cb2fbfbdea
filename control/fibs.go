package control

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// FIBInfo describes one FIB for listings.
type FIBInfo struct {
	ID                     adj.FIBID
	Name                   string
	Routes4, Routes6       int
	Neighbors4, Neighbors6 int
	Ports                  []string
	Limits                 Limits
	Version                uint64
	Settings               FIBSettings
	// Sources are the sources with routes in the FIB, by name.
	Sources []fib.SourceCount
	// Host is the FIB's host stack, nil when it has none.
	Host *HostInfo
}

// CreateFIB makes an empty FIB with the given settings (nil fields: the
// defaults).
func (s *Server) CreateFIB(id adj.FIBID, set FIBSettings) error {
	if err := set.check("settings"); err != nil {
		return err
	}
	s.mu.Lock()
	if set.Name != nil {
		if other, ok := s.mu.names[*set.Name]; ok {
			s.mu.Unlock()
			return fmt.Errorf("%w: the name %q is fib %d's", fib.ErrFIBExists, *set.Name, other)
		}
	}
	f, err := s.reg.Create(id)
	if err == nil {
		_, err = s.setSettingsLocked(f, set)
		if err != nil {
			_ = s.reg.Delete(id)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.log.Info("fib created", "fib", id, "name", deref(set.Name))
	return s.saveState()
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
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
		if h := s.mu.settings[id].Host; h != nil && *h {
			if herr := s.dp.SetHost(id, false); herr != nil {
				s.log.Warn("removing the deleted fib's host stack", "fib", id, "err", herr)
			}
		}
		delete(s.mu.nbrLimits, id)
		if n := s.mu.settings[id].Name; n != nil {
			delete(s.mu.names, *n)
		}
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
	in.Name = deref(s.mu.settings[f.ID()].Name)
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
	in.Settings, _ = s.FIBSettings(f.ID())
	in.Sources = f.SourceCounts()
	for _, h := range s.dp.Hosts() {
		if h.FIB == f.ID() {
			in.Host = &h
		}
	}
	return in
}

// family returns 4 or 6.
func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}
