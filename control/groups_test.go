package control_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/fibdpb"
)

func groupPath(id uint32) *fibdpb.Path {
	return &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_GROUP, GroupId: id}
}

func (e *env) nextHopOf(fib uint32, addr string) string {
	e.t.Helper()
	resp, err := e.c.LookupRoute(e.ctx, &fibdpb.LookupRouteRequest{FibId: fib, Address: addr})
	e.must(err)
	return resp.GetNextHop()
}

// TestNextHopGroupsOverTheAPI: unary group RPCs and groups inside a
// session's batches; replacing a group moves its routes; a group in use
// stays; static groups are saved.
func TestNextHopGroupsOverTheAPI(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	set := func(id uint32, gw string, backup uint32) {
		t.Helper()
		_, err := e.c.SetNextHopGroup(e.ctx, &fibdpb.SetNextHopGroupRequest{Group: &fibdpb.NextHopGroup{FibId: 10, Id: id,
			Source: "static", Paths: []*fibdpb.Path{via(gw)}, BackupId: backup}})
		e.must(err)
	}
	set(2, "192.0.2.9", 0)
	set(1, "192.0.2.2", 2)
	e.addRoute(10, "203.0.113.0/24", "static", groupPath(1))
	if got := e.nextHopOf(10, "203.0.113.7"); got != "192.0.2.2" {
		t.Fatalf("through group 1: %s", got)
	}
	set(1, "192.0.2.3", 2)
	if got := e.nextHopOf(10, "203.0.113.7"); got != "192.0.2.3" {
		t.Fatalf("after replacing group 1: %s", got)
	}
	ls, err := e.c.ListNextHopGroups(e.ctx, &fibdpb.ListNextHopGroupsRequest{FibId: u32(10)})
	e.must(err)
	resp, err := ls.Recv()
	e.must(err)
	if len(resp.GetGroups()) != 2 {
		t.Fatalf("groups %v", resp.GetGroups())
	}
	g1 := resp.GetGroups()[0]
	if g1.GetId() != 1 || g1.GetRoutes() != 1 || g1.GetBackupId() != 2 || g1.GetResolution() != fibdpb.Resolution_RESOLUTION_GATEWAY ||
		len(g1.GetResolved()) != 1 || g1.GetResolved()[0].GetGateway() != "192.0.2.3" || g1.GetResolved()[0].GetPort() != "eth1" {
		t.Fatalf("group 1 listed as %v", g1)
	}
	routes := e.routes(&fibdpb.ListRoutesRequest{FibId: u32(10), Prefix: "203.0.113.0/24"})
	if len(routes) != 1 || routes[0].GetPaths()[0].GetKind() != fibdpb.PathKind_PATH_KIND_GROUP || routes[0].GetPaths()[0].GetGroupId() != 1 {
		t.Fatalf("the route lists %v", routes)
	}
	_, err = e.c.DeleteNextHopGroup(e.ctx, &fibdpb.DeleteNextHopGroupRequest{FibId: 10, Id: 1, Source: "static"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("deleting a group in use: %v", err)
	}
	if c := e.srv.Snapshot(); len(c.Groups) != 2 || c.Groups[0].ID != 2 {
		t.Fatalf("static groups in the state, backups first: %+v", c.Groups)
	}

	// In a session: a group and its routes in one batch, then the routes
	// and the group gone in another.
	s, _ := e.session(params("bgp", 10))
	set10 := &fibdpb.NextHopGroupOp{Op: fibdpb.GroupOpKind_GROUP_OP_KIND_SET, Id: 10, Paths: []*fibdpb.Path{via("192.0.2.4")}}
	r := push(t, s, &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10, Groups: []*fibdpb.NextHopGroupOp{set10},
		Ops: []*fibdpb.RouteOp{{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_ADD, Prefix: "198.51.100.0/24", GroupId: 10}}})
	if !r.GetOk() || r.GetGroups() != 1 || r.GetAdded() != 1 {
		t.Fatalf("group and route in one batch: %v", r)
	}
	if got := e.nextHopOf(10, "198.51.100.1"); got != "192.0.2.4" {
		t.Fatalf("through the session's group: %s", got)
	}
	// A bad group op is named by its place.
	r = push(t, s, &fibdpb.ModifyRoutesRequest{Seq: 2, FibId: 10, Groups: []*fibdpb.NextHopGroupOp{
		{Op: fibdpb.GroupOpKind_GROUP_OP_KIND_SET, Id: 11, Paths: []*fibdpb.Path{via("192.0.2.5")}, BackupId: 77}}})
	if r.GetOk() || r.GetErrors()[0].GetField() != "groups[0]" || codes.Code(r.GetErrors()[0].GetCode()) != codes.NotFound {
		t.Fatalf("a group with a missing backup: %v", r)
	}
	r = push(t, s, &fibdpb.ModifyRoutesRequest{Seq: 3, FibId: 10,
		Groups: []*fibdpb.NextHopGroupOp{{Op: fibdpb.GroupOpKind_GROUP_OP_KIND_DELETE, Id: 10}},
		Ops:    []*fibdpb.RouteOp{{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_DELETE, Prefix: "198.51.100.0/24"}}})
	if !r.GetOk() || r.GetDeleted() != 1 || r.GetGroups() != 1 {
		t.Fatalf("the route, then its group, deleted in one batch: %v", r)
	}
	// The session's source owns its groups.
	_, err = e.c.SetNextHopGroup(e.ctx, &fibdpb.SetNextHopGroupRequest{Group: &fibdpb.NextHopGroup{FibId: 10, Id: 12,
		Source: "bgp", Paths: []*fibdpb.Path{via("192.0.2.6")}}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a unary group change of a session's source: %v", err)
	}
}

// TestWatchRoutes: the listing first, ended by a marker, then live events
// with their causes — including those fibd makes itself.
func TestWatchRoutes(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	e.addRoute(10, "203.0.113.0/24", "static", via("192.0.2.2"))
	w, err := e.c.WatchRoutes(e.ctx, &fibdpb.WatchRoutesRequest{FibId: u32(10), Initial: true})
	e.must(err)
	events := make(chan *fibdpb.RouteEvent, 64)
	go func() {
		for {
			resp, err := w.Recv()
			if err != nil {
				close(events)
				return
			}
			for _, ev := range resp.GetEvents() {
				events <- ev
			}
		}
	}()
	next := func() *fibdpb.RouteEvent {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the watch ended")
			}
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		return nil
	}
	var listed []string
	for {
		ev := next()
		if ev.GetType() == fibdpb.RouteEventType_ROUTE_EVENT_TYPE_END_OF_INITIAL {
			break
		}
		if ev.GetType() != fibdpb.RouteEventType_ROUTE_EVENT_TYPE_EXISTING {
			t.Fatalf("before the end of the listing: %v", ev)
		}
		listed = append(listed, ev.GetRoute().GetPrefix())
	}
	if len(listed) != 3 { // the static route, connected and local
		t.Fatalf("listing %v", listed)
	}
	e.addRoute(10, "198.51.100.0/24", "static", via("192.0.2.2"))
	if ev := next(); ev.GetType() != fibdpb.RouteEventType_ROUTE_EVENT_TYPE_ADDED || ev.GetCause() != fibdpb.RouteEventCause_ROUTE_EVENT_CAUSE_CLIENT ||
		ev.GetRoute().GetPrefix() != "198.51.100.0/24" || ev.GetFibVersion() == 0 {
		t.Fatalf("add: %v", ev)
	}
	_, err = e.c.UnbindPort(e.ctx, &fibdpb.UnbindPortRequest{Port: "eth1"})
	e.must(err)
	purged := 0
	for purged < 4 { // both static routes, connected and local
		ev := next()
		if ev.GetType() == fibdpb.RouteEventType_ROUTE_EVENT_TYPE_NEXT_HOP {
			continue // their gateway's subnet went first
		}
		if ev.GetType() != fibdpb.RouteEventType_ROUTE_EVENT_TYPE_REMOVED || ev.GetCause() != fibdpb.RouteEventCause_ROUTE_EVENT_CAUSE_PORT_PURGE {
			t.Fatalf("purge: %v", ev)
		}
		purged++
	}
	_, err = e.c.DeleteFib(e.ctx, &fibdpb.DeleteFibRequest{FibId: 10})
	e.must(err)
	if ev := next(); ev.GetType() != fibdpb.RouteEventType_ROUTE_EVENT_TYPE_FIB_DELETED {
		t.Fatalf("fib delete: %v", ev)
	}
}
