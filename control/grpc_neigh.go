package control

import (
	"context"

	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib/adj"
)

func (g *GRPCService) AddNeighbor(_ context.Context, req *fibdpb.AddNeighborRequest) (*fibdpb.AddNeighborResponse, error) {
	a, err := ParseAddr("address", req.GetAddress())
	if err != nil {
		return nil, toStatus(err)
	}
	mac, err := adj.ParseMAC(req.GetMac())
	if err != nil {
		return nil, toStatus(&FieldError{Field: "mac", Value: req.GetMac(), Err: err})
	}
	se, err := applied(g.s.AddNeighbor(req.GetPort(), a, mac))
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.AddNeighborResponse{Epoch: g.s.Epoch(), StateError: se}, nil
}

func (g *GRPCService) DeleteNeighbor(_ context.Context, req *fibdpb.DeleteNeighborRequest) (*fibdpb.DeleteNeighborResponse, error) {
	a, err := ParseAddr("address", req.GetAddress())
	if err != nil {
		return nil, toStatus(err)
	}
	se, err := applied(g.s.DeleteNeighbor(req.GetPort(), a))
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.DeleteNeighborResponse{Epoch: g.s.Epoch(), StateError: se}, nil
}

func (g *GRPCService) ListNeighbors(req *fibdpb.ListNeighborsRequest, stream fibdpb.FibdService_ListNeighborsServer) error {
	return list(listChunk, func(yield func(*fibdpb.Neighbor) bool) error {
		return g.s.Neighbors(optFIB(req.FibId), req.GetPort(), func(n NeighborInfo) bool { return yield(g.neighborToPB(n)) })
	}, func(ns []*fibdpb.Neighbor) error {
		return stream.Send(&fibdpb.ListNeighborsResponse{Epoch: g.s.Epoch(), Neighbors: ns})
	})
}

var eventTypesPB = map[NeighborEventType]fibdpb.NeighborEventType{
	NeighborAdded:   fibdpb.NeighborEventType_NEIGHBOR_EVENT_TYPE_ADDED,
	NeighborChanged: fibdpb.NeighborEventType_NEIGHBOR_EVENT_TYPE_CHANGED,
	NeighborRemoved: fibdpb.NeighborEventType_NEIGHBOR_EVENT_TYPE_REMOVED,
}

func (g *GRPCService) WatchNeighbors(req *fibdpb.WatchNeighborsRequest, stream fibdpb.FibdService_WatchNeighborsServer) error {
	// Headers go out at once, so a client knows the watch is in place
	// before the first event.
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	err := g.s.WatchNeighbors(stream.Context(), optFIB(req.FibId), req.GetInitial(), func(evs []NeighborEvent) error {
		resp := &fibdpb.WatchNeighborsResponse{Epoch: g.s.Epoch(), Events: make([]*fibdpb.NeighborEvent, len(evs))}
		for i, ev := range evs {
			resp.Events[i] = &fibdpb.NeighborEvent{Type: eventTypesPB[ev.Type], Neighbor: g.neighborToPB(ev.Neighbor)}
		}
		return stream.Send(resp)
	})
	return toStatus(err)
}

func (g *GRPCService) GetStats(_ context.Context, req *fibdpb.GetStatsRequest) (*fibdpb.GetStatsResponse, error) {
	rep, err := g.s.Stats(optFIB(req.FibId))
	if err != nil {
		return nil, toStatus(err)
	}
	out := &fibdpb.GetStatsResponse{Epoch: g.s.Epoch()}
	if fp := rep.FastPath; fp != nil {
		out.FastPath = &fibdpb.FastPathStats{Interfaces: fp.Interfaces, Forwarded: fp.Forwarded, Punts: fp.Punts}
	}
	for _, p := range rep.Ports {
		out.Ports = append(out.Ports, &fibdpb.PortStats{Port: p.Name, FibId: uint32(p.FIB), Counters: countersToPB(p.Counters)})
	}
	for _, f := range rep.FIBs {
		out.Fibs = append(out.Fibs, &fibdpb.FibStats{FibId: uint32(f.FIB), Counters: countersToPB(f.Counters),
			RoutesV4: uint64(f.Routes4), RoutesV6: uint64(f.Routes6)})
	}
	for _, i := range rep.Interfaces {
		out.Interfaces = append(out.Interfaces, &fibdpb.InterfaceStats{Interface: i.Interface, UnknownVlan: i.UnknownVLAN,
			UnknownQinq: i.UnknownQinQ, LastTpid: uint32(i.LastTPID), LastVlan: uint32(i.LastVLAN),
			LastInnerVlan: uint32(i.LastInnerVLAN), RxErrors: i.RxErrors})
	}
	return out, nil
}
