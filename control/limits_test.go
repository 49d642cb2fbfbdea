package control_test

import (
	"log/slog"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/controltest"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib"
)

func u64(v uint64) *uint64 { return &v }
func str(v string) *string { return &v }

// TestDefaultLimitsAreNotSaved: a FIB that never had a limit of its own
// follows fibd's default as it changes from one start to the next; one an
// admin set is kept.
func TestDefaultLimitsAreNotSaved(t *testing.T) {
	e := newEnv(t, control.Limits{Routes4: 100})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	_, err := e.c.CreateFib(e.ctx, &fibdpb.CreateFibRequest{FibId: 20, Limits: &fibdpb.Limits{RoutesV6: 7}})
	e.must(err)
	saved := e.srv.Snapshot()
	for _, cf := range saved.FIBs {
		if cf.ID == 10 && cf.Limits != nil {
			t.Fatalf("fib 10's default limits were saved: %+v", cf.Limits)
		}
		if cf.ID == 20 && (cf.Limits == nil || cf.Limits.RoutesV6 != 7 || cf.Limits.RoutesV4 != 0) {
			t.Fatalf("fib 20's own limit: %+v", cf.Limits)
		}
	}
	// fibd restarts with a raised default.
	reg := fib.NewRegistry(fib.Options{})
	srv, err := control.New(control.Options{Registry: reg, Dataplane: controltest.NewDataplane("eth1"),
		Neighbors: controltest.NewNeighbors(), Limits: control.Limits{Routes4: 500}, Logger: slog.New(slog.DiscardHandler)})
	e.must(err)
	if errs := srv.RestoreState(saved); len(errs) > 0 {
		t.Fatal(errs)
	}
	f10, _ := reg.Get(10)
	f20, _ := reg.Get(20)
	if f10.Limits().Routes4 != 500 || f20.Limits().Routes4 != 500 || f20.Limits().Routes6 != 7 {
		t.Fatalf("after the restart: fib 10 %+v, fib 20 %+v; want the new default 500 and fib 20's own 7", f10.Limits(), f20.Limits())
	}
}

// TestFibSettingsLimitsAndNames: limits and names through SetFibSettings:
// only what is given changes, 0 goes back to the default, names are
// unique and never numbers.
func TestFibSettingsLimitsAndNames(t *testing.T) {
	e := newEnv(t, control.Limits{Routes4: 100})
	_, err := e.c.CreateFib(e.ctx, &fibdpb.CreateFibRequest{FibId: 10, Name: "customer-a"})
	e.must(err)
	set := func(s *fibdpb.FibSettings) (*fibdpb.FibSettings, error) {
		resp, err := e.c.SetFibSettings(e.ctx, &fibdpb.SetFibSettingsRequest{FibId: 10, Settings: s})
		return resp.GetSettings(), err
	}
	got, err := set(&fibdpb.FibSettings{Limits: &fibdpb.FibLimits{RoutesV4: u64(2000), RoutesPerSource: u64(50)}})
	e.must(err)
	l := got.GetLimits()
	if l.GetRoutesV4() != 2000 || l.GetRoutesPerSource() != 50 || l.GetRoutesV6() != 0 || l.GetWarnPercent() != 75 || got.GetName() != "customer-a" {
		t.Fatalf("effective settings %v", got)
	}
	got, err = set(&fibdpb.FibSettings{Limits: &fibdpb.FibLimits{RoutesV4: u64(0)}, Name: str("cust-a")})
	e.must(err)
	if got.GetLimits().GetRoutesV4() != 100 || got.GetLimits().GetRoutesPerSource() != 50 || got.GetName() != "cust-a" {
		t.Fatalf("after resetting routes_v4 and renaming: %v", got)
	}
	if id, ok := e.srv.FIBByName("cust-a"); !ok || id != 10 {
		t.Fatalf("FIBByName(cust-a) = %d, %v", id, ok)
	}
	if _, ok := e.srv.FIBByName("customer-a"); ok {
		t.Fatal("the old name still resolves")
	}
	_, err = e.c.CreateFib(e.ctx, &fibdpb.CreateFibRequest{FibId: 20, Name: "cust-a"})
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("a second FIB named cust-a: %v, want AlreadyExists", err)
	}
	for _, bad := range []string{"10", "Customer", "-a", "a b", "a234567890123456789012345678901234"} {
		if _, err := set(&fibdpb.FibSettings{Name: str(bad)}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("name %q: %v, want InvalidArgument", bad, err)
		}
	}
	if _, err := set(&fibdpb.FibSettings{Limits: &fibdpb.FibLimits{WarnPercent: ptr32(101)}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("warn_percent 101: %v", err)
	}
	ls, err := e.c.ListFibs(e.ctx, &fibdpb.ListFibsRequest{FibId: u32(10)})
	e.must(err)
	resp, err := ls.Recv()
	e.must(err)
	if f := resp.GetFibs()[0]; f.GetName() != "cust-a" || f.GetLimits().GetRoutesPerSource() != 50 {
		t.Fatalf("listed %v", f)
	}
}

func ptr32(v uint32) *uint32 { return &v }

// TestLimitWarningsOncePerCrossing: reaching the warning threshold warns
// once; falling well under it re-arms the warning.
func TestLimitWarningsOncePerCrossing(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	_, err := e.c.SetFibSettings(e.ctx, &fibdpb.SetFibSettingsRequest{FibId: 10,
		Settings: &fibdpb.FibSettings{Limits: &fibdpb.FibLimits{RoutesV4: u64(100), WarnPercent: ptr32(80)}}})
	e.must(err)
	warnings := func() uint64 {
		var n uint64
		for w, c := range e.srv.LimitWarnings() {
			if w.FIB == 10 && w.Family == 4 && w.Source == "" {
				n += c
			}
		}
		return n
	}
	// connected + local are 2 routes; 78 more makes 80.
	for _, p := range nets(0, 78) {
		e.addRoute(10, p, "static", via("192.0.2.2"))
	}
	if n := warnings(); n != 1 {
		t.Fatalf("%d warnings at 80 of 100, want 1", n)
	}
	for _, p := range nets(78, 10) {
		e.addRoute(10, p, "static", via("192.0.2.2"))
	}
	if n := warnings(); n != 1 {
		t.Fatalf("%d warnings at 90 of 100, want still 1", n)
	}
	for _, p := range nets(0, 40) {
		_, err := e.c.DeleteRoute(e.ctx, &fibdpb.DeleteRouteRequest{FibId: 10, Prefix: p, Source: "static"})
		e.must(err)
	}
	for _, p := range nets(0, 40) {
		e.addRoute(10, p, "static", via("192.0.2.2"))
	}
	if n := warnings(); n != 2 {
		t.Fatalf("%d warnings after falling to 50 and rising to 90 again, want 2", n)
	}
}
