package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/internal/testenv"
)

// TestStatsShowsFastPath runs fibd on AF_XDP with its default fast path
// between two hosts whose veth ends run GRO (so a veth takes redirected
// frames), pings across, and reads `fibctl stats`: the fast path's section
// names both interfaces, forwarded frames count per port and in the
// port's FORWARDED, and the frames it handed to user space are listed by
// reason (the ARP exchange and the first echo before the neighbour
// resolved).
func TestStatsShowsFastPath(t *testing.T) {
	netnstest.Require(t)
	testenv.RequireTool(t, "ping", "ethtool")
	rtr, a, b := netnstest.New(t, "fpr"), netnstest.New(t, "fpa"), netnstest.New(t, "fpb")
	netnstest.NamedVeth(t, a, "eth0", rtr, "ra")
	netnstest.NamedVeth(t, b, "eth0", rtr, "rb")
	for _, h := range []struct {
		ns       *netnstest.NS
		addr, gw string
	}{{a, "192.0.2.10/24", "192.0.2.1"}, {b, "198.51.100.10/24", "198.51.100.1"}} {
		h.ns.Exec("ethtool", "-K", "eth0", "gro", "on")
		h.ns.Exec("ip", "addr", "add", h.addr, "dev", "eth0")
		h.ns.Exec("ip", "route", "add", "default", "via", h.gw)
	}
	sock := filepath.Join(t.TempDir(), "fibd.sock")
	d := launchFibd(t, sock, func(c *exec.Cmd) error { return rtr.Do(c.Start) }, []string{"--socket", sock, "--state", "", "--io", "xdp"})
	d.ok("fib", "add", "10")
	d.ok("port", "bind", "ra", "--fib", "10")
	d.ok("port", "bind", "rb", "--fib", "10")
	d.ok("addr", "add", "192.0.2.1/24", "dev", "ra")
	d.ok("addr", "add", "198.51.100.1/24", "dev", "rb")
	if out, err := a.Try("ping", "-c", "50", "-i", "0.01", "-W", "1", "198.51.100.10"); err != nil || !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("ping through fibd: %v\n%s", err, out)
	}
	out := d.ok("stats")
	for _, want := range []string{"fast path: ", "ra,rb", "FAST_FORWARDED", "PUNTED_TO_USER_SPACE"} {
		if !strings.Contains(out, want) && !(want == "ra,rb" && strings.Contains(out, "rb,ra")) {
			t.Fatalf("stats lack %q:\n%s", want, out)
		}
	}
	var st struct {
		Ports []struct {
			Port     string `json:"port"`
			Counters struct {
				Forwarded         uint64 `json:"forwarded"`
				FastPathForwarded uint64 `json:"fast_path_forwarded"`
			} `json:"counters"`
		} `json:"ports"`
		FastPath struct {
			Forwarded uint64            `json:"forwarded"`
			Punts     map[string]uint64 `json:"punts"`
		} `json:"fast_path"`
	}
	if err := json.Unmarshal([]byte(d.ok("stats", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	// 50 echoes and 50 replies; the first of each may wait for ARP in user
	// space.
	if st.FastPath.Forwarded < 90 {
		t.Fatalf("the fast path forwarded %d of 100 echoes and replies:\n%s", st.FastPath.Forwarded, out)
	}
	if len(st.FastPath.Punts) == 0 {
		t.Fatalf("no punt reasons:\n%s", out)
	}
	var sum uint64
	for _, p := range st.Ports {
		if p.Counters.FastPathForwarded > p.Counters.Forwarded {
			t.Errorf("port %s: fast path forwarded %d, more than its forwarded %d", p.Port, p.Counters.FastPathForwarded, p.Counters.Forwarded)
		}
		sum += p.Counters.FastPathForwarded
	}
	if sum != st.FastPath.Forwarded {
		t.Errorf("ports' fast-path counts sum to %d, the fast path says %d", sum, st.FastPath.Forwarded)
	}
	t.Logf("%s", out)
}
