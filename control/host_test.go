package control_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/fibdpb"
)

func hostOf(t *testing.T, e *env, id uint32) *fibdpb.FibHost {
	t.Helper()
	stream, err := e.c.ListFibs(e.ctx, &fibdpb.ListFibsRequest{FibId: u32(id)})
	e.must(err)
	r, err := stream.Recv()
	e.must(err)
	return r.GetFibs()[0].GetHost()
}

// TestHostStackSetting: --host on reaches the dataplane, shows in
// ListFibs and the effective settings, is saved and restored; a refusal
// from the dataplane changes nothing; off and FIB deletion remove it.
func TestHostStackSetting(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	on, off := true, false
	resp, err := e.c.SetFibSettings(e.ctx, &fibdpb.SetFibSettingsRequest{FibId: 10, Settings: &fibdpb.FibSettings{HostStack: &on}})
	e.must(err)
	if !resp.GetSettings().GetHostStack() {
		t.Fatal("effective settings say the host stack is off")
	}
	if h := hostOf(t, e, 10); h.GetNamespace() != "fibd-fib10" {
		t.Fatalf("ListFibs host %v", h)
	}
	rec := httptest.NewRecorder()
	e.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`fibd_host_stack_up{fib="10",netns="fibd-fib10"} 1`,
		`fibd_host_stack_packets_total{direction="punted",fib="10"} 0`} {
		if !strings.Contains(rec.Body.String(), want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	var saved bool
	for _, f := range e.srv.Snapshot().FIBs {
		saved = saved || f.ID == 10 && f.HostStack
	}
	if !saved {
		t.Fatalf("the state does not keep the host stack: %+v", e.srv.Snapshot().FIBs)
	}
	// Restored from that state into a fresh server: on again.
	e2 := newEnv(t, control.Limits{})
	if errs := e2.srv.RestoreState(e.srv.Snapshot()); len(errs) != 0 {
		t.Fatal(errs)
	}
	if hostOf(t, e2, 10) == nil {
		t.Fatal("the host stack was not restored")
	}

	// The dataplane refuses: the setting stays as it was, and says why.
	e.fibWithPort(20, "eth2", 0, "192.0.2.1/24")
	e.dp.SetHostError(errors.New("no /dev/net/tun"))
	_, err = e.c.SetFibSettings(e.ctx, &fibdpb.SetFibSettingsRequest{FibId: 20, Settings: &fibdpb.FibSettings{HostStack: &on}})
	if err == nil {
		t.Fatal("a failing host stack was reported on")
	}
	if got := err.Error(); !strings.Contains(got, "fib 20 host stack") || !strings.Contains(got, "no /dev/net/tun") {
		t.Fatalf("error %q", got)
	}
	if hostOf(t, e, 20) != nil {
		t.Fatal("fib 20 shows a host after the refusal")
	}
	e.dp.SetHostError(nil)

	_, err = e.c.SetFibSettings(e.ctx, &fibdpb.SetFibSettingsRequest{FibId: 10, Settings: &fibdpb.FibSettings{HostStack: &off}})
	e.must(err)
	if hostOf(t, e, 10) != nil || len(e.dp.Hosts()) != 0 {
		t.Fatal("the host stack is still on")
	}
	for _, f := range e.srv.Snapshot().FIBs {
		if f.HostStack {
			t.Fatalf("the state still keeps a host stack: %+v", f)
		}
	}
	// Deleting a FIB with a host stack removes it.
	e.must(e.srv.UnbindPort("eth2"))
	_, err = e.c.SetFibSettings(e.ctx, &fibdpb.SetFibSettingsRequest{FibId: 20, Settings: &fibdpb.FibSettings{HostStack: &on}})
	e.must(err)
	e.must(e.srv.DeleteFIB(20))
	if len(e.dp.Hosts()) != 0 {
		t.Fatalf("deleted FIB 20 kept its host stack: %v", e.dp.Hosts())
	}
}

// TestHostStackInConfigFile: "host_stack": true in a config file turns
// it on; an entry without it leaves a state's host stack alone.
func TestHostStackInConfigFile(t *testing.T) {
	e := newEnv(t, control.Limits{})
	_, errs := e.srv.ApplyConfigFile(&control.Config{FIBs: []control.ConfigFIB{{ID: 10, HostStack: true}}})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if hostOf(t, e, 10) == nil {
		t.Fatal("the config file's host stack is off")
	}
}
