package control_test

import (
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/controltest"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib"
)

// TestPortSettings: SetPortSettings changes only what it names, answers
// with the port, refuses a bad mode or an unknown port by field without a
// change, keeps the settings when the port moves, and the state saves and
// restores them.
func TestPortSettings(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	set := func(req *fibdpb.SetPortSettingsRequest) (*fibdpb.PortSettings, error) {
		resp, err := e.c.SetPortSettings(e.ctx, req)
		return resp.GetPort().GetSettings(), err
	}
	got, err := set(&fibdpb.SetPortSettingsRequest{Port: "eth1", Rpf: fibdpb.RPFMode_RPF_MODE_STRICT})
	e.must(err)
	if got.GetRpf() != fibdpb.RPFMode_RPF_MODE_STRICT || got.GetAllowSourceRoute() {
		t.Fatalf("after rpf strict: %v", got)
	}
	on := true
	got, err = set(&fibdpb.SetPortSettingsRequest{Port: "eth1", AllowSourceRoute: &on})
	e.must(err)
	if got.GetRpf() != fibdpb.RPFMode_RPF_MODE_STRICT || !got.GetAllowSourceRoute() {
		t.Fatalf("after allow_source_route alone, rpf must stay strict: %v", got)
	}
	for _, tc := range []struct {
		req   *fibdpb.SetPortSettingsRequest
		code  codes.Code
		field string
	}{
		{&fibdpb.SetPortSettingsRequest{Port: "eth1", Rpf: 9}, codes.InvalidArgument, "rpf"},
		{&fibdpb.SetPortSettingsRequest{Port: "eth9", Rpf: fibdpb.RPFMode_RPF_MODE_LOOSE}, codes.NotFound, "eth9"},
	} {
		_, err := set(tc.req)
		if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%v: %v, want %v naming %q", tc.req, err, tc.code, tc.field)
		}
	}
	// A move keeps them; ListPorts shows them.
	_, err = e.c.CreateFib(e.ctx, &fibdpb.CreateFibRequest{FibId: 20})
	e.must(err)
	_, err = e.c.BindPort(e.ctx, &fibdpb.BindPortRequest{Interface: "eth1", FibId: 20})
	e.must(err)
	ls, err := e.c.ListPorts(e.ctx, &fibdpb.ListPortsRequest{Port: "eth1"})
	e.must(err)
	lr, err := ls.Recv()
	e.must(err)
	if s := lr.GetPorts()[0].GetSettings(); s.GetRpf() != fibdpb.RPFMode_RPF_MODE_STRICT || !s.GetAllowSourceRoute() {
		t.Fatalf("after the move the port lists %v", s)
	}
	// Saved, and restored by a new fibd.
	saved := e.srv.Snapshot()
	if len(saved.Ports) != 1 || saved.Ports[0].RPF != "strict" || !saved.Ports[0].AllowSourceRoute {
		t.Fatalf("saved ports %+v", saved.Ports)
	}
	dp := controltest.NewDataplane("eth1")
	srv, err := control.New(control.Options{Registry: fib.NewRegistry(fib.Options{}), Dataplane: dp,
		Neighbors: controltest.NewNeighbors(), Logger: slog.New(slog.DiscardHandler)})
	e.must(err)
	if errs := srv.RestoreState(saved); len(errs) > 0 {
		t.Fatal(errs)
	}
	if ps := dp.Ports(); len(ps) != 1 || ps[0].Settings != (control.PortSettings{RPF: "strict", AllowSourceRoute: true}) {
		t.Fatalf("restored ports %+v", ps)
	}
}

// TestConfigFilePortSettings: the config file sets a port's filters, a
// changed mode is applied without rebinding the port (its addresses and
// routes stay), and a mode the file names wrongly is refused by item.
func TestConfigFilePortSettings(t *testing.T) {
	e := newEnv(t, control.Limits{})
	parse := func(js string) *control.Config {
		t.Helper()
		c, err := control.ParseConfigFile("fibd.json", []byte(js))
		e.must(err)
		return c
	}
	base := `{"fibs": [{"id": 10}], "addresses": [{"port": "eth1", "prefix": "192.0.2.1/24"}],
		"ports": [{"interface": "eth1", "fib": 10%s}]}`
	if _, errs := e.srv.ApplyConfigFile(parse(strings.ReplaceAll(base, "%s", `, "rpf": "loose"`))); len(errs) > 0 {
		t.Fatal(errs)
	}
	if ps := e.dp.Ports(); ps[0].Settings.RPF != "loose" {
		t.Fatalf("after the first file: %+v", ps[0].Settings)
	}
	changes, errs := e.srv.ApplyConfigFile(parse(strings.ReplaceAll(base, "%s", `, "rpf": "strict"`)))
	if len(errs) > 0 || strings.Join(changes, ";") != "port eth1 settings: rpf strict, allow_source_route false" {
		t.Fatalf("changing the mode: %v %v", changes, errs)
	}
	f10, _ := e.reg.Get(10)
	if v4, _ := f10.Counts(); v4 != 2 {
		t.Fatalf("the port's connected and local routes went with the settings change: %d routes", v4)
	}
	_, errs = e.srv.ApplyConfigFile(parse(strings.ReplaceAll(base, "%s", `, "rpf": "sideways"`)))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "ports[0]") || !strings.Contains(errs[0].Error(), "rpf") {
		t.Fatalf("a bad mode: %v", errs)
	}
	if ps := e.dp.Ports(); ps[0].Settings.RPF != "strict" {
		t.Fatalf("a refused mode changed the port: %+v", ps[0].Settings)
	}
}
