package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminCLI drives fibd through the fibctl binary as an admin would:
// the refusals of commands that would move or remove state without naming
// it, unknown commands, iproute2's grammar, FIB names, and --json that a
// script can use as is.
func TestAdminCLI(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "fibd.sock")
	d := startFibd(t, sock, "--socket", sock, "--state", filepath.Join(dir, "state.json"))
	d.ok("fib", "add", "10", "--name", "customer-a")
	d.ok("port", "bind", "lo", "--vlan", "100", "--fib", "customer-a")
	d.ok("addr", "add", "192.0.2.1/24", "dev", "lo.100")

	// Refusals: the target must be named; a typo is an error.
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"port", "bind", "lo", "--vlan", "200"}, []string{`required flag(s) "fib" not set`}},
		{[]string{"resync", "begin", "--source", "static"}, []string{`required flag(s) "fib" not set`}},
		{[]string{"resync", "end", "--fib", "10"}, []string{`required flag(s) "source" not set`}},
		{[]string{"route", "del", "198.51.100.0/24"}, []string{"name the FIB", "never falls back to FIB 0"}},
		{[]string{"route", "del", "198.51.100.0/24", "table", "10", "--fib", "11"}, []string{"different FIBs"}},
		{[]string{"route", "frob"}, []string{`unknown command "frob" for "fibctl route"`}},
		{[]string{"frob"}, []string{`unknown command "frob"`}},
		{[]string{"fib", "show", "customer-z"}, []string{`no FIB is named "customer-z"`}},
		{[]string{"route", "add", "198.51.100.0/24", "via", "192.0.2.2", "metric", "0", "--fib", "10"}, []string{"metric", "1-255"}},
		{[]string{"neigh", "add", "192.0.2.9", "lladdr", "02:00:00:00:00:09"}, []string{`"dev" missing`}},
		{[]string{"fib", "set", "10", "--name", "Bad Name"}, []string{"invalid argument", "lower-case"}},
		{[]string{"fib", "add", "11", "--name", "customer-a"}, []string{"already exists"}},
	} {
		d.fails(tc.args, tc.want...)
	}
	// The port did not move, and FIB 0 lost nothing.
	if out := d.ok("port", "show", "lo.100"); !strings.Contains(out, "lo.100") || !strings.Contains(out, " 10 ") {
		t.Fatalf("port after the refusals:\n%s", out)
	}

	// iproute2's grammar, and FIB names wherever an ID goes.
	d.ok("route", "add", "default", "via", "192.0.2.2", "metric", "9", "table", "customer-a")
	d.ok("route", "add", "blackhole", "203.0.113.5", "--fib", "customer-a")
	d.ok("neigh", "add", "192.0.2.2", "dev", "lo.100", "lladdr", "02:00:00:00:00:02", "nud", "permanent")
	if out := d.ok("route", "get", "198.18.7.7", "--fib", "customer-a"); !strings.Contains(out, "0.0.0.0/0") ||
		!strings.Contains(out, "pref 9") || !strings.Contains(out, "lladdr 02:00:00:00:00:02") {
		t.Fatalf("route get through the default route:\n%s", out)
	}
	for _, args := range [][]string{{"addr", "show", "lo.100"}, {"addr", "show", "dev", "lo.100"}} {
		if out := d.ok(args...); !strings.Contains(out, "192.0.2.1/24") {
			t.Errorf("%v:\n%s", args, out)
		}
	}
	d.ok("route", "del", "blackhole", "203.0.113.5", "table", "customer-a")

	// --json: numbers are numbers, zero values are there, names are the
	// API's.
	var fibs []map[string]any
	if err := json.Unmarshal([]byte(d.ok("fib", "show", "--json")), &fibs); err != nil || len(fibs) != 2 {
		t.Fatalf("fib show --json: %v", err)
	}
	if fibs[0]["fib_id"] != float64(0) || fibs[0]["routes_v4"] != float64(0) || fibs[0]["name"] != "" {
		t.Errorf("FIB 0 in JSON: %v", fibs[0])
	}
	if fibs[1]["fib_id"] != float64(10) || fibs[1]["name"] != "customer-a" || fibs[1]["routes_v4"] != float64(3) {
		t.Errorf("FIB 10 in JSON: %v", fibs[1])
	}
	limits, _ := fibs[1]["settings"].(map[string]any)["limits"].(map[string]any)
	if limits["warn_percent"] != float64(75) || limits["routes_v4"] != float64(0) {
		t.Errorf("FIB 10 limits in JSON: %v", limits)
	}
	var routes []map[string]any
	if err := json.Unmarshal([]byte(d.ok("route", "show", "--fib", "customer-a", "--json")), &routes); err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r["prefix"] == "0.0.0.0/0" && (r["preference"] != float64(9) || r["resolution"] != "RESOLUTION_GATEWAY" || r["best"] != true) {
			t.Errorf("default route in JSON: %v", r)
		}
	}
	var ports []map[string]any
	if err := json.Unmarshal([]byte(d.ok("port", "show", "--json")), &ports); err != nil || len(ports) != 1 ||
		ports[0]["vlan"] != float64(100) || ports[0]["inner_vlan"] != float64(0) || ports[0]["oper_state"] == nil {
		t.Fatalf("port show --json: %v %v", ports, err)
	}
	var stats map[string]any
	if err := json.Unmarshal([]byte(d.ok("stats", "--json")), &stats); err != nil || stats["epoch"] == nil {
		t.Fatalf("stats --json: %v %v", stats, err)
	}

	// port set: edge filters, shown by port show, a bad mode refused.
	if out := d.ok("port", "set", "lo.100", "--rpf", "strict"); !strings.Contains(out, "rpf strict, allow-source-route false") {
		t.Fatalf("port set:\n%s", out)
	}
	d.fails([]string{"port", "set", "lo.100", "--rpf", "sideways"}, "want off, loose or strict")
	d.fails([]string{"port", "set", "lo.100"}, "nothing to set")
	d.fails([]string{"port", "set", "lo.999", "--rpf", "loose"}, "not found")
	if out := d.ok("port", "show", "lo.100"); !strings.Contains(out, "strict") {
		t.Fatalf("port show after port set:\n%s", out)
	}

	// fib set: limits, with 0 back to the default, and a rename.
	if out := d.ok("fib", "set", "customer-a", "--limit-routes-v4", "1000", "--limit-warn-percent", "90", "--name", "cust-a"); !strings.Contains(out, "1000") ||
		!strings.Contains(out, "cust-a") {
		t.Fatalf("fib set:\n%s", out)
	}
	d.ok("fib", "show", "cust-a")
	if out := d.ok("fib", "set", "cust-a", "--limit-routes-v4", "0"); !strings.Contains(out, "unlimited") {
		t.Fatalf("limit back to the default (none):\n%s", out)
	}
}

// TestFibdRestoreDegradesAndCheckConfig: a state file whose port's
// interface is gone restores everything else and shows the port down with
// the reason; --check-config tells a good file from a bad one.
func TestFibdRestoreDegradesAndCheckConfig(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "fibd.sock")
	state := filepath.Join(dir, "state.json")
	if err := os.WriteFile(state, []byte(`{"format": "fibd-state", "version": 1,
		"fibs": [{"id": 10}],
		"ports": [{"interface": "lo", "vlan": 7, "fib": 10}, {"interface": "fibd-gone0", "fib": 10}],
		"addresses": [{"port": "lo.7", "prefix": "192.0.2.1/24"}, {"port": "fibd-gone0", "prefix": "198.51.100.1/24"}],
		"routes": [{"fib": 10, "prefix": "203.0.113.0/24", "paths": [{"kind": "gateway", "gateway": "192.0.2.2"}]},
		           {"fib": 10, "prefix": "198.18.0.0/24", "paths": [{"kind": "gateway", "gateway": "192.0.2.2", "port": "fibd-nosuch"}]}]
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startFibd(t, sock, "--socket", sock, "--state", state)
	if out := d.ok("route", "get", "203.0.113.1", "--fib", "10"); !strings.Contains(out, "via 192.0.2.2") {
		t.Fatalf("restored route missing:\n%s", out)
	}
	if out := d.ok("port", "show", "fibd-gone0"); !strings.Contains(out, "down (interface missing)") {
		t.Fatalf("port of a missing interface:\n%s", out)
	}
	if !strings.Contains(d.stderr.String(), "state item not restored") || !strings.Contains(d.stderr.String(), "198.18.0.0/24") {
		t.Errorf("the item not restored is not named in the log:\n%s", d.stderr)
	}

	fibd, _ := binaries(t)
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(`{"fibs": [{"id": 10, "name": "customer-a"}],
		"ports": [{"interface": "fibd-eth1", "fib": 10}],
		"addresses": [{"port": "fibd-eth1", "prefix": "192.0.2.1/24"}],
		"routes": [{"fib": 10, "prefix": "198.51.100.0/24", "paths": [{"kind": "gateway", "gateway": "192.0.2.2"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"fibs": [{"id": 10}],
		"routes": [{"fib": 10, "prefix": "198.51.100.0/24", "paths": [{"kind": "gateway", "gateway": "198.51.100.9"}]},
		           {"fib": 20, "prefix": "198.51.100.0/24", "paths": [{"kind": "blackhole"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(fibd, "--check-config", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("--check-config of a good file: %v\n%s", err, out)
	}
	out, err = exec.Command(fibd, "--check-config", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "routes[0]") ||
		!strings.Contains(string(out), "routes[1]") {
		t.Fatalf("--check-config of a bad file: %v\n%s", err, out)
	}
}

// TestNextHopGroupsAndRouteEventsCLI: groups made, replaced and refused
// deletion through fibctl, a route on a group and a recursive one, the
// summary, and `watch route` showing what clients did and what fibd did
// itself, with the cause.
func TestNextHopGroupsAndRouteEventsCLI(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "fibd.sock")
	d := startFibd(t, sock, "--socket", sock, "--state", "")
	d.ok("fib", "add", "10")
	d.ok("port", "bind", "lo", "--vlan", "10", "--fib", "10")
	d.ok("addr", "add", "192.0.2.1/24", "dev", "lo.10")

	watch := exec.Command(d.fibctl, "--socket", sock, "watch", "route", "--fib", "10", "--initial")
	var wout syncBuffer
	watch.Stdout = &wout
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = watch.Process.Kill(); _ = watch.Wait() }()
	waitFor(t, &wout, "end of initial")

	d.ok("nexthop", "add", "id", "1", "via", "192.0.2.2", "via", "192.0.2.3", "--fib", "10")
	d.ok("nexthop", "add", "id", "2", "via", "192.0.2.9", "--fib", "10")
	// No route of "static" exists yet: the groups still belong to it.
	d.ok("nexthop", "replace", "id", "1", "via", "192.0.2.4", "backup", "2", "--fib", "10")
	d.fails([]string{"nexthop", "replace", "id", "1", "via", "192.0.2.5", "--source", "bgp", "--fib", "10"}, "another source")
	d.ok("route", "add", "203.0.113.0/24", "nhid", "1", "--fib", "10")
	d.ok("route", "add", "198.51.100.0/24", "via", "192.0.2.5", "--fib", "10")
	d.ok("route", "add", "198.18.0.0/15", "via", "198.51.100.1", "--fib", "10")
	if out := d.ok("route", "get", "198.18.1.1", "--fib", "10"); !strings.Contains(out, "192.0.2.5 dev lo.10") {
		t.Fatalf("the recursive route does not forward through its covering route:\n%s", out)
	}
	if out := d.ok("route", "get", "203.0.113.7", "--fib", "10"); !strings.Contains(out, "192.0.2.4") {
		t.Fatalf("the route on group 1 after its replace:\n%s", out)
	}
	d.fails([]string{"nexthop", "del", "id", "1", "--fib", "10"}, "in use", "used by 1 routes")
	d.fails([]string{"nexthop", "del", "id", "2", "--fib", "10"}, "in use", "backup")
	out := d.ok("nexthop", "show", "--fib", "10")
	if !strings.Contains(out, "via 192.0.2.4") || !strings.Contains(out, "static") {
		t.Fatalf("nexthop show:\n%s", out)
	}
	out = d.ok("route", "summary", "--fib", "10")
	for _, want := range []string{"connected", "local", "static     3", "total      5"} {
		if !strings.Contains(out, want) {
			t.Fatalf("route summary lacks %q:\n%s", want, out)
		}
	}
	// The covering route goes: the recursive route is unresolved, and
	// says so in the listing and in the events.
	d.ok("route", "del", "198.51.100.0/24", "--fib", "10")
	if out := d.ok("route", "show", "--fib", "10"); !strings.Contains(out, "unresolved  via 198.51.100.1") {
		t.Fatalf("route show after the covering route went:\n%s", out)
	}
	d.ok("port", "unbind", "lo.10")
	for _, want := range []string{
		"group-set fib 10 nexthop id 1 via 192.0.2.2, via 192.0.2.3 source static (client)",
		"added fib 10 198.18.0.0/15 via 198.51.100.1 source static pref 1 (client)",
		"removed fib 10 198.51.100.0/24 via 192.0.2.5 source static pref 1 (client)",
		"next-hop fib 10 via 198.51.100.1 resolves unresolved (resolution)",
		"192.0.2.0/24", "(port-purge)",
	} {
		waitFor(t, &wout, want)
	}
}

// waitFor waits up to 5 s for want in b.
func waitFor(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(b.String(), want) {
			return
		}
	}
	t.Fatalf("no %q in the output:\n%s", want, b.String())
}
