package control_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/fibdpb"
)

// TestSetFibSettings: only the fields given change, the answer carries
// every effective value, a bad field is refused by name without changing
// anything, and the settings an admin made are what the state keeps.
func TestSetFibSettings(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	maxE, on := uint32(4096), true
	resp, err := e.c.SetFibSettings(e.ctx, &fibdpb.SetFibSettingsRequest{FibId: 10, Settings: &fibdpb.FibSettings{
		Neighbors: &fibdpb.NeighborSettings{MaxEntries: &maxE, ArpAccept: &on, GcStaleTime: durationpb.New(2 * time.Minute)}}})
	e.must(err)
	n := resp.GetSettings().GetNeighbors()
	if n.GetMaxEntries() != 4096 || !n.GetArpAccept() || n.GetGcStaleTime().AsDuration() != 2*time.Minute ||
		n.GetBaseReachableTime().AsDuration() != 30*time.Second || n.GetSolicitRate() != 200 {
		t.Fatalf("effective settings %v", n)
	}
	if got := e.nb.Settings(10); *got.MaxEntries != 4096 || !*got.ARPAccept {
		t.Fatalf("the neighbour table has %+v", got)
	}
	// A second call changes only what it names.
	rate := uint32(50)
	resp, err = e.c.SetFibSettings(e.ctx, &fibdpb.SetFibSettingsRequest{FibId: 10, Settings: &fibdpb.FibSettings{
		Neighbors: &fibdpb.NeighborSettings{SolicitRate: &rate}}})
	e.must(err)
	if n := resp.GetSettings().GetNeighbors(); n.GetMaxEntries() != 4096 || n.GetSolicitRate() != 50 {
		t.Fatalf("after the second change %v", n)
	}
	// ListFibs shows them.
	stream, err := e.c.ListFibs(e.ctx, &fibdpb.ListFibsRequest{FibId: u32(10)})
	e.must(err)
	lr, err := stream.Recv()
	e.must(err)
	if lr.GetFibs()[0].GetSettings().GetNeighbors().GetMaxEntries() != 4096 {
		t.Fatalf("ListFibs settings %v", lr.GetFibs()[0].GetSettings())
	}
	// The state keeps what was set, and only that.
	var fc control.ConfigFIB
	for _, f := range e.srv.Snapshot().FIBs {
		if f.ID == 10 {
			fc = f
		}
	}
	if fc.Neighbors == nil || *fc.Neighbors.MaxEntries != 4096 || *fc.Neighbors.SolicitRate != 50 || fc.Neighbors.BaseReachableTime != nil {
		t.Fatalf("state keeps %+v", fc.Neighbors)
	}
	// Refusals name the field and change nothing.
	zero := uint32(0)
	for _, bad := range []struct {
		s     *fibdpb.NeighborSettings
		field string
	}{
		{&fibdpb.NeighborSettings{MaxEntries: &zero}, "settings.neighbors.max_entries"},
		{&fibdpb.NeighborSettings{RetransTimer: durationpb.New(0)}, "settings.neighbors.retrans_timer"},
		{&fibdpb.NeighborSettings{GcStaleTime: durationpb.New(48 * time.Hour)}, "settings.neighbors.gc_stale_time"},
	} {
		before := e.fingerprint()
		_, err := e.c.SetFibSettings(e.ctx, &fibdpb.SetFibSettingsRequest{FibId: 10, Settings: &fibdpb.FibSettings{Neighbors: bad.s}})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), bad.field) {
			t.Errorf("%v: %v, want InvalidArgument naming %s", bad.s, err, bad.field)
		}
		if e.fingerprint() != before || *e.nb.Settings(10).MaxEntries != 4096 {
			t.Errorf("%v: a refused change changed something", bad.s)
		}
	}
	if _, err := e.c.SetFibSettings(e.ctx, &fibdpb.SetFibSettingsRequest{FibId: 99}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown FIB: %v", err)
	}
}
