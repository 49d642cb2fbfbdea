package control

import (
	"context"

	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib/adj"
)

func (g *GRPCService) AddRoute(_ context.Context, req *fibdpb.AddRouteRequest) (*fibdpb.AddRouteResponse, error) {
	id, r, err := g.routeFromPB(req.GetRoute(), true)
	if err != nil {
		return nil, toStatus(err)
	}
	res, err := g.s.AddRoute(id, r)
	se, err := applied(err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.AddRouteResponse{Epoch: g.s.Epoch(), FibVersion: res.Version, StateError: se, Unresolved: res.Unresolved > 0}, nil
}

func (g *GRPCService) ReplaceRoute(_ context.Context, req *fibdpb.ReplaceRouteRequest) (*fibdpb.ReplaceRouteResponse, error) {
	id, r, err := g.routeFromPB(req.GetRoute(), true)
	if err != nil {
		return nil, toStatus(err)
	}
	res, err := g.s.ReplaceRoute(id, r)
	se, err := applied(err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.ReplaceRouteResponse{Epoch: g.s.Epoch(), FibVersion: res.Version, StateError: se, Unresolved: res.Unresolved > 0}, nil
}

func (g *GRPCService) DeleteRoute(_ context.Context, req *fibdpb.DeleteRouteRequest) (*fibdpb.DeleteRouteResponse, error) {
	p, err := ParsePrefix("prefix", req.GetPrefix())
	if err == nil {
		err = checkSource("source", req.GetSource())
	}
	if err != nil {
		return nil, toStatus(err)
	}
	res, err := g.s.DeleteRoute(adj.FIBID(req.GetFibId()), p, req.GetSource())
	se, err := applied(err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.DeleteRouteResponse{Epoch: g.s.Epoch(), FibVersion: res.Version, StateError: se}, nil
}

// routeChunk is ListRoutes' chunk: routes are small and there can be
// millions.
const routeChunk = 1024

func (g *GRPCService) ListRoutes(req *fibdpb.ListRoutesRequest, stream fibdpb.FibdService_ListRoutesServer) error {
	flt := RouteFilter{FIB: optFIB(req.FibId), Source: req.GetSource(), BestOnly: req.GetBestOnly()}
	switch req.GetFamily() {
	case fibdpb.Family_FAMILY_IPV4:
		flt.Family = 4
	case fibdpb.Family_FAMILY_IPV6:
		flt.Family = 6
	}
	if req.GetPrefix() != "" {
		p, err := ParsePrefix("prefix", req.GetPrefix())
		if err != nil {
			return toStatus(err)
		}
		flt.Within = p
	}
	return list(routeChunk, func(yield func(*fibdpb.Route) bool) error {
		return g.s.Routes(flt, func(e RouteEntry) bool { return yield(g.routeToPB(e.FIB, e.RouteInfo)) })
	}, func(routes []*fibdpb.Route) error {
		return stream.Send(&fibdpb.ListRoutesResponse{Epoch: g.s.Epoch(), Routes: routes})
	})
}

func (g *GRPCService) LookupRoute(_ context.Context, req *fibdpb.LookupRouteRequest) (*fibdpb.LookupRouteResponse, error) {
	a, err := ParseAddr("address", req.GetAddress())
	if err != nil {
		return nil, toStatus(err)
	}
	res, err := g.s.Lookup(adj.FIBID(req.GetFibId()), a, req.GetFlowHash())
	if err != nil {
		return nil, toStatus(err)
	}
	out := &fibdpb.LookupRouteResponse{Epoch: g.s.Epoch(), Resolution: resolutionToPB(res.Result), EgressPort: g.s.PortName(res.Egress)}
	if res.NextHop.IsValid() {
		out.NextHop = res.NextHop.String()
	}
	for _, h := range res.Hops {
		hop := &fibdpb.LookupHop{FibId: uint32(h.FIB)}
		if h.Matched {
			hop.Route = g.routeToPB(h.FIB, h.Route)
		}
		out.Hops = append(out.Hops, hop)
	}
	if res.HasNeighbor {
		out.Neighbor = g.neighborToPB(res.Neighbor)
	}
	for _, m := range res.Members {
		out.Ecmp = append(out.Ecmp, &fibdpb.NextHop{Gateway: m.Gateway.String(), Port: g.s.PortName(m.Port)})
	}
	return out, nil
}

func (g *GRPCService) BeginResync(_ context.Context, req *fibdpb.BeginResyncRequest) (*fibdpb.BeginResyncResponse, error) {
	if err := g.s.BeginResync(adj.FIBID(req.GetFibId()), req.GetSource()); err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.BeginResyncResponse{Epoch: g.s.Epoch()}, nil
}

func (g *GRPCService) EndResync(_ context.Context, req *fibdpb.EndResyncRequest) (*fibdpb.EndResyncResponse, error) {
	n, err := g.s.EndResync(adj.FIBID(req.GetFibId()), req.GetSource())
	se, err := applied(err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.EndResyncResponse{Epoch: g.s.Epoch(), Removed: uint64(n), StateError: se}, nil
}
