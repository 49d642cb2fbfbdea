package control

import (
	"net/netip"
	"runtime"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// MaxLeakHops bounds how many times a lookup may move to another FIB
// through lookup routes before it counts as a loop: the dataplane's bound.
const MaxLeakHops = fib.MaxLeakHops

// LookupHop is one FIB a lookup went through and the route it matched
// there (Matched false: none).
type LookupHop struct {
	FIB     adj.FIBID
	Matched bool
	Route   fib.RouteInfo
}

// Member is one ECMP member: a gateway on a port.
type Member struct {
	Gateway netip.Addr
	Port    adj.PortID
}

// LookupResult says where a packet to an address goes.
type LookupResult struct {
	Hops []LookupHop
	// Result is the forwarding entry's kind ("gateway", "attached",
	// "local", "blackhole", "unreachable", "prohibit", "unresolved",
	// "miss") or "loop".
	Result string
	// NextHop and Egress are where a "gateway" or "attached" packet goes
	// (the ECMP member for the flow hash), and Neighbor the neighbour entry
	// there, when HasNeighbor.
	NextHop     netip.Addr
	Egress      adj.PortID
	Neighbor    NeighborInfo
	HasNeighbor bool
	// Members lists an ECMP group's distinct members.
	Members []Member
}

// Lookup does the longest-prefix match that a packet to a, arriving on a
// port of FIB id, gets from the forwarding structure, following lookup
// routes into other FIBs; flowHash picks the ECMP member as the dataplane
// does (fib.Next.Pick).
func (s *Server) Lookup(id adj.FIBID, a netip.Addr, flowHash uint32) (LookupResult, error) {
	a = a.Unmap()
	if !a.IsValid() || a.Zone() != "" {
		return LookupResult{}, fieldErr("address", a.String(), "not an IP address")
	}
	var res LookupResult
	for range MaxLeakHops + 1 {
		f, err := s.fib(id)
		if err != nil {
			return LookupResult{}, err
		}
		n := f.Lookup(a)
		hop := LookupHop{FIB: id}
		hop.Route, hop.Matched = f.LookupRoute(a)
		res.Hops = append(res.Hops, hop)
		res.Result = n.Kind.String()
		switch n.Kind {
		case fib.NextLookup:
			id = n.FIB
			continue
		case fib.NextGateway:
			for _, m := range members(n) {
				k := s.reg.Adjacencies().Get(m).Key()
				res.Members = append(res.Members, Member{Gateway: k.Addr, Port: k.Port})
			}
			k := s.reg.Adjacencies().Get(n.Pick(flowHash)).Key()
			runtime.KeepAlive(n) // n holds the IDs read above from reuse
			res.NextHop, res.Egress = k.Addr, k.Port
			res.Neighbor, res.HasNeighbor = s.nb.Get(k)
		case fib.NextAttached:
			res.NextHop, res.Egress = a, n.Port
			res.Neighbor, res.HasNeighbor = s.nb.Get(adj.Key{FIB: id, Port: n.Port, Addr: a})
		case fib.NextLocal:
			res.Egress = n.Port
		}
		return res, nil
	}
	res.Result = "loop"
	return res, nil
}

// members lists the distinct adjacencies of a gateway entry, in path
// order.
func members(n *fib.Next) []adj.ID { return n.Adjacencies() }
