package main

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/fib/adj"
)

// noneDataplane records ports and moves no packets: fibd as a route server
// or a FIB-only instance. Binding still checks that the interface exists,
// so a configuration that works here works with a real backend.
type noneDataplane struct {
	mu struct {
		sync.Mutex
		ports map[adj.PortID]control.PortInfo
		next  adj.PortID
		hosts map[adj.FIBID]bool
	}
}

func newNoneDataplane() *noneDataplane {
	d := &noneDataplane{}
	d.mu.ports = map[adj.PortID]control.PortInfo{}
	return d
}

func (d *noneDataplane) Backend() string { return "none" }

// A port whose interface does not exist is bound, down with the reason,
// as the engine does.
func (d *noneDataplane) BindPort(spec control.PortSpec, fib adj.FIBID) (control.PortInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, p := range d.mu.ports {
		if p.Name == spec.Name() {
			p.FIB = fib
			d.mu.ports[id] = p
			return refresh(p), nil
		}
	}
	d.mu.next++
	p := control.PortInfo{ID: d.mu.next, Name: spec.Name(), Interface: spec.Interface, VLAN: spec.VLAN,
		InnerVLAN: spec.Inner, OuterTPID: spec.TPID(), FIB: fib, Backend: "none"}
	d.mu.ports[p.ID] = p
	return refresh(p), nil
}

// refresh fills in the interface's current index, MAC, MTU and state.
func refresh(p control.PortInfo) control.PortInfo {
	in, err := net.InterfaceByName(p.Interface)
	if err != nil {
		p.State, p.StateReason = "down", "interface missing"
		return p
	}
	p.StateReason = ""
	p.Ifindex, p.MTU = in.Index, in.MTU
	if len(in.HardwareAddr) == 6 {
		p.MAC = adj.MAC(in.HardwareAddr)
	}
	p.State, p.StateReason = "down", "link down"
	if in.Flags&net.FlagRunning != 0 {
		p.State, p.StateReason = "up", ""
	}
	return p
}

func (d *noneDataplane) UnbindPort(id adj.PortID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.mu.ports[id]; !ok {
		return fmt.Errorf("%w: id %d", control.ErrPortNotFound, id)
	}
	delete(d.mu.ports, id)
	return nil
}

// SetPortSettings records the settings: no packet is filtered here, but
// they show, are saved, and apply when the same state runs with a backend.
func (d *noneDataplane) SetPortSettings(id adj.PortID, s control.PortSettings) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.mu.ports[id]
	if !ok {
		return fmt.Errorf("%w: id %d", control.ErrPortNotFound, id)
	}
	p.Settings = control.PortSettings{RPF: cmp.Or(s.RPF, control.RPFOff), AllowSourceRoute: s.AllowSourceRoute}
	d.mu.ports[id] = p
	return nil
}

func (d *noneDataplane) Ports() []control.PortInfo {
	d.mu.Lock()
	ports := make([]control.PortInfo, 0, len(d.mu.ports))
	for _, id := range slices.Sorted(maps.Keys(d.mu.ports)) {
		ports = append(ports, d.mu.ports[id])
	}
	d.mu.Unlock()
	for i := range ports {
		ports[i] = refresh(ports[i])
	}
	return ports
}

// Stats reports zero counters for every port: no packet moves.
func (d *noneDataplane) Stats() control.Stats {
	var st control.Stats
	for _, p := range d.Ports() {
		st.Ports = append(st.Ports, control.PortStats{Port: p.ID, Name: p.Name, FIB: p.FIB})
	}
	return st
}

// SetHost records the host stack: it starts when the same state runs
// with a packet backend.
func (d *noneDataplane) SetHost(id adj.FIBID, on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.hosts == nil {
		d.mu.hosts = map[adj.FIBID]bool{}
	}
	if on {
		d.mu.hosts[id] = true
	} else {
		delete(d.mu.hosts, id)
	}
	return nil
}

func (d *noneDataplane) Hosts() []control.HostInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []control.HostInfo
	for _, id := range slices.Sorted(maps.Keys(d.mu.hosts)) {
		out = append(out, control.HostInfo{FIB: id, Error: "no packet I/O (--io none): the host stack starts with a packet backend"})
	}
	return out
}
