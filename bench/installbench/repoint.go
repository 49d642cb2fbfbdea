package installbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"google.golang.org/grpc"

	"github.com/fibd/fibd/bench/rounds"
	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/controltest"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// MinRepointSamples is the fewest group replaces an nhg_repoint_us figure
// is the median of.
const MinRepointSamples = 11

// RepointFIB is the FIB the repoint measurement fills.
const RepointFIB = 10

// RepointSmall is the table size of the second repoint figure, which shows
// whether the time grows with the number of routes.
const RepointSmall = 10_000

// Repoint is what a next-hop group replace costs a FIB whose every route
// uses the group: from sending SetNextHopGroup until a FIB.Lookup that
// spins on another goroutine sees the new group's adjacency (nhg_repoint),
// and until the RPC's answer arrives (nhg_repoint_rpc). Medians over the
// samples, with the smallest and largest; at the full table and at
// RepointSmall routes.
type Repoint struct {
	NHGRepointUs           float64 `json:"nhg_repoint_us"`
	NHGRepointUsMin        float64 `json:"nhg_repoint_us_min"`
	NHGRepointUsMax        float64 `json:"nhg_repoint_us_max"`
	NHGRepointRPCUs        float64 `json:"nhg_repoint_rpc_us"`
	NHGRepointRoutes       int     `json:"nhg_repoint_routes"`
	NHGRepointUsAt10k      float64 `json:"nhg_repoint_us_at_10k"`
	NHGRepointUsAt10kMin   float64 `json:"nhg_repoint_us_at_10k_min"`
	NHGRepointUsAt10kMax   float64 `json:"nhg_repoint_us_at_10k_max"`
	NHGRepointRPCUsAt10k   float64 `json:"nhg_repoint_rpc_us_at_10k"`
	NHGRepointSamples      int     `json:"nhg_repoint_samples"`
	NHGRepointRoutesMoved  int     `json:"nhg_repoint_routes_checked"`
	NHGRepointLookupsPerUs float64 `json:"nhg_repoint_lookups_per_us"`
}

// measureRepoint runs the repoint measurement at RepointSmall routes and
// at the whole table, the small one first.
func measureRepoint(ctx context.Context, v4 []tables.Route, cfg Config) (Repoint, error) {
	var r Repoint
	r.NHGRepointSamples = cfg.RepointSamples
	small := v4[:min(len(v4), RepointSmall)]
	cfg.Logf("nhg_repoint: %d routes on one group, %d replaces", len(small), cfg.RepointSamples)
	s, err := repointRun(ctx, small, cfg)
	if err != nil {
		return r, err
	}
	r.NHGRepointUsAt10k, r.NHGRepointUsAt10kMin, r.NHGRepointUsAt10kMax = s.seen()
	r.NHGRepointRPCUsAt10k = rounds.Median(s.rpc)
	cfg.Logf("nhg_repoint: %d routes on one group, %d replaces", len(v4), cfg.RepointSamples)
	full, err := repointRun(ctx, v4, cfg)
	if err != nil {
		return r, err
	}
	r.NHGRepointUs, r.NHGRepointUsMin, r.NHGRepointUsMax = full.seen()
	r.NHGRepointRPCUs = rounds.Median(full.rpc)
	r.NHGRepointRoutes, r.NHGRepointRoutesMoved = len(v4), full.checked
	r.NHGRepointLookupsPerUs = full.lookupsPerUs
	return r, nil
}

type repointSamples struct {
	seenUs, rpc  []float64
	checked      int
	lookupsPerUs float64
}

func (s repointSamples) seen() (med, lo, hi float64) {
	return rounds.Median(s.seenUs), slices.Min(s.seenUs), slices.Max(s.seenUs)
}

// repointRun serves a control plane in this process (so FIB.Lookup can
// watch the FIB the RPCs change) over a real gRPC unix socket, fills FIB
// RepointFIB with routes all using group 1 through a ModifyRoutes session,
// and replaces the group's gateway, alternating 192.0.2.1 and .2,
// RepointSamples times. No packets move, so the dataplane and neighbour
// table are controltest's: what is timed is gRPC, the control plane and
// the FIB's publish, which is all a group replace touches.
func repointRun(ctx context.Context, routes []tables.Route, cfg Config) (repointSamples, error) {
	var out repointSamples
	reg := fib.NewRegistry(fib.Options{})
	srv, err := control.New(control.Options{Registry: reg, Dataplane: controltest.NewDataplane("lo"),
		Neighbors: controltest.NewNeighbors(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return out, err
	}
	dir, err := os.MkdirTemp("", "fibd-repoint-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "fibd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return out, err
	}
	gs := grpc.NewServer(control.ServerOptions()...)
	control.NewGRPCService(srv).Register(gs)
	go func() { _ = gs.Serve(ln) }()
	defer gs.Stop()
	c, err := client.Dial(client.Options{Socket: sock})
	if err != nil {
		return out, err
	}
	defer c.Close()

	if _, err := c.CreateFib(ctx, &fibdpb.CreateFibRequest{FibId: RepointFIB}); err != nil {
		return out, err
	}
	vlan := uint32(RepointFIB)
	bp, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "lo", Vlan: &vlan, FibId: RepointFIB})
	if err != nil {
		return out, err
	}
	if _, err := c.AddAddress(ctx, &fibdpb.AddAddressRequest{Port: bp.GetPort().GetName(), Prefix: "192.0.2.254/24"}); err != nil {
		return out, err
	}
	const source = "bench"
	group := func(gw netip.Addr) []*fibdpb.Path {
		return []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: gw.String()}}
	}
	rs := make([]client.Route, len(routes))
	for i, r := range routes {
		rs[i] = client.Route{Prefix: r.Prefix, Group: 1}
	}
	_, err = client.Load(ctx, c, nil, rs, client.LoadOptions{FIB: RepointFIB, Source: source, Batch: cfg.Batch, InFlight: cfg.InFlight,
		Groups: []*fibdpb.NextHopGroupOp{{Op: fibdpb.GroupOpKind_GROUP_OP_KIND_SET, Id: 1, Paths: group(gateway(0))}}})
	if err != nil {
		return out, fmt.Errorf("loading %d routes on group 1: %w", len(rs), err)
	}
	f, ok := reg.Get(RepointFIB)
	if !ok {
		return out, errors.New("fib missing after the load")
	}
	// The sample is a route in the middle of the table; its host address
	// is one no more specific route of the table covers (Lookup answers for
	// the route it is in).
	sample := sampleAddr(f, routes)
	if !sample.IsValid() {
		return out, errors.New("no sample address resolves through group 1")
	}

	for i := range cfg.RepointSamples {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		gw := gateway((i + 1) % 2)
		before := f.Lookup(sample)
		if before.GroupID != 1 || before.Adj == 0 {
			return out, fmt.Errorf("sample %v resolves to %+v before replace %d, want group 1", sample, before, i)
		}
		seen, lookups, rpc, err := replaceAndWatch(ctx, c, f, sample, before.Adj, &fibdpb.NextHopGroup{
			FibId: RepointFIB, Id: 1, Source: source, Paths: group(gw)})
		if err != nil {
			return out, fmt.Errorf("replace %d: %w", i, err)
		}
		after := f.Lookup(sample)
		if len(after.Paths) != 1 || after.Paths[0].Gateway != gw {
			return out, fmt.Errorf("after replace %d the sample resolves via %+v, want %v", i, after.Paths, gw)
		}
		out.seenUs = append(out.seenUs, float64(seen.Nanoseconds())/1e3)
		out.rpc = append(out.rpc, float64(rpc.Nanoseconds())/1e3)
		if seen > 0 {
			out.lookupsPerUs = float64(lookups) / (float64(seen.Nanoseconds()) / 1e3)
		}
		// Every route moved, not just the sample: check a spread of them.
		checked, err := checkMoved(f, routes, after.Adj)
		if err != nil {
			return out, fmt.Errorf("replace %d: %w", i, err)
		}
		out.checked = checked
	}
	return out, nil
}

// replaceAndWatch sends the group replace and times, from the moment
// before it is sent, when a FIB.Lookup spinning on its own goroutine first
// answers with an adjacency other than old, and when the RPC returned.
// The spin is bounded by 5 s.
func replaceAndWatch(ctx context.Context, c *client.Conn, f *fib.FIB, sample netip.Addr, old adj.ID,
	g *fibdpb.NextHopGroup) (seen time.Duration, lookups int, rpc time.Duration, err error) {
	ready := make(chan struct{})
	done := make(chan time.Time, 1)
	go func() {
		close(ready)
		deadline := time.Now().Add(5 * time.Second)
		for n := 0; ; n++ {
			if f.Lookup(sample).Adj != old {
				t := time.Now()
				lookups = n
				done <- t
				return
			}
			if n&0xfff == 0 && time.Now().After(deadline) {
				close(done)
				return
			}
		}
	}()
	<-ready
	t0 := time.Now()
	_, err = c.SetNextHopGroup(ctx, &fibdpb.SetNextHopGroupRequest{Group: g})
	rpc = time.Since(t0)
	t1, ok := <-done
	if err != nil {
		return 0, 0, 0, err
	}
	if !ok {
		return 0, 0, 0, errors.New("the lookup never saw the new adjacency within 5 s")
	}
	return t1.Sub(t0), lookups, rpc, nil
}

// sampleAddr returns the first address of a route near the middle of the
// table that looks up to group 1 (not covered by a more specific route
// of another kind), or the zero Addr.
func sampleAddr(f *fib.FIB, routes []tables.Route) netip.Addr {
	for i := len(routes) / 2; i < len(routes); i++ {
		a := routes[i].Prefix.Masked().Addr()
		if n := f.Lookup(a); n.GroupID == 1 {
			return a
		}
	}
	return netip.Addr{}
}

// checkMoved looks up the first address of up to 1,000 routes spread over
// the table and fails unless each answers with want.
func checkMoved(f *fib.FIB, routes []tables.Route, want adj.ID) (int, error) {
	step := max(1, len(routes)/1000)
	n := 0
	for i := 0; i < len(routes); i += step {
		a := routes[i].Prefix.Masked().Addr()
		if got := f.Lookup(a); got.GroupID == 1 && got.Adj != want {
			return n, fmt.Errorf("%v (route %v) still resolves to adjacency %d, want %d", a, routes[i].Prefix, got.Adj, want)
		}
		n++
	}
	return n, nil
}
