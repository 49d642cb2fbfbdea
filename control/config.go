package control

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// Config is fibd's configuration: what the config file declares and what
// the state file saves. It is JSON; addresses and prefixes are text.
//
//	{
//	  "fibs":      [{"id": 10, "limits": {"routes_v4": 1000000}}],
//	  "ports":     [{"interface": "eth1", "vlan": 100, "fib": 10}],
//	  "addresses": [{"port": "eth1.100", "prefix": "192.0.2.1/24"}],
//	  "routes":    [{"fib": 10, "prefix": "198.51.100.0/24",
//	                 "paths": [{"kind": "gateway", "gateway": "192.0.2.2"}]}],
//	  "neighbors": [{"port": "eth1.100", "address": "192.0.2.2", "mac": "02:00:00:00:00:02"}]
//	}
//
// Routes in a Config are static routes (source "static").
type Config struct {
	FIBs      []ConfigFIB      `json:"fibs,omitempty"`
	Ports     []ConfigPort     `json:"ports,omitempty"`
	Addresses []ConfigAddress  `json:"addresses,omitempty"`
	Routes    []ConfigRoute    `json:"routes,omitempty"`
	Neighbors []ConfigNeighbor `json:"neighbors,omitempty"`
}

// ConfigFIB is a FIB, its limits (absent: the daemon's defaults) and its
// neighbour-table settings (each absent field: the default).
type ConfigFIB struct {
	ID        adj.FIBID        `json:"id"`
	Limits    *ConfigLimits    `json:"limits,omitempty"`
	Neighbors *ConfigNeighbors `json:"neighbors,omitempty"`
}

// ConfigNeighbors are NeighborSettings in JSON; durations as Go durations
// ("30s", "1m").
type ConfigNeighbors struct {
	MaxEntries           *int      `json:"max_entries,omitempty"`
	ARPAccept            *bool     `json:"arp_accept,omitempty"`
	GCStaleTime          *Duration `json:"gc_stale_time,omitempty"`
	BaseReachableTime    *Duration `json:"base_reachable_time,omitempty"`
	DelayFirstProbeTime  *Duration `json:"delay_first_probe_time,omitempty"`
	RetransTimer         *Duration `json:"retrans_timer,omitempty"`
	SolicitRate          *int      `json:"solicit_rate,omitempty"`
	SolicitBurst         *int      `json:"solicit_burst,omitempty"`
	ReservedSolicitRate  *int      `json:"reserved_solicit_rate,omitempty"`
	ReservedSolicitBurst *int      `json:"reserved_solicit_burst,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as "30s".
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string like \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func durPtr(d *Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := time.Duration(*d)
	return &v
}

func configDur(d *time.Duration) *Duration {
	if d == nil {
		return nil
	}
	v := Duration(*d)
	return &v
}

func (c *ConfigNeighbors) settings() NeighborSettings {
	if c == nil {
		return NeighborSettings{}
	}
	return NeighborSettings{MaxEntries: c.MaxEntries, ARPAccept: c.ARPAccept, GCStaleTime: durPtr(c.GCStaleTime),
		BaseReachableTime: durPtr(c.BaseReachableTime), DelayFirstProbeTime: durPtr(c.DelayFirstProbeTime),
		RetransTimer: durPtr(c.RetransTimer), SolicitRate: c.SolicitRate, SolicitBurst: c.SolicitBurst,
		ReservedSolicitRate: c.ReservedSolicitRate, ReservedSolicitBurst: c.ReservedSolicitBurst}
}

func configNeighbors(n NeighborSettings) *ConfigNeighbors {
	if n.empty() {
		return nil
	}
	return &ConfigNeighbors{MaxEntries: n.MaxEntries, ARPAccept: n.ARPAccept, GCStaleTime: configDur(n.GCStaleTime),
		BaseReachableTime: configDur(n.BaseReachableTime), DelayFirstProbeTime: configDur(n.DelayFirstProbeTime),
		RetransTimer: configDur(n.RetransTimer), SolicitRate: n.SolicitRate, SolicitBurst: n.SolicitBurst,
		ReservedSolicitRate: n.ReservedSolicitRate, ReservedSolicitBurst: n.ReservedSolicitBurst}
}

// ConfigLimits are Limits in JSON.
type ConfigLimits struct {
	RoutesV4        int `json:"routes_v4,omitempty"`
	RoutesV6        int `json:"routes_v6,omitempty"`
	RoutesPerSource int `json:"routes_per_source,omitempty"`
	Neighbors       int `json:"neighbors,omitempty"`
}

// ConfigPort binds an interface (or one of its VLANs) to a FIB.
type ConfigPort struct {
	Interface string `json:"interface"`
	VLAN      uint16 `json:"vlan,omitempty"`
	// InnerVLAN makes a QinQ port: VLAN is the outer tag.
	InnerVLAN uint16 `json:"inner_vlan,omitempty"`
	// OuterTPID is the outer tag's TPID when not the default (0x8100 for
	// a VLAN port, 0x88a8 for QinQ).
	OuterTPID uint16    `json:"outer_tpid,omitempty"`
	FIB       adj.FIBID `json:"fib"`
}

func (c ConfigPort) spec() PortSpec {
	return PortSpec{Interface: c.Interface, VLAN: c.VLAN, Inner: c.InnerVLAN, OuterTPID: c.OuterTPID}
}

// ConfigAddress is an interface address on a port ("eth1.100").
type ConfigAddress struct {
	Port   string       `json:"port"`
	Prefix netip.Prefix `json:"prefix"`
}

// ConfigRoute is a static route.
type ConfigRoute struct {
	FIB        adj.FIBID    `json:"fib"`
	Prefix     netip.Prefix `json:"prefix"`
	Preference uint8        `json:"preference,omitempty"`
	Paths      []ConfigPath `json:"paths"`
}

// ConfigPath is a path: kind is "gateway", "attached", "blackhole",
// "unreachable", "prohibit", "local" or "lookup".
type ConfigPath struct {
	Kind    string     `json:"kind"`
	Gateway netip.Addr `json:"gateway,omitzero"`
	Port    string     `json:"port,omitempty"`
	FIB     adj.FIBID  `json:"fib,omitempty"`
	Weight  uint32     `json:"weight,omitempty"`
}

// ConfigNeighbor is a static neighbour.
type ConfigNeighbor struct {
	Port    string     `json:"port"`
	Address netip.Addr `json:"address"`
	MAC     string     `json:"mac"`
}

// ApplyConfig makes the configuration true, in dependency order: FIBs,
// ports, addresses, static routes, static neighbours. With ensure set
// (the config file at start), what already exists is left alone — a port
// already bound stays in its FIB, an existing static route keeps its
// paths — so changes made through the API survive a restart; without it
// (restoring the state file) every item must apply. It stops at the first
// error, naming the item.
func (s *Server) ApplyConfig(c *Config, ensure bool) error {
	for i, cf := range c.FIBs {
		var l Limits
		if cf.Limits != nil {
			l = Limits{Routes4: cf.Limits.RoutesV4, Routes6: cf.Limits.RoutesV6,
				PerSource: cf.Limits.RoutesPerSource, Neighbors: cf.Limits.Neighbors}
		}
		var err error
		if _, exists := s.reg.Get(cf.ID); exists {
			if !ensure || cf.ID == adj.DefaultFIB {
				err = s.SetLimits(cf.ID, l)
			}
		} else {
			err = s.CreateFIB(cf.ID, l)
		}
		if err != nil {
			return fmt.Errorf("fibs[%d] (fib %d): %w", i, cf.ID, err)
		}
		if n := cf.Neighbors.settings(); !n.empty() {
			if _, err := s.SetFIBSettings(cf.ID, FIBSettings{Neighbors: n}); err != nil {
				return fmt.Errorf("fibs[%d] (fib %d): %w", i, cf.ID, err)
			}
		}
	}
	for i, cp := range c.Ports {
		name := cp.spec().Name()
		if _, err := s.PortID(name); err == nil && ensure {
			continue
		}
		if _, err := s.BindPort(cp.spec(), cp.FIB); err != nil && !(ensure && errors.Is(err, ErrPortExists)) {
			return fmt.Errorf("ports[%d] (%s): %w", i, name, err)
		}
	}
	for i, ca := range c.Addresses {
		if err := s.AddAddress(ca.Port, ca.Prefix); err != nil && !(ensure && errors.Is(err, fib.ErrAddressExists)) {
			return fmt.Errorf("addresses[%d] (%s on %s): %w", i, ca.Prefix, ca.Port, err)
		}
	}
	for i, cr := range c.Routes {
		r, err := s.configRoute(cr)
		if err == nil {
			if f, ok := s.reg.Get(cr.FIB); ok && ensure {
				if _, exists := f.Get(cr.Prefix, SourceStatic); exists {
					continue
				}
			}
			_, err = s.AddRoute(cr.FIB, r)
		}
		if err != nil {
			return fmt.Errorf("routes[%d] (%s in fib %d): %w", i, cr.Prefix, cr.FIB, err)
		}
	}
	for i, cn := range c.Neighbors {
		mac, err := adj.ParseMAC(cn.MAC)
		if err == nil {
			if k, kerr := s.neighborKey(cn.Port, cn.Address); kerr == nil && ensure {
				if n, ok := s.nb.Get(k); ok && n.Static {
					continue
				}
			}
			err = s.AddNeighbor(cn.Port, cn.Address, mac)
		}
		if err != nil {
			return fmt.Errorf("neighbors[%d] (%s on %s): %w", i, cn.Address, cn.Port, err)
		}
	}
	return nil
}

func (s *Server) configRoute(cr ConfigRoute) (fib.Route, error) {
	r := fib.Route{Prefix: cr.Prefix, Source: SourceStatic, Preference: fib.Preference(cr.Preference)}
	if r.Preference == 0 {
		r.Preference = DefaultPreference(SourceStatic)
	}
	for j, cp := range cr.Paths {
		kind, ok := fib.ParsePathKind(cp.Kind)
		if !ok {
			return fib.Route{}, fieldErr(fmt.Sprintf("paths[%d].kind", j), cp.Kind, "unknown path kind")
		}
		p := fib.Path{Kind: kind, Gateway: cp.Gateway, FIB: cp.FIB, Weight: cp.Weight}
		if cp.Port != "" {
			id, err := s.PortID(cp.Port)
			if err != nil {
				return fib.Route{}, err
			}
			p.Port = id
		}
		r.Paths = append(r.Paths, p)
	}
	return r, nil
}

// Snapshot returns the configuration as it is now: every FIB (FIB 0 only
// when it has limits), port, address, static route and static neighbour,
// each sorted so that equal states give equal files.
func (s *Server) Snapshot() *Config {
	c := &Config{}
	for _, f := range s.reg.List() {
		in := s.fibInfo(f)
		cf := ConfigFIB{ID: f.ID()}
		if l := in.Limits; l != (Limits{}) {
			cf.Limits = &ConfigLimits{RoutesV4: l.Routes4, RoutesV6: l.Routes6, RoutesPerSource: l.PerSource, Neighbors: l.Neighbors}
		}
		s.mu.Lock()
		if st, ok := s.savedSettingsLocked(f.ID()); ok {
			cf.Neighbors = configNeighbors(st.Neighbors)
		}
		s.mu.Unlock()
		if f.ID() != adj.DefaultFIB || cf.Limits != nil || cf.Neighbors != nil {
			c.FIBs = append(c.FIBs, cf)
		}
		for p, list := range f.AllAddresses() {
			for _, a := range list {
				c.Addresses = append(c.Addresses, ConfigAddress{Port: s.PortName(p), Prefix: a})
			}
		}
		f.Routes(fib.Filter{Source: SourceStatic}, func(ri fib.RouteInfo) bool {
			cr := ConfigRoute{FIB: f.ID(), Prefix: ri.Prefix, Preference: uint8(ri.Preference)}
			if ri.Preference == DefaultPreference(SourceStatic) {
				cr.Preference = 0
			}
			for _, p := range ri.Paths {
				cp := ConfigPath{Kind: p.Kind.String(), Gateway: p.Gateway, FIB: p.FIB, Port: s.PortName(p.Port)}
				if p.Weight > 1 {
					cp.Weight = p.Weight
				}
				cr.Paths = append(cr.Paths, cp)
			}
			c.Routes = append(c.Routes, cr)
			return true
		})
		s.nb.List(f.ID(), func(n NeighborInfo) bool {
			if n.Static {
				c.Neighbors = append(c.Neighbors, ConfigNeighbor{Port: s.PortName(n.Key.Port), Address: n.Key.Addr, MAC: n.MAC.String()})
			}
			return true
		})
	}
	s.mu.Lock()
	for id, r := range s.mu.byID {
		if fid, ok := s.reg.PortFIB(id); ok {
			c.Ports = append(c.Ports, ConfigPort{Interface: r.spec.Interface, VLAN: r.spec.VLAN, InnerVLAN: r.spec.Inner,
				OuterTPID: r.spec.OuterTPID, FIB: fid})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(c.Ports, func(a, b ConfigPort) int {
		return cmp.Or(cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.VLAN, b.VLAN))
	})
	// Addresses keep their per-port order (the first is the port's primary
	// source address); ports are sorted.
	slices.SortStableFunc(c.Addresses, func(a, b ConfigAddress) int { return cmp.Compare(a.Port, b.Port) })
	slices.SortStableFunc(c.Neighbors, func(a, b ConfigNeighbor) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), a.Address.Compare(b.Address))
	})
	return c
}
