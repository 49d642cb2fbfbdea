package isolation

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fibd/fibd/control/fibdpb"
)

// liveGateways are the neighbours the tenants' flows go through: their
// routes use them, so nothing a stranger does may fail or evict them.
func liveGateways() []neighKey {
	return []neighKey{{10, "s10", gatewayAddr.Addr()}, {20, "s20", gatewayAddr.Addr()}}
}

// scan sends cfg.ScanPPS packets a second, evenly paced, to distinct
// unused addresses of FIB 10's connected /16 for cfg.ScanFor — each a new
// neighbour to resolve, which nobody answers — while FIB 10's gateway is
// re-checked through PROBE every few seconds (its neighbour timers set
// short: reachable 2 s, delay 1 s, as a gateway restart or a quiet spell
// would make it). Neither tenant's live neighbour may go FAILED, and
// neither tenant's flow may lose more than 0.1 %.
func scan(ctx context.Context, tp *topology, cfg *Config, res *Result) error {
	c := tp.fibd.Conn
	if _, err := c.SetFibSettings(ctx, &fibdpb.SetFibSettingsRequest{FibId: 10, Settings: &fibdpb.FibSettings{
		Neighbors: &fibdpb.NeighborSettings{BaseReachableTime: durationpb.New(2 * time.Second),
			DelayFirstProbeTime: durationpb.New(time.Second)}}}); err != nil {
		return err
	}
	w, err := watchNeighbors(ctx, c, liveGateways()...)
	if err != nil {
		return err
	}
	maxFor := cfg.ScanFor + 30*time.Second
	own, err := startFlow(tp.tenants[10].client, "scan-own", 10, 11, []netip.Addr{serverAddr}, cfg.FlowPPS, maxFor)
	if err != nil {
		w.stop()
		return err
	}
	defer own.stopFlow()
	victim, err := startFlow(tp.tenants[20].client, "scan-victim", 20, 11, []netip.Addr{serverAddr}, cfg.FlowPPS, maxFor)
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

	// Every address of the /16 but the router's, in order: 65,534 new
	// neighbours, then round again (by then the first ones have failed and
	// been forgotten, or been evicted).
	dsts := make([]netip.Addr, 0, 65534)
	for i := 1; i < 65535; i++ {
		if a := hostIn(scanSubnet.Masked(), i); a != scanSubnet.Addr() {
			dsts = append(dsts, a)
		}
	}
	scanner, err := startFlow(tp.tenants[10].client, "scanner", 10, 12, dsts, cfg.ScanPPS, cfg.ScanFor)
	if err != nil {
		w.stop()
		return err
	}
	t0 := time.Now()
	arp0 := tp.tenants[10].sink.arpRequests.Load()
	select {
	case <-scanner.done:
	case <-ctx.Done():
	}
	scanner.stopFlow()
	res.ScanSent = scanner.mark()
	res.ScanSeconds = time.Since(t0).Seconds()
	res.ScanSolicitationsPerS = float64(tp.tenants[10].sink.arpRequests.Load()-arp0) / res.ScanSeconds
	time.Sleep(cfg.Settle)
	end := [2]uint64{own.mark(), victim.mark()}
	time.Sleep(200 * time.Millisecond)
	failed, _, werr := w.stop()
	if werr != nil {
		return fmt.Errorf("watching the live neighbours: %w", werr)
	}
	res.ScanLiveNeighborsFailed = failed
	res.ScanOwnLossPct = lossPct(tp.tenants[10].sink, own, window{start[0], end[0]})
	res.ScanVictimLossPct = lossPct(tp.tenants[20].sink, victim, window{start[1], end[1]})
	return ctx.Err()
}
