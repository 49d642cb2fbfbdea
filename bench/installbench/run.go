// Package installbench measures how fast routes get into fibd the way a
// routing daemon puts them there: a client process (the caller) streams
// the shipped IPv4 table through ModifyRoutes into a separately running
// fibd, in file order into one FIB and in a seeded shuffle into another,
// and the same table is installed into a Linux routing table of a scratch
// network namespace through batched netlink, the kernel baseline. It is
// what `fibbench install` runs and prints.
package installbench

import (
	"context"
	"fmt"
	"runtime"
	"slices"

	"github.com/fibd/fibd/bench/fibdproc"
	"github.com/fibd/fibd/bench/rounds"
	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/fibdpb"
)

// Config tunes a run. The zero value gives the documented workload except
// for FibdPath, which is required.
type Config struct {
	// FibdPath is the fibd binary to start.
	FibdPath string
	// Batch is routes per ModifyRoutes batch and per netlink sendmsg;
	// default 4096.
	Batch int
	// InFlight is unacknowledged batches; default 8.
	InFlight int
	Seed     uint64 // shuffle seed; default 1
	// NoKernel skips the kernel baseline (it needs root).
	NoKernel bool
	// NoRepoint skips nhg_repoint_us.
	NoRepoint bool
	// RepointSamples is how many group replaces each nhg_repoint_us
	// figure is the median of; default and minimum MinRepointSamples.
	RepointSamples int
	// Routes, when not 0, uses only the first Routes routes of the table
	// (for quick runs and tests); 0 is the whole shipped table.
	Routes int
	// Rounds of interleaved installs (fibd file order, fibd shuffled, the
	// kernel; the order alternates): each figure is the median over the
	// rounds, ratio_vs_kernel the median of the per-round ratios with
	// their range. Default and minimum MinRounds.
	Rounds int
	Logf   func(format string, args ...any)
}

// MinRounds is the fewest interleaved rounds a run makes.
const MinRounds = 5

// Result is the JSON `fibbench install` prints. Rates and times are
// medians over the rounds; the ratio is the median of the per-round
// ratios, with the smallest and largest beside it.
type Result struct {
	Routes             int     `json:"routes"`
	Seconds            float64 `json:"seconds"`
	RoutesPerS         float64 `json:"routes_per_s"`
	ShuffledRoutesPerS float64 `json:"shuffled_routes_per_s"`
	// The same installs with every route using a next-hop group (one
	// group per next hop, sent with the first batch) instead of a path set.
	GroupRoutesPerS         float64 `json:"group_routes_per_s"`
	GroupShuffledRoutesPerS float64 `json:"group_shuffled_routes_per_s"`
	KernelRoutesPerS        float64 `json:"kernel_routes_per_s"`
	KernelSeconds           float64 `json:"kernel_seconds"`
	RatioVsKernel           float64 `json:"ratio_vs_kernel"`
	RatioVsKernelMin        float64 `json:"ratio_vs_kernel_min"`
	RatioVsKernelMax        float64 `json:"ratio_vs_kernel_max"`
	Rounds                  int     `json:"rounds"`
	// RSS of fibd with every FIB full, after the first round, and empty.
	FibdRSSBytesAfter int64 `json:"fibd_rss_bytes_after"`
	FibdRSSBytesEmpty int64 `json:"fibd_rss_bytes_empty"`
	Batch             int   `json:"batch_routes"`
	InFlight          int   `json:"in_flight_batches"`
	GoMaxProcs        int   `json:"gomaxprocs"`
	Repoint
}

// FIBs the run uses, and the gateways' subnet.
const (
	FileOrderFIB      = 10
	ShuffledFIB       = 11
	GroupFileOrderFIB = 12
	GroupShuffledFIB  = 13
)

var benchFIBs = []uint32{FileOrderFIB, ShuffledFIB, GroupFileOrderFIB, GroupShuffledFIB}

func (c *Config) defaults() {
	if c.Batch == 0 {
		c.Batch = 4096
	}
	if c.InFlight == 0 {
		c.InFlight = 8
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	c.Rounds = max(c.Rounds, MinRounds)
	c.RepointSamples = max(c.RepointSamples, MinRepointSamples)
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Run measures everything.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.defaults()
	v4, err := tables.LoadV4()
	if err != nil {
		return Result{}, err
	}
	if cfg.Routes > 0 && cfg.Routes < len(v4) {
		v4 = v4[:cfg.Routes]
	}
	res := Result{Routes: len(v4), Batch: cfg.Batch, InFlight: cfg.InFlight, GoMaxProcs: runtime.GOMAXPROCS(0)}

	cfg.Logf("starting %s", cfg.FibdPath)
	d, err := fibdproc.Start(ctx, fibdproc.Options{Path: cfg.FibdPath})
	if err != nil {
		return res, err
	}
	defer d.Stop()
	res.FibdRSSBytesEmpty, _ = d.RSS()
	sets := pathSets()
	opts := client.LoadOptions{Source: "bench", Batch: cfg.Batch, InFlight: cfg.InFlight}
	shuffled := toClient(tables.Shuffled(v4, cfg.Seed))
	inOrder := toClient(v4)
	groupOpts := opts
	groupOpts.Groups = groupOps()
	groupShuffled, groupInOrder := toGroups(shuffled), toGroups(inOrder)

	var fileSecs, shufSecs, groupSecs, groupShufSecs, kernSecs, ratios []float64
	load := func(r, fibID int, what string, o client.LoadOptions, routes []client.Route, secs *[]float64) error {
		cfg.Logf("round %d: install %d routes, %s, into fib %d", r, len(routes), what, fibID)
		o.FIB = uint32(fibID)
		lr, err := client.Load(ctx, d.Conn, sets, routes, o)
		if err != nil {
			return fmt.Errorf("%s install: %w", what, err)
		}
		*secs = append(*secs, lr.Duration.Seconds())
		return nil
	}
	fibdRound := func(r int) error {
		if err := setup(ctx, d.Conn); err != nil {
			return fmt.Errorf("setting up fibd: %w", err)
		}
		if err := load(r, FileOrderFIB, "file order", opts, inOrder, &fileSecs); err != nil {
			return err
		}
		if err := load(r, ShuffledFIB, fmt.Sprintf("shuffled (seed %d)", cfg.Seed), opts, shuffled, &shufSecs); err != nil {
			return err
		}
		if err := load(r, GroupFileOrderFIB, "file order with next-hop groups", groupOpts, groupInOrder, &groupSecs); err != nil {
			return err
		}
		if err := load(r, GroupShuffledFIB, "shuffled with next-hop groups", groupOpts, groupShuffled, &groupShufSecs); err != nil {
			return err
		}
		if err := checkCounts(ctx, d.Conn, len(v4)); err != nil {
			return err
		}
		if r == 0 {
			if res.FibdRSSBytesAfter, err = d.RSS(); err != nil {
				return err
			}
		}
		return teardown(ctx, d.Conn)
	}
	kernelRound := func(r int) error {
		if cfg.NoKernel {
			return nil
		}
		cfg.Logf("round %d: kernel, %d routes through batched netlink into table %d of a scratch namespace", r, len(v4), KernelTable)
		secs, err := kernelInstall(v4, cfg.Batch)
		if err != nil {
			return fmt.Errorf("kernel baseline: %w", err)
		}
		kernSecs = append(kernSecs, secs)
		return nil
	}
	for r := 0; r < cfg.Rounds; r++ {
		first, second := fibdRound, kernelRound
		if r%2 == 1 {
			first, second = kernelRound, fibdRound
		}
		if err := first(r); err != nil {
			return res, err
		}
		if err := second(r); err != nil {
			return res, err
		}
		if !cfg.NoKernel {
			ratios = append(ratios, kernSecs[r]/fileSecs[r]) // (n/fibd s) / (n/kernel s)
		}
	}
	d.Stop()

	res.Rounds = cfg.Rounds
	res.Seconds = rounds.Median(fileSecs)
	res.RoutesPerS = float64(len(v4)) / res.Seconds
	res.ShuffledRoutesPerS = float64(len(v4)) / rounds.Median(shufSecs)
	res.GroupRoutesPerS = float64(len(v4)) / rounds.Median(groupSecs)
	res.GroupShuffledRoutesPerS = float64(len(v4)) / rounds.Median(groupShufSecs)

	if !cfg.NoRepoint {
		if res.Repoint, err = measureRepoint(ctx, v4, cfg); err != nil {
			return res, fmt.Errorf("nhg_repoint_us: %w", err)
		}
	}
	if !cfg.NoKernel {
		res.KernelSeconds = rounds.Median(kernSecs)
		res.KernelRoutesPerS = float64(len(v4)) / res.KernelSeconds
		res.RatioVsKernel, res.RatioVsKernelMin, res.RatioVsKernelMax = rounds.Median(ratios), slices.Min(ratios), slices.Max(ratios)
	}
	return res, nil
}

// teardown removes the FIBs and their routes, so the next round
// installs into empty ones as the first did.
func teardown(ctx context.Context, c *client.Conn) error {
	for _, id := range benchFIBs {
		if _, err := c.UnbindPort(ctx, &fibdpb.UnbindPortRequest{Port: fmt.Sprintf("lo.%d", id)}); err != nil {
			return fmt.Errorf("unbind lo.%d: %w", id, err)
		}
		if _, err := c.DeleteFib(ctx, &fibdpb.DeleteFibRequest{FibId: id}); err != nil {
			return fmt.Errorf("delete fib %d: %w", id, err)
		}
	}
	return nil
}

// setup makes the FIBs, each with a port and an address in
// 192.0.2.0/24 so the table's gateways resolve through connected routes, as
// a BGP daemon's next hops do.
func setup(ctx context.Context, c *client.Conn) error {
	for _, id := range benchFIBs {
		if _, err := c.CreateFib(ctx, &fibdpb.CreateFibRequest{FibId: id}); err != nil {
			return err
		}
		vlan := id
		resp, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "lo", Vlan: &vlan, FibId: id})
		if err != nil {
			return err
		}
		if _, err := c.AddAddress(ctx, &fibdpb.AddAddressRequest{Port: resp.GetPort().GetName(), Prefix: "192.0.2.254/24"}); err != nil {
			return err
		}
	}
	return nil
}

// pathSets are the table's next hops: index i is gateway 192.0.2.(1+i).
func pathSets() []*fibdpb.PathSet {
	sets := make([]*fibdpb.PathSet, tables.NextHops)
	for i := range sets {
		sets[i] = &fibdpb.PathSet{Paths: []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: gateway(i).String()}}}
	}
	return sets
}

// groupOps make next-hop group 1+i with path set i's gateway.
func groupOps() []*fibdpb.NextHopGroupOp {
	ops := make([]*fibdpb.NextHopGroupOp, tables.NextHops)
	for i := range ops {
		ops[i] = &fibdpb.NextHopGroupOp{Op: fibdpb.GroupOpKind_GROUP_OP_KIND_SET, Id: uint32(1 + i),
			Paths: []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: gateway(i).String()}}}
	}
	return ops
}

// toGroups is routes with each path set i replaced by group 1+i.
func toGroups(rs []client.Route) []client.Route {
	out := make([]client.Route, len(rs))
	for i, r := range rs {
		out[i] = client.Route{Prefix: r.Prefix, Group: r.PathSet + 1}
	}
	return out
}

func toClient(rs []tables.Route) []client.Route {
	out := make([]client.Route, len(rs))
	for i, r := range rs {
		out[i] = client.Route{Prefix: r.Prefix, PathSet: uint32(r.NextHop)}
	}
	return out
}

// checkCounts makes sure every FIB holds the whole table (plus the
// connected and local routes of their address), so a fast number is never
// a lost one.
func checkCounts(ctx context.Context, c *client.Conn, n int) error {
	for _, id := range benchFIBs {
		stream, err := c.ListFibs(ctx, &fibdpb.ListFibsRequest{FibId: &id})
		if err != nil {
			return err
		}
		resp, err := stream.Recv()
		if err != nil {
			return err
		}
		if got := resp.GetFibs()[0].GetRoutesV4(); got != uint64(n+2) {
			return fmt.Errorf("fib %d holds %d IPv4 routes after the install, want %d", id, got, n+2)
		}
	}
	return nil
}
