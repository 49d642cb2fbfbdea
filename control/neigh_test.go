package control_test

import (
	"context"
	"testing"
	"time"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/fibdpb"
)

func TestWatchNeighborsStreamsChanges(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	e.fibWithPort(20, "eth2", 0, "198.51.100.1/24")
	_, err := e.c.AddNeighbor(e.ctx, &fibdpb.AddNeighborRequest{Port: "eth1", Address: "192.0.2.2", Mac: "02:00:00:00:00:02"})
	e.must(err)
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	stream, err := e.c.WatchNeighbors(ctx, &fibdpb.WatchNeighborsRequest{FibId: u32(10), Initial: true})
	e.must(err)
	// The header arrives once the watch is in place.
	if _, err := stream.Header(); err != nil {
		t.Fatal(err)
	}
	next := func() *fibdpb.NeighborEvent {
		t.Helper()
		resp, err := stream.Recv()
		e.must(err)
		if len(resp.GetEvents()) != 1 || resp.GetEpoch() != e.srv.Epoch() {
			t.Fatalf("want one event, got %v", resp)
		}
		return resp.GetEvents()[0]
	}
	if ev := next(); ev.GetType() != fibdpb.NeighborEventType_NEIGHBOR_EVENT_TYPE_ADDED || ev.GetNeighbor().GetAddress() != "192.0.2.2" || !ev.GetNeighbor().GetStatic() {
		t.Fatalf("initial event %v", ev)
	}
	e.nb.Learn(adjKey(e, 20, "eth2", "198.51.100.9"), [6]byte{2, 0, 0, 0, 0, 9}, "reachable") // other FIB: filtered
	e.nb.Learn(adjKey(e, 10, "eth1", "192.0.2.3"), [6]byte{2, 0, 0, 0, 0, 3}, "reachable")
	if ev := next(); ev.GetType() != fibdpb.NeighborEventType_NEIGHBOR_EVENT_TYPE_ADDED || ev.GetNeighbor().GetAddress() != "192.0.2.3" ||
		ev.GetNeighbor().GetPort() != "eth1" || ev.GetNeighbor().GetMac() != "02:00:00:00:00:03" || ev.GetNeighbor().GetNudState() != fibdpb.NeighborState_NEIGHBOR_STATE_REACHABLE {
		t.Fatalf("learned event %v", ev)
	}
	e.nb.Learn(adjKey(e, 10, "eth1", "192.0.2.3"), [6]byte{2, 0, 0, 0, 0, 3}, "stale")
	if ev := next(); ev.GetType() != fibdpb.NeighborEventType_NEIGHBOR_EVENT_TYPE_CHANGED || ev.GetNeighbor().GetNudState() != fibdpb.NeighborState_NEIGHBOR_STATE_STALE {
		t.Fatalf("change event %v", ev)
	}
	_, err = e.c.DeleteNeighbor(e.ctx, &fibdpb.DeleteNeighborRequest{Port: "eth1", Address: "192.0.2.2"})
	e.must(err)
	if ev := next(); ev.GetType() != fibdpb.NeighborEventType_NEIGHBOR_EVENT_TYPE_REMOVED || ev.GetNeighbor().GetAddress() != "192.0.2.2" {
		t.Fatalf("removal event %v", ev)
	}
}

func TestSlowNeighborWatcherIsDroppedNotBuffered(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	got := make(chan error, 1)
	go func() {
		got <- e.srv.WatchNeighbors(ctx, nil, false, func([]control.NeighborEvent) error {
			<-ctx.Done() // never keeps up
			return ctx.Err()
		})
	}()
	time.Sleep(50 * time.Millisecond)
	k := adjKey(e, 10, "eth1", "192.0.2.3")
	for i := range control.WatchBuffer + 10 {
		e.nb.Learn(k, [6]byte{2, 0, 0, 0, byte(i >> 8), byte(i)}, "reachable")
	}
	cancel()
	if err := <-got; err == nil {
		t.Fatal("watcher survived")
	}
}

func TestUnbindPortDropsItsStaticNeighborsAndRoutes(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	e.addRoute(10, "198.51.100.0/24", "static", via("192.0.2.2"))
	_, err := e.c.AddNeighbor(e.ctx, &fibdpb.AddNeighborRequest{Port: "eth1", Address: "192.0.2.2", Mac: "02:00:00:00:00:02"})
	e.must(err)
	_, err = e.c.UnbindPort(e.ctx, &fibdpb.UnbindPortRequest{Port: "eth1"})
	e.must(err)
	if n := len(e.routes(&fibdpb.ListRoutesRequest{FibId: u32(10)})); n != 0 {
		t.Fatalf("%d routes left in fib 10", n)
	}
	stream, err := e.c.ListNeighbors(e.ctx, &fibdpb.ListNeighborsRequest{})
	e.must(err)
	if resp, err := stream.Recv(); err == nil {
		t.Fatalf("neighbours left: %v", resp)
	}
	// And the FIB can go now.
	_, err = e.c.DeleteFib(e.ctx, &fibdpb.DeleteFibRequest{FibId: 10})
	e.must(err)
}
