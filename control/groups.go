package control

import (
	"fmt"
	"slices"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// SetGroup creates next-hop group g in FIB id, or replaces its paths and
// backup: every route on it follows in the same step. A group belongs to
// its source; a source a live session owns changes its groups in the
// session's stream (ErrOwned here). Groups of the "static" source are
// configuration, saved in the state file.
func (s *Server) SetGroup(id adj.FIBID, g fib.Group) (fib.Result, error) {
	return s.groupChange(id, fib.Change{Op: fib.OpGroupSet, Group: g})
}

// DeleteGroup deletes a group (fib.ErrGroupInUse while routes or groups
// use it).
func (s *Server) DeleteGroup(id adj.FIBID, gid uint32, source string) (fib.Result, error) {
	return s.groupChange(id, fib.Change{Op: fib.OpGroupDelete, Group: fib.Group{ID: gid, Source: source}})
}

func (s *Server) groupChange(id adj.FIBID, c fib.Change) (fib.Result, error) {
	if err := checkSource("group.source", c.Group.Source); err != nil {
		return fib.Result{}, err
	}
	f, err := s.fib(id)
	if err != nil {
		return fib.Result{}, err
	}
	if err := s.checkUnowned(id, c.Group.Source); err != nil {
		return fib.Result{}, err
	}
	res, err := f.Apply([]fib.Change{c})
	var be *fib.BatchError
	if errAs(err, &be) {
		err = be.Err // one entry: the index says nothing
	}
	if err != nil {
		return res, err
	}
	s.counters.groupOps.Add(1)
	s.log.Info("next-hop group "+c.Op.String(), "fib", id, "group", c.Group.ID, "source", c.Group.Source)
	if c.Group.Source == SourceStatic {
		return res, s.saveState()
	}
	return res, nil
}

// GroupEntry is a group as listed.
type GroupEntry struct {
	FIB adj.FIBID
	fib.GroupInfo
}

// Groups calls fn for every group of every FIB (only: one FIB), by FIB and
// ID.
func (s *Server) Groups(only *adj.FIBID, fn func(GroupEntry) bool) error {
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
		for _, g := range f.Groups() {
			if !fn(GroupEntry{FIB: f.ID(), GroupInfo: g}) {
				return nil
			}
		}
	}
	return nil
}

// ConfigGroup is a next-hop group of the "static" source.
type ConfigGroup struct {
	FIB    adj.FIBID    `json:"fib"`
	ID     uint32       `json:"id"`
	Paths  []ConfigPath `json:"paths"`
	Backup uint32       `json:"backup,omitempty"`
}

func (s *Server) configGroup(cg ConfigGroup) (fib.Group, error) {
	r, err := s.configRoute(ConfigRoute{FIB: cg.FIB, Paths: cg.Paths})
	if err != nil {
		return fib.Group{}, err
	}
	return fib.Group{ID: cg.ID, Source: SourceStatic, Paths: r.Paths, Backup: cg.Backup}, nil
}

func (s *Server) applyConfigGroup(cg ConfigGroup) error {
	g, err := s.configGroup(cg)
	if err != nil {
		return err
	}
	if _, err := s.SetGroup(cg.FIB, g); err != nil && !errIs(err, ErrNotSaved) {
		return err
	}
	return nil
}

// staticGroups lists the "static" groups of f for the state file, backups
// before the groups that name them (so a restore can make them in order).
func (s *Server) staticGroups(f *fib.FIB) []ConfigGroup {
	var out []ConfigGroup
	for _, g := range f.Groups() {
		if g.Source != SourceStatic {
			continue
		}
		cg := ConfigGroup{FIB: f.ID(), ID: g.ID, Backup: g.Backup}
		for _, p := range g.Paths {
			cg.Paths = append(cg.Paths, s.configPath(p))
		}
		out = append(out, cg)
	}
	return orderGroups(out)
}

// orderGroups puts backups first.
func orderGroups(gs []ConfigGroup) []ConfigGroup {
	slices.SortStableFunc(gs, func(a, b ConfigGroup) int {
		switch {
		case a.Backup == 0 && b.Backup != 0:
			return -1
		case a.Backup != 0 && b.Backup == 0:
			return 1
		}
		return 0
	})
	return gs
}

func findGroup(c *Config, id adj.FIBID, gid uint32) (ConfigGroup, bool) {
	for _, g := range c.Groups {
		if g.FIB == id && g.ID == gid {
			return g, true
		}
	}
	return ConfigGroup{}, false
}

func groupItem(i int, g ConfigGroup) string {
	return fmt.Sprintf("groups[%d] (group %d in fib %d)", i, g.ID, g.FIB)
}
