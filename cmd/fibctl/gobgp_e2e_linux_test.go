package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fibd/fibd/internal/routingd"
)

// gobgpdConf is what a user writes for gobgpd in FIB 10 (README "Use with
// GoBGP"): customer A's router as its only peer, over a fibd port.
const gobgpdConf = `[global.config]
  as = 64500
  router-id = "192.0.2.1"

[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.10"
    peer-as = 64501
  [neighbors.timers.config]
    connect-retry = 2
    hold-time = 9
    keepalive-interval = 3
    idle-hold-time-after-reset = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`

// missWatch looks addresses up in FIB 10 in a loop and counts the answers
// that are not the expected gateway.
type missWatch struct {
	stop            chan struct{}
	wg              sync.WaitGroup
	misses, lookups atomic.Int64
	last            atomic.Value
	firstAt, lastAt atomic.Int64
	t0              time.Time
}

func (r *bgpRig) watchMisses(want map[string]string) *missWatch {
	m := &missWatch{stop: make(chan struct{}), t0: time.Now()}
	m.wg.Go(func() {
		for {
			select {
			case <-m.stop:
				return
			default:
			}
			for addr, gw := range want {
				m.lookups.Add(1)
				if got := r.lookup(10, addr); got != gw {
					m.misses.Add(1)
					m.last.Store(addr + ": " + got)
					m.firstAt.CompareAndSwap(0, int64(time.Since(m.t0)))
					m.lastAt.Store(int64(time.Since(m.t0)))
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	return m
}

// end stops the loop and fails the test if any lookup missed.
func (m *missWatch) end(t *testing.T, what string) {
	t.Helper()
	close(m.stop)
	m.wg.Wait()
	if m.misses.Load() != 0 {
		t.Fatalf("%s: %d of %d lookups of surviving prefixes missed (last %v, from %v to %v)", what, m.misses.Load(),
			m.lookups.Load(), m.last.Load(), time.Duration(m.firstAt.Load()), time.Duration(m.lastAt.Load()))
	}
	t.Logf("%s: %d lookups, 0 misses", what, m.lookups.Load())
}

// TestGoBGPFeedsFIB10: gobgpd (v4.8.0, built from its module) inside FIB
// 10's namespace peers with customer A's BIRD over a fibd port; `fibctl
// feed gobgp` installs its best paths into FIB 10. They forward real
// pings from another FIB 10 customer, FIB 20 has none of them, a withdraw
// removes, a peer reset brings them back, and gobgpd killed with SIGKILL
// and restarted loses no surviving prefix at any time while the prefix
// withdrawn meanwhile is swept at the resync's end (peer up, End-of-RIB).
func TestGoBGPFeedsFIB10(t *testing.T) {
	r := newBGPRig(t)
	if _, _, err := routingd.GoBGP(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(r.dir, "gobgpd")
	start := func() *routingd.GoBGPD {
		g, err := routingd.StartGoBGPD(dir, r.in10, gobgpdConf)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("gobgpd:\n%s", g.Proc.Out)
			}
		})
		return g
	}
	g := start()
	t.Cleanup(func() { g.Stop() })
	feed := r.startFeed("gobgp feed starting", "gobgp", "--fib", "10", "--gobgpd", "unix://"+g.Socket(),
		"--resync-timeout", "60s")

	r.awaitRoute(10, "203.0.113.1", "192.0.2.10", 60*time.Second)
	r.awaitRoute(10, "203.0.113.129", "192.0.2.10", 10*time.Second)
	r.await("the first resync to close on End-of-RIB", 30*time.Second, func() bool {
		return strings.Contains(feed.Out.String(), "every peer established and sent End-of-RIB")
	})
	for _, dst := range []string{"203.0.113.1", "203.0.113.129"} {
		if out, err := r.c.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", dst); err != nil {
			t.Fatalf("ping %s from FIB 10's customer C: %v\n%s", dst, err, out)
		}
	}
	if n := r.routesOf(20, "gobgp"); n != 0 {
		t.Fatalf("fib 20 has %d gobgp routes", n)
	}
	if out, err := r.b.Try("ping", "-c", "1", "-W", "1", "203.0.113.1"); err == nil {
		t.Fatalf("customer B in FIB 20 reached A's 203.0.113.1:\n%s", out)
	}

	// Withdraw and announce again.
	if out, err := r.bird.Ctl("disable upper"); err != nil {
		t.Fatalf("birdc: %v\n%s", err, out)
	}
	r.awaitRoute(10, "203.0.113.129", "miss", 20*time.Second)
	if _, err := r.bird.Ctl("enable upper"); err != nil {
		t.Fatal(err)
	}
	r.awaitRoute(10, "203.0.113.129", "192.0.2.10", 20*time.Second)

	// A peer reset: the session drops (its routes with it) and comes back.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := g.CLI(ctx, "neighbor", "192.0.2.10", "reset"); err != nil {
		t.Fatalf("gobgp neighbor reset: %v\n%s", err, out)
	}
	r.await("the session to drop and return", 60*time.Second, func() bool {
		return g.Established(ctx, "192.0.2.10") && r.lookup(10, "203.0.113.1") == "192.0.2.10" &&
			r.lookup(10, "203.0.113.129") == "192.0.2.10"
	})

	// gobgpd crashes; meanwhile A withdraws the high /25; gobgpd restarts.
	resyncs := strings.Count(feed.Out.String(), "gobgp resync closed")
	m := r.watchMisses(map[string]string{"203.0.113.1": "192.0.2.10"})
	g.Proc.Kill()
	if _, err := r.bird.Ctl("disable upper"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	t0 := time.Now()
	g = start()
	r.await("the restarted gobgpd's resync to close", 60*time.Second, func() bool {
		return strings.Count(feed.Out.String(), "gobgp resync closed") > resyncs
	})
	took := time.Since(t0)
	r.awaitRoute(10, "203.0.113.129", "miss", 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	m.end(t, fmt.Sprintf("gobgpd restart (resync closed %.1fs after the start)", took.Seconds()))
	if !strings.Contains(feed.Out.String()[strings.LastIndex(feed.Out.String(), "gobgp resync closed"):], "End-of-RIB") {
		t.Errorf("the resync after the restart closed on its timeout, not on End-of-RIB:\n%s", feed.Out)
	}
	if out, err := r.c.Try("ping", "-c", "2", "-i", "0.2", "-W", "2", "203.0.113.1"); err != nil {
		t.Fatalf("ping after gobgpd's restart: %v\n%s", err, out)
	}
}
