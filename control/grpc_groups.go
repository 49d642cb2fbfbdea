package control

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

func (g *GRPCService) SetNextHopGroup(_ context.Context, req *fibdpb.SetNextHopGroupRequest) (*fibdpb.SetNextHopGroupResponse, error) {
	pb := req.GetGroup()
	if pb == nil {
		return nil, toStatus(fieldErr("group", "", "missing"))
	}
	c, err := g.groupChange("group", &fibdpb.NextHopGroupOp{Op: fibdpb.GroupOpKind_GROUP_OP_KIND_SET, Id: pb.GetId(),
		Paths: pb.GetPaths(), BackupId: pb.GetBackupId()}, pb.GetSource())
	if err != nil {
		return nil, toStatus(err)
	}
	res, err := g.s.SetGroup(adj.FIBID(pb.GetFibId()), c.Group)
	se, err := applied(err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.SetNextHopGroupResponse{Epoch: g.s.Epoch(), FibVersion: res.Version, StateError: se}, nil
}

func (g *GRPCService) DeleteNextHopGroup(_ context.Context, req *fibdpb.DeleteNextHopGroupRequest) (*fibdpb.DeleteNextHopGroupResponse, error) {
	if req.GetId() == 0 {
		return nil, toStatus(fieldErr("id", "0", "group IDs start at 1"))
	}
	res, err := g.s.DeleteGroup(adj.FIBID(req.GetFibId()), req.GetId(), req.GetSource())
	se, err := applied(err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.DeleteNextHopGroupResponse{Epoch: g.s.Epoch(), FibVersion: res.Version, StateError: se}, nil
}

func (g *GRPCService) ListNextHopGroups(req *fibdpb.ListNextHopGroupsRequest, stream fibdpb.FibdService_ListNextHopGroupsServer) error {
	return list(listChunk, func(yield func(*fibdpb.NextHopGroup) bool) error {
		return g.s.Groups(optFIB(req.FibId), func(e GroupEntry) bool { return yield(g.groupToPB(e.FIB, e.GroupInfo)) })
	}, func(gs []*fibdpb.NextHopGroup) error {
		return stream.Send(&fibdpb.ListNextHopGroupsResponse{Epoch: g.s.Epoch(), Groups: gs})
	})
}

func (g *GRPCService) groupToPB(id adj.FIBID, gi fib.GroupInfo) *fibdpb.NextHopGroup {
	out := &fibdpb.NextHopGroup{FibId: uint32(id), Id: gi.ID, Source: gi.Source, BackupId: gi.Backup, Routes: uint64(gi.Routes)}
	for _, p := range gi.Paths {
		out.Paths = append(out.Paths, g.pathToPB(p))
	}
	if gi.Next != nil {
		out.Resolution = resolutionToPB(gi.Next.Kind.String())
		out.Resolved = g.resolvedToPB(gi.Next)
	}
	return out
}

// resolvedToPB lists the adjacencies an entry forwards to.
func (g *GRPCService) resolvedToPB(n *fib.Next) []*fibdpb.NextHop {
	var out []*fibdpb.NextHop
	for _, id := range n.Adjacencies() {
		k := g.s.reg.Adjacencies().Get(id).Key()
		out = append(out, &fibdpb.NextHop{Gateway: k.Addr.String(), Port: g.s.PortName(k.Port)})
	}
	return out
}

var eventTypes = map[fib.EventKind]fibdpb.RouteEventType{
	fib.EventAdded: fibdpb.RouteEventType_ROUTE_EVENT_TYPE_ADDED, fib.EventChanged: fibdpb.RouteEventType_ROUTE_EVENT_TYPE_CHANGED,
	fib.EventRemoved: fibdpb.RouteEventType_ROUTE_EVENT_TYPE_REMOVED, fib.EventNextHop: fibdpb.RouteEventType_ROUTE_EVENT_TYPE_NEXT_HOP,
	fib.EventGroupSet: fibdpb.RouteEventType_ROUTE_EVENT_TYPE_GROUP_SET, fib.EventGroupDeleted: fibdpb.RouteEventType_ROUTE_EVENT_TYPE_GROUP_DELETED,
	fib.EventFIBDeleted: fibdpb.RouteEventType_ROUTE_EVENT_TYPE_FIB_DELETED,
}

var eventCauses = map[fib.Cause]fibdpb.RouteEventCause{
	fib.CauseClient: fibdpb.RouteEventCause_ROUTE_EVENT_CAUSE_CLIENT, fib.CauseResync: fibdpb.RouteEventCause_ROUTE_EVENT_CAUSE_RESYNC,
	fib.CausePortPurge: fibdpb.RouteEventCause_ROUTE_EVENT_CAUSE_PORT_PURGE, fib.CauseFIBDeleted: fibdpb.RouteEventCause_ROUTE_EVENT_CAUSE_FIB_DELETED,
	fib.CauseResolution: fibdpb.RouteEventCause_ROUTE_EVENT_CAUSE_RESOLUTION,
}

func (g *GRPCService) eventToPB(e fib.Event) *fibdpb.RouteEvent {
	out := &fibdpb.RouteEvent{Type: eventTypes[e.Kind], Cause: eventCauses[e.Cause], FibId: uint32(e.FIB), FibVersion: e.Version}
	switch e.Kind {
	case fib.EventAdded, fib.EventChanged, fib.EventRemoved:
		out.Route = g.routeToPB(e.FIB, e.Route)
	case fib.EventGroupSet, fib.EventGroupDeleted:
		out.Group = g.groupToPB(e.FIB, e.Group)
	case fib.EventNextHop:
		for _, p := range e.Paths {
			out.Paths = append(out.Paths, g.pathToPB(p))
		}
		if e.Next != nil {
			out.Resolution = resolutionToPB(e.Next.Kind.String())
			out.Resolved = g.resolvedToPB(e.Next)
		}
	}
	return out
}

// watchBuffer is how many batches of events a WatchRoutes stream may be
// behind before it is ended (ResourceExhausted).
const watchBuffer = 1024

func (g *GRPCService) WatchRoutes(req *fibdpb.WatchRoutesRequest, stream fibdpb.FibdService_WatchRoutesServer) error {
	only := optFIB(req.FibId)
	if only != nil {
		if _, err := g.s.fib(*only); err != nil {
			return toStatus(err)
		}
	}
	source := req.GetSource()
	// Watching starts before the listing, so nothing falls between them:
	// a change during the listing comes after it as an event, which
	// carries the route's whole state.
	w := g.s.reg.Watch(only, watchBuffer)
	defer w.Close()
	g.s.counters.watchers.Add(1)
	defer g.s.counters.watchers.Add(-1)
	if req.GetInitial() {
		existing := fibdpb.RouteEventType_ROUTE_EVENT_TYPE_EXISTING
		err := list(routeChunk, func(yield func(*fibdpb.RouteEvent) bool) error {
			if err := g.s.Groups(only, func(e GroupEntry) bool {
				if source != "" && e.Source != source {
					return true
				}
				return yield(&fibdpb.RouteEvent{Type: existing, FibId: uint32(e.FIB), Group: g.groupToPB(e.FIB, e.GroupInfo)})
			}); err != nil {
				return err
			}
			return g.s.Routes(RouteFilter{FIB: only, Source: source}, func(e RouteEntry) bool {
				return yield(&fibdpb.RouteEvent{Type: existing, FibId: uint32(e.FIB), Route: g.routeToPB(e.FIB, e.RouteInfo)})
			})
		}, func(evs []*fibdpb.RouteEvent) error {
			return stream.Send(&fibdpb.WatchRoutesResponse{Epoch: g.s.Epoch(), Events: evs})
		})
		if err != nil {
			return err
		}
		if err := stream.Send(&fibdpb.WatchRoutesResponse{Epoch: g.s.Epoch(),
			Events: []*fibdpb.RouteEvent{{Type: fibdpb.RouteEventType_ROUTE_EVENT_TYPE_END_OF_INITIAL}}}); err != nil {
			return err
		}
	}
	ctx := stream.Context()
	for {
		select {
		case evs := <-w.C:
			out := make([]*fibdpb.RouteEvent, 0, len(evs))
			for _, e := range evs {
				if source != "" && (e.Route.Source != "" && e.Route.Source != source || e.Group.Source != "" && e.Group.Source != source) {
					continue
				}
				out = append(out, g.eventToPB(e))
			}
			for len(out) > 0 {
				n := min(len(out), routeChunk)
				if err := stream.Send(&fibdpb.WatchRoutesResponse{Epoch: g.s.Epoch(), Events: out[:n]}); err != nil {
					return err
				}
				out = out[n:]
			}
		case <-w.Done():
			if w.Lost() {
				g.s.counters.watchersDropped.Add(1)
				return status.Error(codes.ResourceExhausted, "route watcher fell behind and was dropped: list and watch again")
			}
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}
