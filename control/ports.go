package control

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/fibd/fibd/dataplane/portspec"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// MaxVLAN is the highest usable 802.1Q VLAN ID; 0 and 4095 are reserved
// (IEEE 802.1Q, table 9-2).
const MaxVLAN = 4094

// maxIfname is IFNAMSIZ (16) less the terminating NUL.
const maxIfname = 15

// PortDetail is a port as listed: the dataplane's view plus its addresses.
type PortDetail struct {
	PortInfo
	Addresses []netip.Prefix
}

// CheckIfname validates an interface name the way Linux does (dev_valid_name).
func CheckIfname(field, name string) error {
	switch {
	case name == "":
		return fieldErr(field, name, "empty interface name")
	case len(name) > maxIfname:
		return fieldErr(field, name, "longer than %d bytes", maxIfname)
	case name == "." || name == "..":
		return fieldErr(field, name, "not an interface name")
	case strings.ContainsAny(name, "/: \t\n"):
		return fieldErr(field, name, "interface names cannot hold '/', ':' or blanks")
	}
	return nil
}

// CheckVLAN validates an 802.1Q VLAN ID given explicitly.
func CheckVLAN(field string, vlan uint32) error {
	if vlan == 0 || vlan > MaxVLAN {
		return fieldErr(field, fmt.Sprint(vlan), "VLAN ID must be in 1-%d (0 and 4095 are reserved)", MaxVLAN)
	}
	return nil
}

// CheckPortSpec validates a port spec, naming the field at fault:
// interface, vlan, inner_vlan or outer_tpid.
func CheckPortSpec(spec PortSpec) error {
	if err := CheckIfname("interface", spec.Interface); err != nil {
		return err
	}
	if spec.VLAN != 0 {
		if err := CheckVLAN("vlan", uint32(spec.VLAN)); err != nil {
			return err
		}
	}
	if spec.Inner != 0 {
		if spec.VLAN == 0 {
			return fieldErr("inner_vlan", fmt.Sprint(spec.Inner), "an inner VLAN needs an outer one (vlan)")
		}
		if err := CheckVLAN("inner_vlan", uint32(spec.Inner)); err != nil {
			return err
		}
	}
	switch {
	case spec.OuterTPID == 0:
	case spec.VLAN == 0:
		return fieldErr("outer_tpid", fmt.Sprintf("%#04x", spec.OuterTPID), "an untagged port has no TPID")
	case spec.OuterTPID != portspec.TPID8021Q && spec.OuterTPID != portspec.TPID8021AD:
		return fieldErr("outer_tpid", fmt.Sprintf("%#04x", spec.OuterTPID), "want 0x8100 (802.1Q) or 0x88a8 (802.1ad)")
	}
	return nil
}

// BindPort binds a port — an interface, its VLAN, or a QinQ (outer, inner)
// pair of it — to a FIB. A port bound to another FIB moves: its addresses,
// the routes through it and its static neighbours leave the old FIB.
// Binding a port to the FIB it is already in fails with ErrPortExists, as
// does a port whose name another port has (an interface named "eth1.100"
// and VLAN 100 of eth1). A port whose interface does not exist yet is
// bound, and down until it appears.
func (s *Server) BindPort(spec PortSpec, id adj.FIBID) (PortInfo, error) {
	if err := CheckPortSpec(spec); err != nil {
		return PortInfo{}, err
	}
	if _, err := s.fib(id); err != nil {
		return PortInfo{}, err
	}
	name := spec.Name()
	s.mu.Lock()
	oldID, had := s.mu.byName[name]
	var oldFIB adj.FIBID
	if had {
		rec := s.mu.byID[oldID]
		if o := rec.spec; o.Interface != spec.Interface || o.VLAN != spec.VLAN || o.Inner != spec.Inner {
			s.mu.Unlock()
			return PortInfo{}, fmt.Errorf("%w: the name %q is taken by the port of interface %q, vlan %d, inner vlan %d",
				ErrPortExists, name, o.Interface, o.VLAN, o.Inner)
		}
		if rec.spec.TPID() != spec.TPID() {
			s.mu.Unlock()
			return PortInfo{}, fieldErr("outer_tpid", fmt.Sprintf("%#04x", spec.TPID()),
				"port %s has outer TPID %#04x; unbind it to change it", name, rec.spec.TPID())
		}
		spec = rec.spec
		oldFIB, _ = s.reg.PortFIB(oldID)
		if oldFIB == id {
			s.mu.Unlock()
			return PortInfo{}, fmt.Errorf("%w: %s is bound to fib %d", ErrPortExists, name, id)
		}
	}
	info, err := s.dp.BindPort(spec, id)
	if err != nil {
		s.mu.Unlock()
		return PortInfo{}, fmt.Errorf("bind %s: %w", name, err)
	}
	if err := s.reg.BindPort(info.ID, id); err != nil {
		// Undo in the dataplane so the refusal changes nothing; an undo
		// that fails too is reported with it, never dropped.
		var undo error
		if had {
			_, undo = s.dp.BindPort(spec, oldFIB)
		} else {
			undo = s.dp.UnbindPort(info.ID)
		}
		s.mu.Unlock()
		if undo != nil {
			s.log.Error("undoing a refused port bind failed", "port", name, "err", undo)
			return PortInfo{}, errors.Join(err, fmt.Errorf("undoing the bind of %s: %w", name, undo))
		}
		return PortInfo{}, err
	}
	info.Name, info.Interface, info.VLAN, info.InnerVLAN, info.OuterTPID, info.FIB =
		name, spec.Interface, spec.VLAN, spec.Inner, spec.TPID(), id
	s.recordPortLocked(info)
	s.mu.Unlock()
	if had {
		s.dropStaticNeighbors(oldFIB, info.ID)
		s.log.Info("port moved", "port", name, "from_fib", oldFIB, "fib", id)
	} else {
		s.log.Info("port bound", "port", name, "fib", id, "port_id", info.ID, "state", info.State,
			"reason", info.StateReason)
	}
	return info, s.saveState()
}

func (s *Server) recordPortLocked(p PortInfo) {
	spec := p.Spec()
	def := spec
	def.OuterTPID = 0
	if spec.OuterTPID == def.TPID() {
		spec.OuterTPID = 0 // the default: recorded (and saved) as such
	}
	name := spec.Name()
	s.mu.byName[name] = p.ID
	// A port that moves keeps its settings (the dataplane's port does).
	s.mu.byID[p.ID] = portRec{name: name, spec: spec, settings: s.mu.byID[p.ID].settings}
}

// UnbindPort removes a port: its addresses and routes leave its FIB, its
// static neighbours are deleted and its packet I/O stops.
func (s *Server) UnbindPort(name string) error {
	s.mu.Lock()
	id, ok := s.mu.byName[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrPortNotFound, name)
	}
	fibID, bound := s.reg.PortFIB(id)
	if bound {
		if err := s.reg.UnbindPort(id); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	err := s.dp.UnbindPort(id)
	delete(s.mu.byName, name)
	delete(s.mu.byID, id)
	s.mu.Unlock()
	if bound {
		s.dropStaticNeighbors(fibID, id)
	}
	if err != nil && !errors.Is(err, ErrPortNotFound) {
		s.log.Warn("dataplane unbind failed", "port", name, "err", err)
	}
	s.log.Info("port unbound", "port", name)
	return s.saveState()
}

// dropStaticNeighbors deletes the static neighbours a port had in a FIB it
// left.
func (s *Server) dropStaticNeighbors(fibID adj.FIBID, p adj.PortID) {
	var keys []adj.Key
	s.nb.List(fibID, func(n NeighborInfo) bool {
		if n.Static && n.Key.Port == p {
			keys = append(keys, n.Key)
		}
		return true
	})
	for _, k := range keys {
		if err := s.nb.DeleteStatic(k); err != nil && !errors.Is(err, ErrNeighborNotFound) {
			s.log.Warn("deleting static neighbour of a removed port", "neighbor", k, "err", err)
		}
	}
}

// PortID returns the ID of the port with the admin's name.
func (s *Server) PortID(name string) (adj.PortID, error) {
	s.mu.Lock()
	id, ok := s.mu.byName[name]
	s.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrPortNotFound, name)
	}
	return id, nil
}

// PortName returns the admin's name of a port ID, or "port<N>" for an ID
// the Server does not know.
func (s *Server) PortName(id adj.PortID) string {
	if id == adj.NoPort {
		return ""
	}
	s.mu.Lock()
	r, ok := s.mu.byID[id]
	s.mu.Unlock()
	if !ok {
		return fmt.Sprintf("port%d", id)
	}
	return r.name
}

// portFIB returns the FIB a named port is bound to.
func (s *Server) portFIB(field, name string) (adj.PortID, adj.FIBID, error) {
	id, err := s.PortID(name)
	if err != nil {
		return 0, 0, err
	}
	f, ok := s.reg.PortFIB(id)
	if !ok {
		return 0, 0, fmt.Errorf("%w: %q", fib.ErrPortNotBound, name)
	}
	return id, f, nil
}

// Ports calls fn for the ports the filter selects (fibID nil: every FIB;
// name empty: every port), by name.
func (s *Server) Ports(fibID *adj.FIBID, name string, fn func(PortDetail) bool) error {
	if name != "" {
		if _, err := s.PortID(name); err != nil {
			return err
		}
	}
	ports := s.dp.Ports()
	slices.SortFunc(ports, func(a, b PortInfo) int {
		return strings.Compare(a.Spec().Name(), b.Spec().Name())
	})
	for _, p := range ports {
		p.Name = p.Spec().Name()
		if name != "" && p.Name != name {
			continue
		}
		if fid, ok := s.reg.PortFIB(p.ID); ok {
			p.FIB = fid
		}
		if fibID != nil && p.FIB != *fibID {
			continue
		}
		d := PortDetail{PortInfo: p}
		if f, ok := s.reg.Get(p.FIB); ok {
			d.Addresses = slices.Clone(f.Addresses(p.ID))
		}
		if !fn(d) {
			break
		}
	}
	return nil
}
