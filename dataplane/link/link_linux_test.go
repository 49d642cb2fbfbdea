package link

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/ethtool"
	"github.com/fibd/fibd/internal/netnstest"
)

// setup makes a namespace with a veth pair p0 ↔ p1 (both down) and a
// Manager opened inside it.
func setup(t *testing.T) (*netnstest.NS, *Manager) {
	t.Helper()
	ns := netnstest.New(t, "lnk")
	ns.Exec("ip", "link", "add", "p0", "address", "02:00:00:00:01:01", "mtu", "1400", "type", "veth", "peer", "name", "p1")
	var m *Manager
	if err := ns.Do(func() (err error) { m, err = Open(); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return ns, m
}

func TestByName(t *testing.T) {
	netnstest.Require(t)
	ns, m := setup(t)
	ns.Exec("ip", "link", "set", "p0", "up")
	ns.Exec("ip", "link", "set", "p1", "up")
	info, err := m.ByName("p0")
	if err != nil {
		t.Fatal(err)
	}
	mac, _ := adj.ParseMAC("02:00:00:00:01:01")
	if info.Name != "p0" || info.Index == 0 || info.MAC != mac || info.MTU != 1400 || !info.AdminUp || !info.OperUp {
		t.Fatalf("info %+v", info)
	}
	if _, err := m.ByName("fibd-nonesuch"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing interface: %v, want ErrNotFound", err)
	}
}

func TestWatchReportsAdminMTUAndDelete(t *testing.T) {
	netnstest.Require(t)
	ns, m := setup(t)
	events := make(chan Event, 64)
	done := make(chan struct{})
	werr := make(chan error, 1)
	go func() {
		werr <- m.Watch(done, func(e Event) {
			if e.Info.Name == "p0" {
				events <- e
			}
		})
	}()
	next := func(what string) Event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(5 * time.Second):
			t.Fatalf("no event for %s", what)
			return Event{}
		}
	}
	if e := next("listing"); e.Kind != Added || e.Info.AdminUp {
		t.Fatalf("first event %+v, want Added, down", e)
	}
	ns.Exec("ip", "link", "set", "p0", "up")
	if e := next("up"); e.Kind != Changed || e.Changes&AdminChanged == 0 || !e.Info.AdminUp {
		t.Fatalf("after up: %+v", e)
	}
	ns.Exec("ip", "link", "set", "p0", "mtu", "1300")
	for {
		e := next("mtu")
		if e.Changes&MTUChanged != 0 {
			if e.Info.MTU != 1300 {
				t.Fatalf("MTU event %+v", e)
			}
			break
		}
	}
	ns.Exec("ip", "link", "del", "p0")
	for {
		if e := next("delete"); e.Kind == Deleted {
			break
		}
	}
	close(done)
	select {
	case err := <-werr:
		if err != nil {
			t.Fatalf("Watch returned %v after done", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after done was closed")
	}
}

func read(t *testing.T, ns *netnstest.NS, path string) string {
	t.Helper()
	return strings.TrimSpace(ns.Exec("cat", "/proc/sys/"+path))
}

func TestPrepareRefusesKernelAddresses(t *testing.T) {
	netnstest.Require(t)
	ns, m := setup(t)
	ns.Exec("ip", "addr", "add", "192.0.2.1/24", "dev", "p0")
	ns.Exec("ip", "addr", "add", "198.51.100.1/24", "dev", "p0")
	_, err := m.Prepare("p0", PrepareOptions{})
	if !errors.Is(err, ErrHasAddresses) {
		t.Fatalf("Prepare: %v, want ErrHasAddresses", err)
	}
	for _, s := range []string{"p0", "192.0.2.1/24", "198.51.100.1/24"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	if v := read(t, ns, "net/ipv6/conf/p0/disable_ipv6"); v != "0" {
		t.Errorf("refused Prepare still changed disable_ipv6 to %s", v)
	}
}

func TestPrepareForceAndRelease(t *testing.T) {
	netnstest.Require(t)
	ns, m := setup(t)
	ns.Exec("ip", "addr", "add", "192.0.2.1/24", "dev", "p0")
	features := func() map[string]bool {
		var f map[string]bool
		if err := ns.Do(func() (err error) { f, err = ethtool.Features("p0"); return err }); err != nil {
			t.Fatal(err)
		}
		return f
	}
	before := features()
	if !before["tx-tcp-segmentation"] {
		t.Fatal("veth starts without TSO; the test cannot see it switched off")
	}

	p, err := m.Prepare("p0", PrepareOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("actions: %q", p.Report.Actions)
	if len(p.Report.Flushed) != 1 || p.Report.Flushed[0].String() != "192.0.2.1/24" {
		t.Errorf("Flushed = %v", p.Report.Flushed)
	}
	if out := ns.Exec("ip", "-4", "addr", "show", "dev", "p0"); strings.Contains(out, "inet ") {
		t.Errorf("address still there:\n%s", out)
	}
	for path, want := range map[string]string{
		"net/ipv6/conf/p0/disable_ipv6": "1",
		"net/ipv4/conf/p0/arp_ignore":   "8",
		"net/ipv4/conf/p0/forwarding":   "0",
	} {
		if v := read(t, ns, path); v != want {
			t.Errorf("%s = %s, want %s", path, v, want)
		}
	}
	after := features()
	for _, f := range []string{"tx-tcp-segmentation", "tx-generic-segmentation", "tx-checksum-ip-generic", "rx-gro"} {
		if after[f] {
			t.Errorf("%s still on", f)
		}
	}
	if info, _ := m.ByName("p0"); !info.AdminUp {
		t.Error("Prepare left the port down")
	}

	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if out := ns.Exec("ip", "-4", "addr", "show", "dev", "p0"); !strings.Contains(out, "192.0.2.1/24") {
		t.Errorf("address not restored:\n%s", out)
	}
	if v := read(t, ns, "net/ipv6/conf/p0/disable_ipv6"); v != "0" {
		t.Errorf("disable_ipv6 = %s after Release", v)
	}
	if v := read(t, ns, "net/ipv4/conf/p0/arp_ignore"); v != "0" {
		t.Errorf("arp_ignore = %s after Release", v)
	}
	restored := features()
	for _, f := range []string{"tx-tcp-segmentation", "tx-generic-segmentation", "tx-checksum-ip-generic"} {
		if restored[f] != before[f] {
			t.Errorf("%s = %v after Release, was %v", f, restored[f], before[f])
		}
	}
	if info, _ := m.ByName("p0"); info.AdminUp {
		t.Error("Release left up a port Prepare had brought up")
	}
}

func TestPrepareMissingInterface(t *testing.T) {
	netnstest.Require(t)
	_, m := setup(t)
	if _, err := m.Prepare("fibd-nonesuch", PrepareOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}
