//go:build linux

package dataplane_test

import (
	"bufio"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/backend"
	"github.com/fibd/fibd/internal/ethtool"
	"github.com/fibd/fibd/internal/netnstest"
)

func TestVLANOffloadsOffWhileBoundAFPacket(t *testing.T) { testVLANOffloads(t, backend.AFPacket) }
func TestVLANOffloadsOffWhileBoundXDP(t *testing.T)      { testVLANOffloads(t, backend.XDP) }

// testVLANOffloads checks that VLAN tag stripping on receive is off while
// fibd owns an interface — on an untagged-only one too, where a tagged
// frame must not pass for untagged — and back as it was after release.
func testVLANOffloads(t *testing.T, kind string) {
	needTools(t)
	tp := newTopo(t, kind)
	peer := netnstest.New(t, "p")
	ifname := netnstest.Name("v")
	netnstest.Veth(t, ifname, tp.rtr, netnstest.Name("v"), peer)
	features := func() map[string]bool {
		t.Helper()
		var f map[string]bool
		if err := tp.rtr.Do(func() (err error) { f, err = ethtool.Features(ifname); return err }); err != nil {
			t.Fatal(err)
		}
		return f
	}
	before := features()
	for _, name := range ethtool.VLANParseOff {
		if !before[name] {
			t.Fatalf("veth starts with %s off; the test needs it on", name)
		}
	}
	p := tp.bind(ifname, 0, 10, "192.0.2.1/24")
	bound := features()
	for _, name := range ethtool.VLANParseOff {
		if bound[name] {
			t.Errorf("%s still on while fibd owns %s", name, ifname)
		}
	}
	if err := tp.e.UnbindPort(p); err != nil {
		t.Fatal(err)
	}
	after := features()
	for _, name := range ethtool.VLANParseOff {
		if !after[name] {
			t.Errorf("%s not restored after release", name)
		}
	}
}

func TestInterfaceRecreatedWhilePingingAFPacket(t *testing.T) { testRecreated(t, backend.AFPacket) }
func TestInterfaceRecreatedWhilePingingXDP(t *testing.T)      { testRecreated(t, backend.XDP) }

// testRecreated binds the server-side port before its interface exists
// (it comes up when the interface appears), then deletes that interface
// and creates it again while a client pings through: traffic resumes
// within 2 s, on the new interface, without restarting anything.
func testRecreated(t *testing.T, kind string) {
	needTools(t, "ping")
	tp := newTopo(t, kind)
	rc, rs := netnstest.Name("r"), netnstest.Name("r")
	client := tp.host("c", rc, tp.rtr, 0, []string{"192.0.2.10/24", "2001:db8:1::10/64"}, "192.0.2.1", "2001:db8:1::1")
	tp.bind(rc, 0, 10, "192.0.2.1/24", "2001:db8:1::1/64")
	srvPort := tp.bind(rs, 0, 10, "198.51.100.1/24", "2001:db8:2::1/64")
	portState := func() dataplane.PortInfo {
		for _, p := range tp.e.Ports() {
			if p.ID == srvPort {
				return p
			}
		}
		t.Fatal("server port gone")
		return dataplane.PortInfo{}
	}
	if p := portState(); p.Up || p.Reason != "interface missing" {
		t.Fatalf("port of a missing interface: up %v, reason %q", p.Up, p.Reason)
	}
	server := netnstest.New(t, "s")
	mkServer := func() {
		t.Helper()
		sIf := netnstest.Name("h")
		netnstest.Veth(t, rs, tp.rtr, sIf, server)
		server.Exec("ip", "addr", "add", "198.51.100.10/24", "dev", sIf)
		server.Exec("ip", "route", "add", "default", "via", "198.51.100.1")
	}
	mkServer()
	waitUp := func() dataplane.PortInfo {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if p := portState(); p.Up {
				return p
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("server port still down: %q", portState().Reason)
		return dataplane.PortInfo{}
	}
	first := waitUp()
	run(t, client.NS, true, "ping", "-c", "2", "-i", "0.2", "-W", "2", "198.51.100.10")

	pings := startPing(t, client.NS, "198.51.100.10")
	time.Sleep(500 * time.Millisecond)
	if pings.repliesAfter(time.Now().Add(-400*time.Millisecond)) == 0 {
		t.Fatal("no replies before the interface was deleted")
	}
	tp.rtr.Exec("ip", "link", "del", rs)
	time.Sleep(300 * time.Millisecond)
	recreated := time.Now() // the moment it exists again, counted conservatively
	mkServer()
	resumed, ok := pings.firstReplyAfter(recreated, 5*time.Second)
	if !ok {
		t.Fatalf("no reply within 5 s of recreating %s; port: %+v", rs, portState())
	}
	took := resumed.Sub(recreated)
	t.Logf("%s: traffic resumed %v after the interface was recreated", kind, took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Fatalf("traffic resumed after %v, want within 2 s", took)
	}
	if p := waitUp(); p.Ifindex == first.Ifindex {
		t.Fatalf("port still on the old ifindex %d", p.Ifindex)
	}
}

// pinger is a ping running in the background, with the times of its
// replies (ping -D stamps each line).
type pinger struct {
	mu      sync.Mutex
	replies []time.Time
}

// startPing pings dst from ns every 50 ms for at most 30 s (bounded), until
// the test ends.
func startPing(t *testing.T, ns *netnstest.NS, dst string) *pinger {
	t.Helper()
	cmd := ns.Command("ping", "-D", "-n", "-i", "0.05", "-W", "1", "-w", "30", dst)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pinger{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			// [1764626400.123456] 64 bytes from 198.51.100.10: icmp_seq=3 ttl=63 time=0.1 ms
			line := sc.Text()
			if !strings.HasPrefix(line, "[") || !strings.Contains(line, "bytes from") {
				continue
			}
			stamp, err := strconv.ParseFloat(line[1:strings.IndexByte(line, ']')], 64)
			if err != nil {
				continue
			}
			p.mu.Lock()
			p.replies = append(p.replies, time.Unix(0, int64(stamp*1e9)))
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
	})
	return p
}

func (p *pinger) repliesAfter(since time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.replies {
		if r.After(since) {
			n++
		}
	}
	return n
}

// firstReplyAfter waits (at most wait) for a reply stamped after since.
func (p *pinger) firstReplyAfter(since time.Time, wait time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, r := range p.replies {
			if r.After(since) {
				p.mu.Unlock()
				return r, true
			}
		}
		p.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	return time.Time{}, false
}
