package isolation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib/adj"
)

// flood sends cfg.FloodSenders link-layer messages, each from a distinct
// sender address of FIB 10's server-side subnets, into its port: a third
// gratuitous ARP, a third ARP requests for the router (which RFC 826's
// merge rule turns into entries), a third unsolicited NA. FIB 10's
// neighbour table is bounded (cfg.FloodBound, set through the API); the
// entries routes use must never be evicted, the table never pass its
// bound, and FIB 20's flow not notice.
func flood(ctx context.Context, tp *topology, cfg *Config, res *Result) error {
	c := tp.fibd.Conn
	bound := uint32(cfg.FloodBound)
	if _, err := c.SetFibSettings(ctx, &fibdpb.SetFibSettingsRequest{FibId: 10, Settings: &fibdpb.FibSettings{
		Neighbors: &fibdpb.NeighborSettings{MaxEntries: &bound}}}); err != nil {
		return err
	}
	res.FloodBound = cfg.FloodBound
	statics := 0
	if err := listNeighbors(ctx, tp, 10, func(n *fibdpb.Neighbor) {
		if n.GetStatic() {
			statics++
		}
	}); err != nil {
		return err
	}
	w, err := watchNeighbors(ctx, c, liveGateways()...)
	if err != nil {
		return err
	}
	maxFor := 2*time.Minute + cfg.Settle
	own, err := startFlow(tp.tenants[10].client, "flood-own", 10, 13, []netip.Addr{serverAddr}, cfg.FlowPPS, maxFor)
	if err != nil {
		w.stop()
		return err
	}
	defer own.stopFlow()
	victim, err := startFlow(tp.tenants[20].client, "flood-victim", 20, 13, []netip.Addr{serverAddr}, cfg.FlowPPS, maxFor)
	if err != nil {
		w.stop()
		return err
	}
	defer victim.stopFlow()
	if err := tp.waitFlowing(ctx, []*flow{own, victim}); err != nil {
		w.stop()
		return err
	}
	time.Sleep(cfg.Settle)
	start := [2]uint64{own.mark(), victim.mark()}

	frames := make([][]byte, 0, cfg.FloodSenders)
	router := routerOut.Addr()
	for i := 0; i < cfg.FloodSenders; i++ {
		m := adj.MAC{0x02, 0xfe, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		sender := hostIn(scanSubnet.Masked(), 2+i%65000)
		switch i % 3 {
		case 0:
			frames = append(frames, arpFrame(m, sender, sender, 1)) // gratuitous
		case 1:
			frames = append(frames, arpFrame(m, sender, router, 1)) // a request for the router
		default:
			frames = append(frames, naFrame(m, hostIn(floodSubnet6.Masked(), 2+i)))
		}
	}
	tx, err := newRawSender(tp.tenants[10].server, "eth0", frames)
	if err != nil {
		w.stop()
		return err
	}
	defer tx.close()
	stop := make(chan struct{})
	sent := make(chan int, 1)
	t0 := time.Now()
	go func() { sent <- tx.run(float64(cfg.FloodPPS), len(frames), time.Minute, stop) }()
	// Sample the table's size while the flood runs.
	var peak int
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case n := <-sent:
			res.FloodSent = n
			done = true
		case <-tick.C:
			if n, err := dynamicNeighbors(ctx, tp, 10, statics); err == nil && n > peak {
				peak = n
			}
		case <-ctx.Done():
			close(stop)
			res.FloodSent = <-sent
			done = true
		}
	}
	res.FloodSeconds = time.Since(t0).Seconds()
	time.Sleep(cfg.Settle)
	if n, err := dynamicNeighbors(ctx, tp, 10, statics); err == nil && n > peak {
		peak = n
	}
	end := [2]uint64{own.mark(), victim.mark()}
	time.Sleep(200 * time.Millisecond)
	_, removed, werr := w.stop()
	if werr != nil {
		return fmt.Errorf("watching the live neighbours: %w", werr)
	}
	res.FloodReferencedEvicted = removed
	res.FloodTableEntriesMax = peak
	res.FloodOwnLossPct = lossPct(tp.tenants[10].sink, own, window{start[0], end[0]})
	res.FloodVictimLossPct = lossPct(tp.tenants[20].sink, victim, window{start[1], end[1]})
	return ctx.Err()
}

func listNeighbors(ctx context.Context, tp *topology, id uint32, fn func(*fibdpb.Neighbor)) error {
	stream, err := tp.fibd.Conn.ListNeighbors(ctx, &fibdpb.ListNeighborsRequest{FibId: &id})
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, n := range resp.GetNeighbors() {
			fn(n)
		}
	}
}

// dynamicNeighbors is FIB id's neighbour count less its static entries.
func dynamicNeighbors(ctx context.Context, tp *topology, id uint32, statics int) (int, error) {
	stream, err := tp.fibd.Conn.ListFibs(ctx, &fibdpb.ListFibsRequest{FibId: &id})
	if err != nil {
		return 0, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return 0, err
	}
	f := resp.GetFibs()[0]
	return int(f.GetNeighborsV4()+f.GetNeighborsV6()) - statics, nil
}
