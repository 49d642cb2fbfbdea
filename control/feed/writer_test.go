package feed_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/controltest"
	"github.com/fibd/fibd/control/feed"
	"github.com/fibd/fibd/control/fibdpb"
)

func server(t *testing.T) *client.Conn {
	t.Helper()
	c := controltest.Serve(t, "eth1")
	ctx := t.Context()
	for _, step := range []func() error{
		func() error { _, err := c.CreateFib(ctx, &fibdpb.CreateFibRequest{FibId: 10}); return err },
		func() error {
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "eth1", FibId: 10})
			return err
		},
		func() error {
			_, err := c.AddAddress(ctx, &fibdpb.AddAddressRequest{Port: "eth1", Prefix: "192.0.2.1/24"})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

var (
	pfx = netip.MustParsePrefix("198.51.100.0/24")
	gw2 = []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: "192.0.2.2"}}
	gw3 = []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: "192.0.2.3"}}
)

// TestUnitIsOneBatch: a delete and re-add of a prefix between Begin and
// Commit reach fibd as one batch, however long the caller takes between
// them, so no lookup ever sees the prefix missing.
func TestUnitIsOneBatch(t *testing.T) {
	c := server(t)
	w, err := feed.Open(t.Context(), c, feed.Options{Source: "test", FIBs: []uint32{10}})
	if err != nil {
		t.Fatal(err)
	}
	w.Route(feed.Route{FIB: 10, Prefix: pfx, Paths: gw2})
	if err := w.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := w.Stats().Batches
	w.Begin()
	w.Route(feed.Route{FIB: 10, Prefix: pfx, Delete: true})
	time.Sleep(50 * time.Millisecond) // the sender is idle: without the unit it would send the delete alone
	w.Route(feed.Route{FIB: 10, Prefix: pfx, Paths: gw3})
	w.Commit()
	if err := w.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := w.Stats().Batches - before; n != 1 {
		t.Fatalf("the unit went as %d batches", n)
	}
	resp, err := c.LookupRoute(t.Context(), &fibdpb.LookupRouteRequest{FibId: 10, Address: "198.51.100.7"})
	if err != nil || resp.GetNextHop() != "192.0.2.3" {
		t.Fatalf("lookup %v %v", resp, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRefusedEntriesReportedRestApplied: fibd refuses a batch with a bad
// entry; the Writer reports that entry, applies the rest, and keeps the
// order (a later change of the same prefix wins).
func TestRefusedEntriesReportedRestApplied(t *testing.T) {
	c := server(t)
	var refused []netip.Prefix
	done := map[netip.Prefix]int{}
	w, err := feed.Open(t.Context(), c, feed.Options{Source: "test", FIBs: []uint32{10}, Done: func(r *feed.Route, err error) {
		if err != nil {
			refused = append(refused, r.Prefix)
		} else {
			done[r.Prefix]++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	bad := netip.MustParsePrefix("203.0.113.0/24")
	w.Begin()
	w.Route(feed.Route{FIB: 10, Prefix: pfx, Paths: gw2})
	w.Route(feed.Route{FIB: 10, Prefix: bad, Group: 77}) // no such group
	w.Route(feed.Route{FIB: 10, Prefix: pfx, Paths: gw3})
	w.Commit()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if len(refused) != 1 || refused[0] != bad || done[pfx] != 2 || w.Stats().Refused != 1 {
		t.Fatalf("refused %v done %v stats %+v", refused, done, w.Stats())
	}
	resp, err := c.LookupRoute(t.Context(), &fibdpb.LookupRouteRequest{FibId: 10, Address: "198.51.100.7"})
	if err != nil || resp.GetNextHop() != "192.0.2.3" {
		t.Fatalf("lookup %v %v", resp, err)
	}
	w.Abort()
}
