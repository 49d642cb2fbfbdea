package control

import (
	"cmp"
	"encoding/json"
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
	// Groups are next-hop groups (of the "static" source).
	Groups []ConfigGroup `json:"groups,omitempty"`
	// ConfigFile, in a state file only, is the config file as it was last
	// applied: what it declared then, so that what it no longer declares
	// is removed at the next start (ApplyConfigFile).
	ConfigFile *Config `json:"config_file,omitempty"`
}

// ConfigFIB is a FIB, its limits (absent: the daemon's defaults) and its
// neighbour-table settings (each absent field: the default).
type ConfigFIB struct {
	ID        adj.FIBID        `json:"id"`
	Name      string           `json:"name,omitempty"`
	Limits    *ConfigLimits    `json:"limits,omitempty"`
	Neighbors *ConfigNeighbors `json:"neighbors,omitempty"`
	// HostStack gives the FIB a host stack (fibctl fib set --host on).
	HostStack bool `json:"host_stack,omitempty"`
}

// settings are the FIB settings the entry declares (nil fields: not
// declared).
func (cf ConfigFIB) settings() FIBSettings {
	var set FIBSettings
	if cf.Name != "" {
		name := cf.Name
		set.Name = &name
	}
	if l := cf.Limits; l != nil {
		set.Limits = settingsOf(Limits{Routes4: l.RoutesV4, Routes6: l.RoutesV6, PerSource: l.RoutesPerSource, Neighbors: l.Neighbors})
		if l.WarnPercent != 0 {
			w := l.WarnPercent
			set.Limits.WarnPercent = &w
		}
	}
	set.Neighbors = cf.Neighbors.settings()
	if cf.HostStack {
		on := true
		set.Host = &on
	}
	return set
}

// configFIB is the ConfigFIB of the settings an admin set.
func configFIB(id adj.FIBID, set FIBSettings) ConfigFIB {
	cf := ConfigFIB{ID: id, Name: deref(set.Name), Neighbors: configNeighbors(set.Neighbors), HostStack: set.Host != nil && *set.Host}
	if l := set.Limits; l != (LimitSettings{}) {
		v := func(p *int) int {
			if p == nil {
				return 0
			}
			return *p
		}
		cf.Limits = &ConfigLimits{RoutesV4: v(l.Routes4), RoutesV6: v(l.Routes6), RoutesPerSource: v(l.PerSource),
			Neighbors: v(l.Neighbors), WarnPercent: v(l.WarnPercent)}
	}
	return cf
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
	// WarnPercent is how full a limit gets before fibd warns (1-100).
	WarnPercent int `json:"warn_percent,omitempty"`
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
	// The port's edge filters; absent is the default.
	PortSettings
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
	// Group is the next-hop group of kind "group".
	Group uint32 `json:"group,omitempty"`
}

// configPath is a path as the state file writes it.
func (s *Server) configPath(p fib.Path) ConfigPath {
	cp := ConfigPath{Kind: p.Kind.String(), Gateway: p.Gateway, FIB: p.FIB, Port: s.PortName(p.Port), Group: p.Group}
	if p.Weight > 1 {
		cp.Weight = p.Weight
	}
	return cp
}

// ConfigNeighbor is a static neighbour.
type ConfigNeighbor struct {
	Port    string     `json:"port"`
	Address netip.Addr `json:"address"`
	MAC     string     `json:"mac"`
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
		p := fib.Path{Kind: kind, Gateway: cp.Gateway, FIB: cp.FIB, Weight: cp.Weight, Group: cp.Group}
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
// when it has settings of its own) with the settings an admin set (never
// fibd's defaults, so a default changed later applies), port, address,
// static route and static neighbour, each sorted so that equal states
// give equal files; and the config file as last applied.
func (s *Server) Snapshot() *Config {
	c := &Config{}
	s.mu.Lock()
	c.ConfigFile = s.mu.configFile
	s.mu.Unlock()
	for _, f := range s.reg.List() {
		s.mu.Lock()
		st, _ := s.savedSettingsLocked(f.ID())
		s.mu.Unlock()
		if cf := configFIB(f.ID(), st); f.ID() != adj.DefaultFIB || !st.empty() {
			c.FIBs = append(c.FIBs, cf)
		}
		for p, list := range f.AllAddresses() {
			for _, a := range list {
				c.Addresses = append(c.Addresses, ConfigAddress{Port: s.PortName(p), Prefix: a})
			}
		}
		c.Groups = append(c.Groups, s.staticGroups(f)...)
		f.Routes(fib.Filter{Source: SourceStatic}, func(ri fib.RouteInfo) bool {
			cr := ConfigRoute{FIB: f.ID(), Prefix: ri.Prefix, Preference: uint8(ri.Preference)}
			if ri.Preference == DefaultPreference(SourceStatic) {
				cr.Preference = 0
			}
			for _, p := range ri.Paths {
				cr.Paths = append(cr.Paths, s.configPath(p))
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
				OuterTPID: r.spec.OuterTPID, FIB: fid, PortSettings: r.settings})
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
