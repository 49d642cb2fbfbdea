package control

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/fibd/fibd/fib/adj"
)

// AddressInfo is one interface address.
type AddressInfo struct {
	Port   string
	FIB    adj.FIBID
	Prefix netip.Prefix // the address and its subnet length
}

// AddAddress configures an interface address on a port (e.g.
// 192.0.2.1/24), installing its connected and local routes in the port's
// FIB (see fib.FIB.AddAddress).
func (s *Server) AddAddress(port string, a netip.Prefix) error {
	id, fibID, err := s.portFIB("port", port)
	if err != nil {
		return err
	}
	f, err := s.fib(fibID)
	if err != nil {
		return err
	}
	if err := f.AddAddress(id, a); err != nil {
		return err
	}
	// Neighbours that cached another MAC for this address (a replaced
	// router, a moved address) learn this one now.
	s.nb.Announce(adj.Key{FIB: fibID, Port: id, Addr: a.Addr()})
	s.log.Info("address added", "port", port, "address", a)
	return s.saveState()
}

// DeleteAddress removes an interface address and its routes.
func (s *Server) DeleteAddress(port string, a netip.Prefix) error {
	id, fibID, err := s.portFIB("port", port)
	if err != nil {
		return err
	}
	f, err := s.fib(fibID)
	if err != nil {
		return err
	}
	if err := f.DeleteAddress(id, a); err != nil {
		return err
	}
	s.log.Info("address deleted", "port", port, "address", a)
	return s.saveState()
}

// Addresses calls fn for the addresses of one port (port set) or of every
// port of the selected FIBs, by port name then in configuration order.
func (s *Server) Addresses(port string, fibID *adj.FIBID, fn func(AddressInfo) bool) error {
	var out []AddressInfo
	err := s.Ports(fibID, port, func(p PortDetail) bool {
		for _, a := range p.Addresses {
			out = append(out, AddressInfo{Port: p.Name, FIB: p.FIB, Prefix: a})
		}
		return true
	})
	if err != nil {
		return err
	}
	slices.SortStableFunc(out, func(a, b AddressInfo) int { return strings.Compare(a.Port, b.Port) })
	for _, a := range out {
		if !fn(a) {
			break
		}
	}
	return nil
}
