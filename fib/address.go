package fib

import (
	"encoding/binary"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/fibd/fibd/fib/adj"
)

// addrView is the published, immutable view of a FIB's interface
// addresses.
type addrView struct {
	byPort map[adj.PortID][]netip.Prefix
	// own holds every address of every port; bcast the directed broadcast
	// address of every connected IPv4 subnet of /30 or shorter. Both are
	// asked on the packet path (IsOwn, IsDirectedBroadcast), so a map, not
	// a walk over the ports.
	own, bcast map[netip.Addr]struct{}
	// ownBits and bcastBits are one-word filters over the maps (bit
	// addrBit(a) set for each member): most packets' sources and
	// destinations are ruled out with one load and a multiply, and only
	// a hit pays for the map.
	ownBits, bcastBits uint64
	// changed is closed when a newer view replaces this one
	// (AddressesChanged).
	changed chan struct{}
}

// addrBit is a's bit in an addrView filter word: a multiplicative hash of
// its low 64 bits (where hosts of one subnet differ), top 6 bits.
func addrBit(a netip.Addr) uint64 {
	var v uint64
	if a.Is4() {
		b := a.As4()
		v = uint64(binary.BigEndian.Uint32(b[:]))
	} else {
		b := a.As16()
		v = binary.BigEndian.Uint64(b[8:])
	}
	return 1 << ((v * 0x9e3779b97f4a7c15) >> 58)
}

// AddAddress configures an interface address on a port of this FIB, e.g.
// 192.0.2.1/24: it installs the connected route (192.0.2.0/24 attached to
// the port, source "connected") and the local route (192.0.2.1/32, source
// "local") in one batch. Link-local addresses (fe80::/10, 169.254/16) are
// scoped to their port and install no route: the router answers for them on
// that port only, and never forwards to link-local destinations.
func (f *FIB) AddAddress(p adj.PortID, a netip.Prefix) error {
	if err := checkAddress(a); err != nil {
		return err
	}
	a = netip.PrefixFrom(a.Addr().Unmap(), a.Bits()-unmapShift(a.Addr()))
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkPortLocked(p); err != nil {
		return err
	}
	for port, list := range f.mu.addrs {
		for _, have := range list {
			switch {
			case have.Addr() == a.Addr() && (port == p || !isLinkLocal(a.Addr())):
				return fmt.Errorf("%w: %v is already on port %d in FIB %d", ErrAddressExists, have.Addr(), port, f.id)
			case port != p && !isLinkLocal(a.Addr()) && have.Masked() == a.Masked() && a.Bits() < a.Addr().BitLen():
				return fmt.Errorf("%w: subnet %v is already connected on port %d in FIB %d",
					ErrAddressExists, a.Masked(), port, f.id)
			}
		}
	}
	if !isLinkLocal(a.Addr()) {
		var changes []Change
		if a.Bits() < a.Addr().BitLen() && !f.subnetOnPortLocked(p, a.Masked()) {
			changes = append(changes, Change{Op: OpAdd, Route: Route{
				Prefix: a.Masked(), Source: SourceConnected, Preference: PrefConnected,
				Paths: []Path{{Kind: PathAttached, Port: p}},
			}})
		}
		host := netip.PrefixFrom(a.Addr(), a.Addr().BitLen())
		changes = append(changes, Change{Op: OpAdd, Route: Route{
			Prefix: host, Source: SourceLocal, Preference: PrefConnected,
			Paths: []Path{{Kind: PathLocal, Port: p}},
		}})
		if _, err := f.applyLocked(changes); err != nil {
			return err
		}
	}
	if f.mu.addrs == nil {
		f.mu.addrs = map[adj.PortID][]netip.Prefix{}
	}
	f.mu.addrs[p] = append(slices.Clone(f.mu.addrs[p]), a)
	f.publishAddrsLocked()
	return nil
}

// DeleteAddress removes an interface address and its local route, and the
// connected route unless another address of the port is in the same subnet.
func (f *FIB) DeleteAddress(p adj.PortID, a netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deleteAddressLocked(p, a)
}

func (f *FIB) deleteAddressLocked(p adj.PortID, a netip.Prefix) error {
	a = netip.PrefixFrom(a.Addr().Unmap(), a.Bits()-unmapShift(a.Addr()))
	list := f.mu.addrs[p]
	i := slices.Index(list, a)
	if i < 0 {
		return fmt.Errorf("%w: %v on port %d in FIB %d", ErrNoSuchAddress, a, p, f.id)
	}
	rest := slices.Delete(slices.Clone(list), i, i+1)
	if !isLinkLocal(a.Addr()) {
		changes := []Change{{Op: OpDelete, Route: Route{
			Prefix: netip.PrefixFrom(a.Addr(), a.Addr().BitLen()), Source: SourceLocal,
		}}}
		shared := slices.ContainsFunc(rest, func(o netip.Prefix) bool { return o.Masked() == a.Masked() })
		if a.Bits() < a.Addr().BitLen() && !shared {
			changes = append(changes, Change{Op: OpDelete, Route: Route{Prefix: a.Masked(), Source: SourceConnected}})
		}
		if _, err := f.applyLocked(changes); err != nil {
			return err
		}
	}
	if len(rest) == 0 {
		delete(f.mu.addrs, p)
	} else {
		f.mu.addrs[p] = rest
	}
	f.publishAddrsLocked()
	return nil
}

func (f *FIB) subnetOnPortLocked(p adj.PortID, subnet netip.Prefix) bool {
	return slices.ContainsFunc(f.mu.addrs[p], func(o netip.Prefix) bool { return o.Masked() == subnet })
}

func (f *FIB) publishAddrsLocked() {
	v := &addrView{byPort: maps.Clone(f.mu.addrs), own: map[netip.Addr]struct{}{}, bcast: map[netip.Addr]struct{}{}, changed: make(chan struct{})}
	for _, list := range v.byPort {
		for _, a := range list {
			v.own[a.Addr()] = struct{}{}
			v.ownBits |= addrBit(a.Addr())
			if a.Addr().Is4() && a.Bits() <= 30 {
				v.bcast[lastAddr4(a)] = struct{}{}
				v.bcastBits |= addrBit(lastAddr4(a))
			}
		}
	}
	close(f.addrs.Swap(v).changed)
}

// AddressesChanged returns a channel closed the next time the FIB's
// addresses change: a host stack mirroring them (dataplane) waits on it,
// reads AllAddresses, and asks again.
func (f *FIB) AddressesChanged() <-chan struct{} { return f.addrs.Load().changed }

// lastAddr4 is the highest address of an IPv4 prefix: its directed
// broadcast address.
func lastAddr4(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// IsOwn reports whether a is one of the router's addresses in this FIB,
// on any port: a packet from it that arrives from outside is a martian
// (RFC 1812 §5.3.7). Lock-free.
func (f *FIB) IsOwn(a netip.Addr) bool {
	v := f.addrs.Load()
	if v.ownBits&addrBit(a) == 0 {
		return false
	}
	_, ok := v.own[a]
	return ok
}

// IsDirectedBroadcast reports whether a is the broadcast address of a
// connected IPv4 subnet of this FIB (/30 or shorter), which the router
// never forwards to (RFC 2644). Lock-free.
func (f *FIB) IsDirectedBroadcast(a netip.Addr) bool {
	v := f.addrs.Load()
	if v.bcastBits&addrBit(a) == 0 {
		return false
	}
	_, ok := v.bcast[a]
	return ok
}

// Addresses returns the addresses configured on a port, in the order they
// were added. Lock-free; the slice must not be modified.
func (f *FIB) Addresses(p adj.PortID) []netip.Prefix {
	return f.addrs.Load().byPort[p]
}

// AllAddresses returns a copy of every port's addresses.
func (f *FIB) AllAddresses() map[adj.PortID][]netip.Prefix {
	return maps.Clone(f.addrs.Load().byPort)
}

// IsLocal reports whether a is an address of port p (or, with p == 0, of
// any port of the FIB). Lock-free.
func (f *FIB) IsLocal(p adj.PortID, a netip.Addr) bool {
	v := f.addrs.Load()
	if p != adj.NoPort {
		return slices.ContainsFunc(v.byPort[p], func(o netip.Prefix) bool { return o.Addr() == a })
	}
	for _, list := range v.byPort {
		if slices.ContainsFunc(list, func(o netip.Prefix) bool { return o.Addr() == a }) {
			return true
		}
	}
	return false
}

// OnLink reports whether a is inside a subnet configured on port p. IPv6
// link-local addresses are on-link on every port. Lock-free.
func (f *FIB) OnLink(p adj.PortID, a netip.Addr) bool {
	if a.Is6() && a.IsLinkLocalUnicast() {
		return true
	}
	return slices.ContainsFunc(f.addrs.Load().byPort[p], func(o netip.Prefix) bool { return o.Contains(a) })
}

// SourceFor picks the router's address to use towards dst from port p: an
// address of p whose subnet holds dst, else p's first address of dst's
// family (its link-local one for a link-local dst), else any address of the
// FIB in that family. This is the source of ICMP errors and of ARP/ND
// solicitations. Lock-free.
func (f *FIB) SourceFor(p adj.PortID, dst netip.Addr) (netip.Addr, bool) {
	v := f.addrs.Load()
	var first, ll netip.Addr
	for _, o := range v.byPort[p] {
		a := o.Addr()
		if a.Is4() != dst.Is4() {
			continue
		}
		if isLinkLocal(a) {
			if !ll.IsValid() {
				ll = a
			}
			continue
		}
		if o.Contains(dst) {
			return a, true
		}
		if !first.IsValid() {
			first = a
		}
	}
	if isLinkLocal(dst) && ll.IsValid() {
		return ll, true
	}
	if first.IsValid() {
		return first, true
	}
	if ll.IsValid() && dst.Is6() {
		return ll, true
	}
	var best netip.Addr
	var bestPort adj.PortID
	for port, list := range v.byPort {
		for _, o := range list {
			if a := o.Addr(); a.Is4() == dst.Is4() && !isLinkLocal(a) {
				// The lowest port's first address, so the choice does not
				// depend on map order.
				if !best.IsValid() || port < bestPort {
					best, bestPort = a, port
				}
				break
			}
		}
	}
	return best, best.IsValid()
}

func isLinkLocal(a netip.Addr) bool { return a.IsLinkLocalUnicast() }

func unmapShift(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

func checkAddress(a netip.Prefix) error {
	if !a.IsValid() {
		return fmt.Errorf("%w: %v", ErrAddressInvalid, a)
	}
	ip := a.Addr().Unmap()
	switch {
	case a.Addr().Zone() != "":
		return fmt.Errorf("%w: %v has a zone", ErrAddressInvalid, a)
	case ip.IsUnspecified(), ip.IsMulticast(), ip.IsLoopback():
		return fmt.Errorf("%w: %v is not a unicast interface address", ErrAddressInvalid, a)
	case a.Addr().Is4In6() && a.Bits() < 96:
		return fmt.Errorf("%w: %v", ErrAddressInvalid, a)
	}
	if ip.Is4() {
		pp := netip.PrefixFrom(ip, a.Bits()-unmapShift(a.Addr()))
		if pp.Bits() < 31 && (ip == pp.Masked().Addr() || ip == lastAddr(pp)) {
			return fmt.Errorf("%w: %v is the network or broadcast address of its subnet", ErrAddressInvalid, a)
		}
	}
	return nil
}

// lastAddr returns the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
