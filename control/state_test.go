package control_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/controltest"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// configure builds a configuration with every kind of item through the
// API.
func configure(e *env) {
	e.t.Helper()
	_, err := e.c.CreateFib(e.ctx, &fibdpb.CreateFibRequest{FibId: 10, Limits: &fibdpb.Limits{RoutesV4: 1000, Neighbors: 5}})
	e.must(err)
	_, err = e.c.BindPort(e.ctx, &fibdpb.BindPortRequest{Interface: "eth1", Vlan: u32(100), FibId: 10})
	e.must(err)
	e.fibWithPort(20, "eth2", 0, "198.51.100.1/24")
	// QinQ, with the default and with an 802.1Q outer TPID, and a port
	// whose interface does not exist (yet): all saved and restored.
	_, err = e.c.BindPort(e.ctx, &fibdpb.BindPortRequest{Interface: "eth3", Vlan: u32(100), InnerVlan: u32(200), FibId: 10})
	e.must(err)
	_, err = e.c.BindPort(e.ctx, &fibdpb.BindPortRequest{Interface: "eth3", Vlan: u32(300), InnerVlan: u32(5), OuterTpid: u32(0x8100), FibId: 20})
	e.must(err)
	_, err = e.c.BindPort(e.ctx, &fibdpb.BindPortRequest{Interface: "eth9", FibId: 20})
	e.must(err)
	for _, a := range []string{"192.0.2.1/24", "2001:db8::1/64", "192.0.2.129/25"} {
		_, err = e.c.AddAddress(e.ctx, &fibdpb.AddAddressRequest{Port: "eth1.100", Prefix: a})
		e.must(err)
	}
	e.addRoute(10, "203.0.113.0/24", "static", via("192.0.2.2"), &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: "192.0.2.3", Port: "eth1.100", Weight: 3})
	e.addRoute(10, "198.18.0.0/15", "static", &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_BLACKHOLE})
	e.addRoute(10, "0.0.0.0/0", "static", &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_LOOKUP, FibId: 20})
	e.addRoute(10, "2001:db8:1::/48", "static", via("2001:db8::2"))
	_, err = e.c.AddRoute(e.ctx, &fibdpb.AddRouteRequest{Route: &fibdpb.Route{FibId: 20, Prefix: "203.0.113.0/25", Source: "static", Preference: 7,
		Paths: []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_ATTACHED, Port: "eth2"}}}})
	e.must(err)
	e.addRoute(10, "198.51.100.0/24", "bgp", via("192.0.2.2")) // a daemon's: not saved
	_, err = e.c.AddNeighbor(e.ctx, &fibdpb.AddNeighborRequest{Port: "eth1.100", Address: "192.0.2.2", Mac: "02:00:00:00:00:02"})
	e.must(err)
	e.nb.Learn(adjKey(e, 10, "eth1.100", "192.0.2.3"), [6]byte{2, 0, 0, 0, 0, 3}, "reachable") // learned: not saved
}

func TestStateRoundTrip(t *testing.T) {
	e := newEnv(t, control.Limits{})
	path := filepath.Join(t.TempDir(), "state.json")
	e.must(e.srv.EnableState(path))
	configure(e)
	want := e.srv.Snapshot()

	got, err := control.LoadState(path)
	e.must(err)
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if !bytes.Equal(wj, gj) {
		t.Fatalf("saved state differs from the live configuration:\nlive  %s\nsaved %s", wj, gj)
	}
	if strings.Contains(string(gj), "198.51.100.0/24") || strings.Contains(string(gj), "192.0.2.3\",\"mac") {
		t.Fatalf("daemon route or learned neighbour saved: %s", gj)
	}
	if len(got.Routes) != 5 || len(got.Neighbors) != 1 || len(got.Ports) != 5 || len(got.Addresses) != 4 {
		t.Fatalf("saved %d routes, %d neighbours, %d ports, %d addresses", len(got.Routes), len(got.Neighbors), len(got.Ports), len(got.Addresses))
	}
	fi, err := os.Stat(path)
	e.must(err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("temporary files left beside the state file: %v", ents)
	}

	// A fresh fibd restores the same configuration, in a working order.
	reg := fib.NewRegistry(fib.Options{})
	srv, err := control.New(control.Options{Registry: reg, Dataplane: controltest.NewDataplane("eth1", "eth2", "eth3"),
		Neighbors: controltest.NewNeighbors(), Logger: slog.New(slog.DiscardHandler)})
	e.must(err)
	if errs := srv.RestoreState(got); len(errs) > 0 {
		t.Fatalf("restore: %v", errs)
	}
	rj, _ := json.Marshal(srv.Snapshot())
	if !bytes.Equal(rj, wj) {
		t.Fatalf("restored configuration differs:\nwant %s\ngot  %s", wj, rj)
	}
	f, _ := reg.Get(10)
	if ri, ok := f.Get(mustPrefix("203.0.113.0/24"), "static"); !ok || len(ri.Paths) != 2 || ri.Next.Kind != fib.NextGateway {
		t.Fatalf("restored ECMP route: %+v %v", ri, ok)
	}
	ports := map[string]control.PortInfo{}
	e.must(srv.Ports(nil, "", func(p control.PortDetail) bool { ports[p.Name] = p.PortInfo; return true }))
	if p := ports["eth3.300.5"]; p.VLAN != 300 || p.InnerVLAN != 5 || p.OuterTPID != 0x8100 || p.FIB != 20 {
		t.Fatalf("restored QinQ port: %+v", p)
	}
	if p := ports["eth3.100.200"]; p.OuterTPID != 0x88a8 || p.FIB != 10 {
		t.Fatalf("restored QinQ port with the default TPID: %+v", p)
	}
	if p := ports["eth9"]; p.State != "down" || p.StateReason != "interface missing" {
		t.Fatalf("restored port of a missing interface: %+v", p)
	}
}

func TestStateSavesDeletionsToo(t *testing.T) {
	e := newEnv(t, control.Limits{})
	path := filepath.Join(t.TempDir(), "state.json")
	e.must(e.srv.EnableState(path))
	configure(e)
	_, err := e.c.DeleteRoute(e.ctx, &fibdpb.DeleteRouteRequest{FibId: 10, Prefix: "198.18.0.0/15", Source: "static"})
	e.must(err)
	_, err = e.c.UnbindPort(e.ctx, &fibdpb.UnbindPortRequest{Port: "eth2"})
	e.must(err)
	got, err := control.LoadState(path)
	e.must(err)
	b, _ := json.Marshal(got)
	for _, gone := range []string{"198.18.0.0/15", `"eth2"`, "198.51.100.1/24", "203.0.113.0/25"} {
		if strings.Contains(string(b), gone) {
			t.Errorf("state still holds %s: %s", gone, b)
		}
	}
}

func TestCorruptStateFileIsReportedAndLeftAlone(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"truncated", "{\n  \"format\": \"fibd-state\",\n  \"version\": 1,\n  \"fibs\": [\n", "unexpected EOF"},
		{"garbage", "{\n  \"format\": \"fibd-state\",\n  \"version\": 1,\n  \"fibs\": [{\"id\": x}]\n}\n", "line 4"},
		{"wrong type", `{"format":"fibd-state","version":1,"fibs":[{"id":"ten"}]}`, "line 1"},
		{"bad prefix", `{"format":"fibd-state","version":1,"addresses":[{"port":"eth1","prefix":"192.0.2.1"}]}`, "192.0.2.1"},
		{"unknown field", `{"format":"fibd-state","version":1,"fibz":[]}`, "fibz"},
		{"not ours", `{"fibs":[]}`, "format"},
		{"future version", `{"format":"fibd-state","version":2}`, "version 2"},
		{"trailing data", `{"format":"fibd-state","version":1} {}`, "after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".json")
			e := os.WriteFile(path, []byte(tc.content), 0o600)
			if e != nil {
				t.Fatal(e)
			}
			_, err := control.LoadState(path)
			if !errors.Is(err, control.ErrStateCorrupt) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("LoadState: %v; want ErrStateCorrupt naming the file and %q", err, tc.want)
			}
			if b, _ := os.ReadFile(path); string(b) != tc.content {
				t.Fatal("the corrupt file was changed")
			}
		})
	}
	if c, err := control.LoadState(filepath.Join(dir, "missing.json")); c != nil || err != nil {
		t.Fatalf("missing file: %v %v, want nothing (first start)", c, err)
	}
}

// TestConfigFileIsDeclarative: the config file wins for what it names —
// a changed gateway changes the route, even one the API changed since; an
// item it no longer names is removed; what it never named (made through
// the API) stays; each change is reported.
func TestConfigFileIsDeclarative(t *testing.T) {
	e := newEnv(t, control.Limits{})
	parse := func(js string) *control.Config {
		t.Helper()
		c, err := control.ParseConfigFile("fibd.json", []byte(js))
		e.must(err)
		return c
	}
	first := parse(`{
		"fibs": [{"id": 10, "name": "customer-a"}, {"id": 20}, {"id": 30}],
		"ports": [{"interface": "eth1", "fib": 10}, {"interface": "eth2", "fib": 20}, {"interface": "eth3", "fib": 30}],
		"addresses": [{"port": "eth1", "prefix": "192.0.2.1/24"}, {"port": "eth3", "prefix": "192.0.2.1/24"}],
		"routes": [{"fib": 10, "prefix": "203.0.113.0/24", "paths": [{"kind": "gateway", "gateway": "192.0.2.2"}]},
		           {"fib": 30, "prefix": "198.51.100.0/24", "paths": [{"kind": "gateway", "gateway": "192.0.2.7"}]}],
		"neighbors": [{"port": "eth1", "address": "192.0.2.2", "mac": "02:00:00:00:00:02"}]
	}`)
	if _, errs := e.srv.ApplyConfigFile(first); len(errs) > 0 {
		t.Fatal(errs)
	}
	// Through the API: a route of its own, a change to a route the file
	// names, and a port moved.
	e.addRoute(10, "198.18.0.0/24", "static", via("192.0.2.9"))
	e.addRoute(10, "203.0.113.0/24", "static", via("192.0.2.9"))
	_, err := e.c.BindPort(e.ctx, &fibdpb.BindPortRequest{Interface: "eth2", FibId: 10})
	e.must(err)

	second := parse(`{
		"fibs": [{"id": 10, "name": "customer-a", "limits": {"routes_v4": 5000}}, {"id": 20}],
		"ports": [{"interface": "eth1", "fib": 10}, {"interface": "eth2", "fib": 20}],
		"addresses": [{"port": "eth1", "prefix": "192.0.2.1/24"}],
		"routes": [{"fib": 10, "prefix": "203.0.113.0/24", "paths": [{"kind": "gateway", "gateway": "192.0.2.3"}]}],
		"neighbors": [{"port": "eth1", "address": "192.0.2.2", "mac": "02:00:00:00:00:22"}]
	}`)
	changes, errs := e.srv.ApplyConfigFile(second)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	f10, _ := e.reg.Get(10)
	if ri, ok := f10.Get(mustPrefix("203.0.113.0/24"), "static"); !ok || ri.Paths[0].Gateway.String() != "192.0.2.3" {
		t.Errorf("changed gateway not applied: %v", ri.Paths)
	}
	if _, ok := f10.Get(mustPrefix("198.18.0.0/24"), "static"); !ok {
		t.Error("the API's own route was removed")
	}
	if f, _ := e.reg.PortFIB(mustPortID(e, "eth2")); f != 20 {
		t.Errorf("eth2 in fib %d, want the file's 20", f)
	}
	if _, ok := e.reg.Get(30); ok {
		t.Error("fib 30, dropped from the file, still exists")
	}
	if _, err := e.srv.PortID("eth3"); err == nil {
		t.Error("port eth3, dropped from the file, still bound")
	}
	if l := f10.Limits(); l.Routes4 != 5000 {
		t.Errorf("fib 10 limit %d, want the file's 5000", l.Routes4)
	}
	want := []string{"fib 10: [limits.routes_v4 default → 5000]", "port eth2 moved from fib 10 to fib 20",
		"static route 203.0.113.0/24 in fib 10 changed", "static neighbour 192.0.2.2 on eth1 set to 02:00:00:00:00:22",
		"static route 198.51.100.0/24 in fib 30 removed (no longer in the file)", "address 192.0.2.1/24 removed from eth3 (no longer in the file)",
		"port eth3 unbound (no longer in the file)", "fib 30 deleted (no longer in the file)"}
	if strings.Join(changes, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(want, "\n"))
	}
	// Applied again, nothing changes.
	if changes, errs := e.srv.ApplyConfigFile(second); len(changes)+len(errs) != 0 {
		t.Errorf("applying the same file again: %v %v", changes, errs)
	}
	// The file as applied travels in the state, for the next start's diff.
	if c := e.srv.Snapshot().ConfigFile; c == nil || len(c.Routes) != 1 || len(c.Ports) != 2 {
		t.Errorf("snapshot's config_file: %+v", c)
	}
}

// TestRestoreDegrades: a state with an item that cannot apply restores
// everything else and names the item; a port whose interface is missing is
// restored down, with the reason.
func TestRestoreDegrades(t *testing.T) {
	e := newEnv(t, control.Limits{})
	configure(e)
	saved := e.srv.Snapshot()
	saved.Routes = append(saved.Routes, control.ConfigRoute{FIB: 10, Prefix: mustPrefix("198.18.7.0/24"),
		Paths: []control.ConfigPath{{Kind: "gateway", Gateway: netip.MustParseAddr("192.0.2.2"), Port: "eth7"}}})
	reg := fib.NewRegistry(fib.Options{})
	srv, err := control.New(control.Options{Registry: reg, Dataplane: controltest.NewDataplane("eth1", "eth2", "eth3"),
		Neighbors: controltest.NewNeighbors(), Logger: slog.New(slog.DiscardHandler)})
	e.must(err)
	errs := srv.RestoreState(saved)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "198.18.7.0/24") || !strings.Contains(errs[0].Error(), "eth7") {
		t.Fatalf("restore errors: %v, want the one bad route named", errs)
	}
	f, _ := reg.Get(10)
	if _, ok := f.Get(mustPrefix("203.0.113.0/24"), "static"); !ok {
		t.Fatal("a good route was not restored")
	}
	var eth9 control.PortInfo
	e.must(srv.Ports(nil, "eth9", func(p control.PortDetail) bool { eth9 = p.PortInfo; return true }))
	if eth9.State != "down" || eth9.StateReason != "interface missing" {
		t.Fatalf("port of a missing interface: %+v", eth9)
	}
}

func mustPortID(e *env, name string) adj.PortID {
	p, err := e.srv.PortID(name)
	e.must(err)
	return p
}
