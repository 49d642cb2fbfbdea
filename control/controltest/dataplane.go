// Package controltest provides in-memory fakes of the interfaces package
// control consumes (Dataplane, Neighbors), for tests of the control plane
// without root, interfaces or packets.
package controltest

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/fib/adj"
)

// Dataplane is a fake control.Dataplane: a fixed set of interfaces that
// exist, ports recorded on bind, and counters a test sets. Safe for
// concurrent use.
type Dataplane struct {
	mu struct {
		sync.Mutex
		ifaces map[string]Interface
		ports  map[adj.PortID]*control.PortInfo
		next   adj.PortID
		// fibCounters are the per-FIB counters Stats reports.
		fibCounters map[adj.FIBID]control.Counters
		hosts       map[adj.FIBID]bool
		hostErr     error
	}
}

// Interface is an interface the fake pretends exists.
type Interface struct {
	Ifindex int
	MAC     adj.MAC
	MTU     int
}

// NewDataplane returns a fake whose existing interfaces are the given
// names, with made-up indexes and MACs and MTU 1500.
func NewDataplane(ifnames ...string) *Dataplane {
	d := &Dataplane{}
	d.mu.ifaces = map[string]Interface{}
	d.mu.ports = map[adj.PortID]*control.PortInfo{}
	d.mu.fibCounters = map[adj.FIBID]control.Counters{}
	for i, n := range ifnames {
		d.mu.ifaces[n] = Interface{Ifindex: 2 + i, MAC: adj.MAC{0x02, 0, 0, 0, 0, byte(1 + i)}, MTU: 1500}
	}
	return d
}

// Backend implements control.Dataplane.
func (d *Dataplane) Backend() string { return "fake" }

// BindPort implements control.Dataplane.
// Like the engine, it binds a port whose interface does not exist: down,
// with the reason "interface missing".
func (d *Dataplane) BindPort(spec control.PortSpec, fib adj.FIBID) (control.PortInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.mu.ports {
		if p.Name == spec.Name() {
			p.FIB = fib
			return *p, nil
		}
	}
	d.mu.next++
	p := &control.PortInfo{ID: d.mu.next, Name: spec.Name(), Interface: spec.Interface, VLAN: spec.VLAN,
		InnerVLAN: spec.Inner, OuterTPID: spec.TPID(), FIB: fib, State: "down", StateReason: "interface missing",
		Backend: "fake"}
	if in, ok := d.mu.ifaces[spec.Interface]; ok {
		// Two RX workers, as an interface with two queues has.
		p.Ifindex, p.MAC, p.MTU, p.State, p.StateReason, p.RxWorkers = in.Ifindex, in.MAC, in.MTU, "up", "", 2
	}
	d.mu.ports[p.ID] = p
	return *p, nil
}

// SetPortSettings implements control.Dataplane.
func (d *Dataplane) SetPortSettings(id adj.PortID, s control.PortSettings) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.mu.ports[id]
	if !ok {
		return fmt.Errorf("%w: %d", control.ErrPortNotFound, id)
	}
	if s.RPF == "" {
		s.RPF = control.RPFOff
	}
	p.Settings = s
	return nil
}

// UnbindPort implements control.Dataplane.
func (d *Dataplane) UnbindPort(id adj.PortID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.mu.ports[id]; !ok {
		return fmt.Errorf("%w: id %d", control.ErrPortNotFound, id)
	}
	delete(d.mu.ports, id)
	return nil
}

// Ports implements control.Dataplane.
func (d *Dataplane) Ports() []control.PortInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []control.PortInfo
	for _, id := range slices.Sorted(maps.Keys(d.mu.ports)) {
		out = append(out, *d.mu.ports[id])
	}
	return out
}

// Stats implements control.Dataplane.
func (d *Dataplane) Stats() control.Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	var st control.Stats
	for _, id := range slices.Sorted(maps.Keys(d.mu.ports)) {
		p := d.mu.ports[id]
		st.Ports = append(st.Ports, control.PortStats{Port: p.ID, Name: p.Name, FIB: p.FIB, Counters: p.Counters})
	}
	for _, id := range slices.Sorted(maps.Keys(d.mu.fibCounters)) {
		st.FIBs = append(st.FIBs, control.FIBStats{FIB: id, Counters: d.mu.fibCounters[id]})
	}
	return st
}

// SetCounters sets a port's counters (by port name).
func (d *Dataplane) SetCounters(name string, c control.Counters) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.mu.ports {
		if p.Name == name {
			p.Counters = c
		}
	}
}

// SetFIBCounters sets the counters Stats reports for a FIB.
func (d *Dataplane) SetFIBCounters(id adj.FIBID, c control.Counters) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mu.fibCounters[id] = c
}

// AddInterface makes an interface exist.
func (d *Dataplane) AddInterface(name string, in Interface) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mu.ifaces[name] = in
}

var _ control.Dataplane = (*Dataplane)(nil)

// SetHost implements control.Dataplane: it records the host stack, which
// moves no packets here; SetHostError makes it fail.
func (d *Dataplane) SetHost(id adj.FIBID, on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.hostErr != nil {
		return d.mu.hostErr
	}
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

// SetHostError makes SetHost fail with err (nil: succeed again).
func (d *Dataplane) SetHostError(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mu.hostErr = err
}

// Hosts implements control.Dataplane.
func (d *Dataplane) Hosts() []control.HostInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []control.HostInfo
	for _, id := range slices.Sorted(maps.Keys(d.mu.hosts)) {
		out = append(out, control.HostInfo{FIB: id, Namespace: fmt.Sprintf("fibd-fib%d", id), Device: fmt.Sprintf("fib%d", id)})
	}
	return out
}
