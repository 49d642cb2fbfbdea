package isolation

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/fibdpb"
)

// churnGateway is gateway i of re-point round k: 198.51.100.(16+16k+i),
// all answered by FIB 10's server (as static neighbours with its MAC).
func churnGateway(k, i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 51, 100, byte(16 + 16*k + i)})
}

func churnPathSets(k int) []*fibdpb.PathSet {
	sets := make([]*fibdpb.PathSet, tables.NextHops)
	for i := range sets {
		sets[i] = &fibdpb.PathSet{Paths: []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: churnGateway(k, i).String(), Port: "s10"}}}
	}
	return sets
}

// churnTable is the shipped IPv4 table (or its first n routes) plus the
// 256 /24s of churnRange that the churn flow sends to.
func churnTable(n int) ([]client.Route, []netip.Addr, error) {
	v4, err := tables.LoadV4()
	if err != nil {
		return nil, nil, err
	}
	if n > 0 && n < len(v4) {
		v4 = v4[:n]
	}
	routes := make([]client.Route, 0, len(v4)+256)
	for _, r := range v4 {
		if !r.Prefix.Overlaps(churnRange) {
			routes = append(routes, client.Route{Prefix: r.Prefix, PathSet: uint32(r.NextHop)})
		}
	}
	var dsts []netip.Addr
	base := churnRange.Addr().As4()
	for k := 0; k < 256; k++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1], byte(k), 0}), 24)
		routes = append(routes, client.Route{Prefix: p, PathSet: uint32(k % tables.NextHops)})
		dsts = append(dsts, netip.AddrFrom4([4]byte{base[0], base[1], byte(k), 1}))
	}
	return routes, dsts, nil
}

// churn re-points FIB 10's table cfg.Repoints times while both tenants'
// flows and a flow into the re-pointed prefixes run, and FIB 20 adds and
// deletes neighbours of its own all along, so the adjacency IDs FIB 10
// frees are taken up again — by FIB 10's next gateways and by FIB 20.
func churn(ctx context.Context, tp *topology, cfg *Config, res *Result) error {
	c := tp.fibd.Conn
	routes, dsts, err := churnTable(cfg.Routes)
	if err != nil {
		return err
	}
	res.ChurnRoutes, res.ChurnRepoints = len(routes), cfg.Repoints
	neighbors := func(k int, add bool) error {
		for i := 0; i < tables.NextHops; i++ {
			var err error
			if add {
				_, err = c.AddNeighbor(ctx, &fibdpb.AddNeighborRequest{Port: "s10", Address: churnGateway(k, i).String(), Mac: mac(10, 4).String()})
			} else {
				_, err = c.DeleteNeighbor(ctx, &fibdpb.DeleteNeighborRequest{Port: "s10", Address: churnGateway(k, i).String()})
			}
			if err != nil {
				return fmt.Errorf("neighbour %v (round %d): %w", churnGateway(k, i), k, err)
			}
		}
		return nil
	}
	load := func(k int) (time.Duration, error) {
		lr, err := client.Load(ctx, c, churnPathSets(k), routes, client.LoadOptions{FIB: 10, Source: "bgp"})
		return lr.Duration, err
	}
	cfg.Log("churn: loading %d routes into FIB 10", len(routes))
	if err := neighbors(0, true); err != nil {
		return err
	}
	if _, err := load(0); err != nil {
		return err
	}

	maxFor := 60 * time.Second // every loop is bounded
	own, err := startFlow(tp.tenants[10].client, "fib10", 10, 1, []netip.Addr{serverAddr}, cfg.FlowPPS, maxFor)
	if err != nil {
		return err
	}
	defer own.stopFlow()
	victim, err := startFlow(tp.tenants[20].client, "fib20", 20, 1, []netip.Addr{serverAddr}, cfg.FlowPPS, maxFor)
	if err != nil {
		return err
	}
	defer victim.stopFlow()
	moving, err := startFlow(tp.tenants[10].client, "fib10-table", 10, 2, dsts, cfg.FlowPPS, maxFor)
	if err != nil {
		return err
	}
	defer moving.stopFlow()
	flows := []*flow{own, victim, moving}
	if err := tp.waitFlowing(ctx, flows); err != nil {
		return err
	}
	time.Sleep(cfg.Settle)
	start := [3]uint64{own.mark(), victim.mark(), moving.mark()}
	t0 := time.Now()

	// FIB 20's own neighbour churn, on its server side's subnet.
	var ops atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var churnErr atomic.Pointer[error]
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			a := netip.AddrFrom4([4]byte{198, 51, 100, byte(128 + i%100)}).String()
			_, err := c.AddNeighbor(ctx, &fibdpb.AddNeighborRequest{Port: "s20", Address: a, Mac: "02:fd:14:00:00:99"})
			if err == nil {
				_, err = c.DeleteNeighbor(ctx, &fibdpb.DeleteNeighborRequest{Port: "s20", Address: a})
			}
			if err != nil {
				churnErr.Store(&err)
				return
			}
			ops.Add(2)
			if time.Since(t0) > maxFor {
				return
			}
		}
	}()
	for k := 1; k <= cfg.Repoints; k++ {
		if err := neighbors(k, true); err != nil {
			close(stop)
			wg.Wait()
			return err
		}
		d, err := load(k)
		if err != nil {
			close(stop)
			wg.Wait()
			return fmt.Errorf("re-point %d: %w", k, err)
		}
		res.ChurnRepointSeconds = append(res.ChurnRepointSeconds, d.Seconds())
		cfg.Log("churn: re-point %d of %d routes in %v", k, len(routes), d.Round(time.Millisecond))
		if err := neighbors(k-1, false); err != nil {
			close(stop)
			wg.Wait()
			return err
		}
	}
	close(stop)
	wg.Wait()
	if p := churnErr.Load(); p != nil {
		return fmt.Errorf("FIB 20's neighbour churn: %w", *p)
	}
	res.ChurnNeighborOps = int(ops.Load())
	time.Sleep(cfg.Settle)
	end := [3]uint64{own.mark(), victim.mark(), moving.mark()}
	res.ChurnSeconds = time.Since(t0).Seconds()
	time.Sleep(200 * time.Millisecond) // the last frames reach the sinks

	s10, s20 := tp.tenants[10].sink, tp.tenants[20].sink
	res.ChurnOwnLossPct = lossPct(s10, own, window{start[0], end[0]})
	res.ChurnVictimLossPct = lossPct(s20, victim, window{start[1], end[1]})
	res.RepointedPrefixLossPct = lossPct(s10, moving, window{start[2], end[2]})
	sentUnchanged := (end[0] - start[0]) + (end[1] - start[1])
	got := s10.received(own.id, start[0], end[0]) + s20.received(victim.id, start[1], end[1])
	if sentUnchanged > 0 {
		res.UnchangedPrefixLossPct = 100 * float64(sentUnchanged-got) / float64(sentUnchanged)
	}
	res.ChurnFramesCounted = s10.frames.Load() + s20.frames.Load()
	n, why := tp.misdelivered()
	res.ChurnMisdelivered = n
	if why != "" {
		cfg.Log("churn: misdelivered: %s", why)
	}
	return nil
}
