package control

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// Precedence at start: the state file is restored first — everything as
// it was, API changes included —, then the config file is applied on top
// as a diff: what it declares is made true (created, or changed back if an
// API call changed it), and what it declared the last time but no longer
// does is removed. What it never declared (made through the API) is left
// alone. So the config file wins for what it names; to change one of its
// items for good, edit the file.

// ItemError is an item of a configuration that could not be applied.
type ItemError struct {
	Item string // "ports[2] (eth3.100)"
	Err  error
}

func (e *ItemError) Error() string { return e.Item + ": " + e.Err.Error() }
func (e *ItemError) Unwrap() error { return e.Err }

// RestoreState applies a state file's configuration as far as it goes:
// every item that can be restored is, in dependency order (FIBs, ports,
// addresses, static routes, static neighbours), and each one that cannot
// is logged and returned — one bad item never keeps the router down. A
// port whose interface is missing is restored down, with the reason, and
// comes up when the interface appears.
func (s *Server) RestoreState(c *Config) []error {
	var errs []error
	fail := func(item string, err error) {
		e := &ItemError{Item: item, Err: err}
		errs = append(errs, e)
		s.log.Warn("state item not restored", "item", item, "err", err)
	}
	for i, cf := range c.FIBs {
		if err := s.ensureFIB(cf, false); err != nil {
			fail(fmt.Sprintf("fibs[%d] (fib %d)", i, cf.ID), err)
		}
	}
	for i, cp := range c.Ports {
		if _, err := s.BindPort(cp.spec(), cp.FIB); err != nil && !errors.Is(err, ErrNotSaved) {
			fail(fmt.Sprintf("ports[%d] (%s)", i, cp.spec().Name()), err)
			continue
		}
		if err := s.applyPortSettings(cp); err != nil {
			fail(fmt.Sprintf("ports[%d] (%s) settings", i, cp.spec().Name()), err)
		}
	}
	for i, ca := range c.Addresses {
		if err := s.AddAddress(ca.Port, ca.Prefix); err != nil && !errors.Is(err, ErrNotSaved) {
			fail(fmt.Sprintf("addresses[%d] (%s on %s)", i, ca.Prefix, ca.Port), err)
		}
	}
	for i, cg := range orderGroups(slices.Clone(c.Groups)) {
		if err := s.applyConfigGroup(cg); err != nil {
			fail(groupItem(i, cg), err)
		}
	}
	for i, cr := range c.Routes {
		if err := s.applyConfigRoute(cr); err != nil {
			fail(fmt.Sprintf("routes[%d] (%s in fib %d)", i, cr.Prefix, cr.FIB), err)
		}
	}
	for i, cn := range c.Neighbors {
		if err := s.applyConfigNeighbor(cn); err != nil {
			fail(fmt.Sprintf("neighbors[%d] (%s on %s)", i, cn.Address, cn.Port), err)
		}
	}
	s.mu.Lock()
	s.mu.configFile = c.ConfigFile
	s.mu.Unlock()
	return errs
}

// ensureFIB creates a FIB or, if it exists, sets what cf declares;
// declared only (the config file) leaves undeclared settings alone, a
// state file's entry is the whole truth.
func (s *Server) ensureFIB(cf ConfigFIB, declaredOnly bool) error {
	set := cf.settings()
	if _, ok := s.reg.Get(cf.ID); !ok {
		return s.CreateFIB(cf.ID, set)
	}
	if !declaredOnly {
		// The state's settings replace whatever is there: fields it does
		// not set go back to the defaults.
		s.mu.Lock()
		old := s.mu.settings[cf.ID]
		s.mu.Unlock()
		set = resetTo(old, set)
	}
	if set.empty() {
		return nil
	}
	_, err := s.SetFIBSettings(cf.ID, set)
	if errors.Is(err, ErrNotSaved) {
		return nil
	}
	return err
}

// resetTo is the change that takes settings from old to want: want's
// fields, and zero (back to the default) for limits want does not set.
func resetTo(old, want FIBSettings) FIBSettings {
	zero := 0
	clear := func(o, w **int) {
		if *o != nil && *w == nil {
			*w = &zero
		}
	}
	clear(&old.Limits.Routes4, &want.Limits.Routes4)
	clear(&old.Limits.Routes6, &want.Limits.Routes6)
	clear(&old.Limits.PerSource, &want.Limits.PerSource)
	clear(&old.Limits.Neighbors, &want.Limits.Neighbors)
	clear(&old.Limits.WarnPercent, &want.Limits.WarnPercent)
	if old.Name != nil && want.Name == nil {
		empty := ""
		want.Name = &empty
	}
	if old.Host != nil && want.Host == nil {
		off := false
		want.Host = &off
	}
	return want
}

func (s *Server) applyConfigRoute(cr ConfigRoute) error {
	r, err := s.configRoute(cr)
	if err != nil {
		return err
	}
	_, err = s.AddRoute(cr.FIB, r)
	if errors.Is(err, ErrNotSaved) {
		return nil
	}
	return err
}

func (s *Server) applyConfigNeighbor(cn ConfigNeighbor) error {
	mac, err := adj.ParseMAC(cn.MAC)
	if err != nil {
		return &FieldError{Field: "mac", Value: cn.MAC, Err: err}
	}
	if k, err := s.neighborKey(cn.Port, cn.Address); err == nil {
		if n, ok := s.nb.Get(k); ok && n.Static {
			if n.MAC == mac {
				return nil
			}
			if err := s.DeleteNeighbor(cn.Port, cn.Address); err != nil && !errors.Is(err, ErrNotSaved) {
				return err
			}
		}
	}
	err = s.AddNeighbor(cn.Port, cn.Address, mac)
	if errors.Is(err, ErrNotSaved) {
		return nil
	}
	return err
}

// ApplyConfigFile makes the config file true for what it declares (see
// the precedence above): a diff against the configuration as it is, and
// against what the file declared when it was last applied. It returns
// each change it made, as text (also logged), and each item it could not
// apply; the rest applies regardless.
func (s *Server) ApplyConfigFile(c *Config) (changes []string, errs []error) {
	s.mu.Lock()
	prev := s.mu.configFile
	s.mu.Unlock()
	if prev == nil {
		prev = &Config{}
	}
	now := s.Snapshot()
	did := func(format string, args ...any) {
		m := fmt.Sprintf(format, args...)
		changes = append(changes, m)
		s.log.Info("config file: "+m, "source", "config file")
	}
	fail := func(item string, err error) {
		e := &ItemError{Item: item, Err: err}
		errs = append(errs, e)
		s.log.Warn("config file item not applied", "item", item, "err", err)
	}

	// What the file declares, in dependency order.
	explicit := func(id adj.FIBID) FIBSettings {
		s.mu.Lock()
		defer s.mu.Unlock()
		st, _ := s.savedSettingsLocked(id)
		return st
	}
	for i, cf := range c.FIBs {
		before := explicit(cf.ID)
		if err := s.ensureFIB(cf, true); err != nil {
			fail(fmt.Sprintf("fibs[%d] (fib %d)", i, cf.ID), err)
			continue
		}
		after := explicit(cf.ID)
		if _, existed := findFIB(now, cf.ID); !existed && cf.ID != adj.DefaultFIB {
			did("created fib %d", cf.ID)
		} else if d := before.diff(after); len(d) > 0 {
			did("fib %d: %v", cf.ID, d)
		}
	}
	for i, cp := range c.Ports {
		name := cp.spec().Name()
		old, ok := findPort(now, name)
		switch {
		case ok && old.FIB == cp.FIB:
		case ok:
			did("port %s moved from fib %d to fib %d", name, old.FIB, cp.FIB)
		default:
			did("port %s bound to fib %d", name, cp.FIB)
		}
		if !ok || old.FIB != cp.FIB {
			if _, err := s.BindPort(cp.spec(), cp.FIB); err != nil && !errors.Is(err, ErrNotSaved) {
				fail(fmt.Sprintf("ports[%d] (%s)", i, name), err)
				continue
			}
		}
		if old.PortSettings.normal() != cp.PortSettings.normal() {
			if err := s.applyPortSettings(cp); err != nil {
				fail(fmt.Sprintf("ports[%d] (%s) settings", i, name), err)
				continue
			}
			did("port %s settings: rpf %s, allow_source_route %v", name, cmp.Or(cp.RPF, RPFOff), cp.AllowSourceRoute)
		}
	}
	for i, ca := range c.Addresses {
		if hasAddress(now, ca) {
			continue
		}
		if err := s.AddAddress(ca.Port, ca.Prefix); err != nil && !errors.Is(err, ErrNotSaved) {
			fail(fmt.Sprintf("addresses[%d] (%s on %s)", i, ca.Prefix, ca.Port), err)
			continue
		}
		did("address %s added on %s", ca.Prefix, ca.Port)
	}
	for i, cg := range orderGroups(slices.Clone(c.Groups)) {
		if old, ok := findGroup(now, cg.FIB, cg.ID); ok && sameJSON(old, cg) {
			continue
		}
		if err := s.applyConfigGroup(cg); err != nil {
			fail(groupItem(i, cg), err)
			continue
		}
		did("next-hop group %d in fib %d set", cg.ID, cg.FIB)
	}
	for i, cr := range c.Routes {
		old, ok := findRoute(now, cr.FIB, cr.Prefix)
		if ok && sameJSON(old, cr) {
			continue
		}
		if err := s.applyConfigRoute(cr); err != nil {
			fail(fmt.Sprintf("routes[%d] (%s in fib %d)", i, cr.Prefix, cr.FIB), err)
			continue
		}
		if ok {
			did("static route %s in fib %d changed", cr.Prefix, cr.FIB)
		} else {
			did("static route %s added in fib %d", cr.Prefix, cr.FIB)
		}
	}
	for i, cn := range c.Neighbors {
		if old, ok := findNeighbor(now, cn.Port, cn.Address); ok && old.MAC == cn.MAC {
			continue
		}
		if err := s.applyConfigNeighbor(cn); err != nil {
			fail(fmt.Sprintf("neighbors[%d] (%s on %s)", i, cn.Address, cn.Port), err)
			continue
		}
		did("static neighbour %s on %s set to %s", cn.Address, cn.Port, cn.MAC)
	}

	// What it declared last time and no longer does, in reverse order.
	for _, cn := range prev.Neighbors {
		if _, still := findNeighbor(c, cn.Port, cn.Address); still {
			continue
		}
		if err := s.DeleteNeighbor(cn.Port, cn.Address); err != nil && !errors.Is(err, ErrNotSaved) {
			if !errors.Is(err, ErrNeighborNotFound) && !errors.Is(err, ErrPortNotFound) {
				fail(fmt.Sprintf("removed neighbour %s on %s", cn.Address, cn.Port), err)
			}
			continue
		}
		did("static neighbour %s on %s removed (no longer in the file)", cn.Address, cn.Port)
	}
	for _, cr := range prev.Routes {
		if _, still := findRoute(c, cr.FIB, cr.Prefix); still {
			continue
		}
		if _, err := s.DeleteRoute(cr.FIB, cr.Prefix, SourceStatic); err != nil && !errors.Is(err, ErrNotSaved) {
			if !errors.Is(err, fib.ErrNotFound) && !errors.Is(err, fib.ErrNoSuchFIB) {
				fail(fmt.Sprintf("removed static route %s in fib %d", cr.Prefix, cr.FIB), err)
			}
			continue
		}
		did("static route %s in fib %d removed (no longer in the file)", cr.Prefix, cr.FIB)
	}
	for _, cg := range slices.Backward(orderGroups(slices.Clone(prev.Groups))) {
		if _, still := findGroup(c, cg.FIB, cg.ID); still {
			continue
		}
		if _, err := s.DeleteGroup(cg.FIB, cg.ID, SourceStatic); err != nil && !errors.Is(err, ErrNotSaved) {
			if !errors.Is(err, fib.ErrNoSuchGroup) && !errors.Is(err, fib.ErrNoSuchFIB) {
				fail(fmt.Sprintf("removed next-hop group %d in fib %d", cg.ID, cg.FIB), err)
			}
			continue
		}
		did("next-hop group %d in fib %d deleted (no longer in the file)", cg.ID, cg.FIB)
	}
	for _, ca := range prev.Addresses {
		if hasAddress(c, ca) {
			continue
		}
		if err := s.DeleteAddress(ca.Port, ca.Prefix); err != nil && !errors.Is(err, ErrNotSaved) {
			if !errors.Is(err, fib.ErrNoSuchAddress) && !errors.Is(err, ErrPortNotFound) {
				fail(fmt.Sprintf("removed address %s on %s", ca.Prefix, ca.Port), err)
			}
			continue
		}
		did("address %s removed from %s (no longer in the file)", ca.Prefix, ca.Port)
	}
	for _, cp := range prev.Ports {
		name := cp.spec().Name()
		if _, still := findPort(c, name); still {
			continue
		}
		if err := s.UnbindPort(name); err != nil && !errors.Is(err, ErrNotSaved) {
			if !errors.Is(err, ErrPortNotFound) {
				fail(fmt.Sprintf("removed port %s", name), err)
			}
			continue
		}
		did("port %s unbound (no longer in the file)", name)
	}
	for _, cf := range prev.FIBs {
		if _, still := findFIB(c, cf.ID); still || cf.ID == adj.DefaultFIB {
			continue
		}
		if err := s.DeleteFIB(cf.ID); err != nil && !errors.Is(err, ErrNotSaved) {
			if !errors.Is(err, fib.ErrNoSuchFIB) {
				fail(fmt.Sprintf("removed fib %d", cf.ID), err)
			}
			continue
		}
		did("fib %d deleted (no longer in the file)", cf.ID)
	}
	s.mu.Lock()
	s.mu.configFile = c
	s.mu.Unlock()
	if err := s.saveState(); err != nil {
		errs = append(errs, err)
	}
	return changes, errs
}

func findFIB(c *Config, id adj.FIBID) (ConfigFIB, bool) {
	for _, f := range c.FIBs {
		if f.ID == id {
			return f, true
		}
	}
	return ConfigFIB{}, false
}

func findPort(c *Config, name string) (ConfigPort, bool) {
	for _, p := range c.Ports {
		if p.spec().Name() == name {
			return p, true
		}
	}
	return ConfigPort{}, false
}

func hasAddress(c *Config, a ConfigAddress) bool {
	for _, b := range c.Addresses {
		if b.Port == a.Port && b.Prefix == a.Prefix {
			return true
		}
	}
	return false
}

func findRoute(c *Config, id adj.FIBID, p netip.Prefix) (ConfigRoute, bool) {
	for _, r := range c.Routes {
		if r.FIB == id && r.Prefix == p {
			return r, true
		}
	}
	return ConfigRoute{}, false
}

func findNeighbor(c *Config, port string, a netip.Addr) (ConfigNeighbor, bool) {
	for _, n := range c.Neighbors {
		if n.Port == port && n.Address == a {
			return n, true
		}
	}
	return ConfigNeighbor{}, false
}

// sameJSON compares two configuration items as the state file writes them.
func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// applyPortSettings gives a port the settings a config item names
// (absent ones are the defaults).
func (s *Server) applyPortSettings(cp ConfigPort) error {
	if cur, ok := s.portSettings(cp.spec().Name()); ok && cur == cp.PortSettings.normal() {
		return nil
	}
	rpf, allow := cp.RPF, cp.AllowSourceRoute
	_, err := s.SetPortSettings(cp.spec().Name(), PortSettingsChange{RPF: &rpf, AllowSourceRoute: &allow})
	if errors.Is(err, ErrNotSaved) {
		return nil
	}
	return err
}

// portSettings returns the settings recorded for a port.
func (s *Server) portSettings(name string) (PortSettings, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.mu.byName[name]
	if !ok {
		return PortSettings{}, false
	}
	return s.mu.byID[id].settings, true
}
