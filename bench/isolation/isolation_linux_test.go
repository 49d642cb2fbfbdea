package isolation

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/fibd/fibd/bench/fibdproc"
	"github.com/fibd/fibd/internal/netnstest"
)

// TestQuick is `fibbench isolation` at a small size against a real fibd
// binary — churn of 20,000 routes re-pointed three times, a 4 s scan, a
// flood of 20,000 senders, two 3 s ICMP windows — with the scenarios' own
// targets: no frame misdelivered anywhere; the flows whose prefixes the
// re-points keep lose at most 0.1 %; no live neighbour fails under the
// scan and neither tenant loses more than 0.1 %; the flood evicts no entry
// a route uses and never passes the bound, and FIB 20 does not notice;
// FIB 20's TTL=1 probes are answered through FIB 10's TTL=1 flood; a
// storm of 300,000 malformed frames kills nothing, leaves the API
// answering and every port's counters balanced, and costs the valid flow
// on the same port at most 1 %.
func TestQuick(t *testing.T) {
	netnstest.Require(t)
	bin, cleanup, err := fibdproc.Build(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{FibdPath: bin, Routes: 20000, Settle: 500 * time.Millisecond, ScanFor: 4 * time.Second,
		FloodSenders: 20000, FloodPPS: 20000, FloodBound: 1024, ICMPFor: 3 * time.Second, StormFrames: 300_000, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("%s", out)
	if res.ChurnRepoints != 3 || len(res.ChurnRepointSeconds) != 3 {
		t.Errorf("re-points: %d, %v", res.ChurnRepoints, res.ChurnRepointSeconds)
	}
	if res.ChurnFramesCounted == 0 || res.ChurnNeighborOps == 0 {
		t.Errorf("nothing happened: %d frames counted, %d neighbour operations in FIB 20", res.ChurnFramesCounted, res.ChurnNeighborOps)
	}
	if res.MisdeliveredFrames != 0 {
		t.Errorf("misdelivered_frames = %d, want 0", res.MisdeliveredFrames)
	}
	if res.UnchangedPrefixLossPct > 0.1 {
		t.Errorf("unchanged_prefix_loss_pct = %.3f, want ≤ 0.1", res.UnchangedPrefixLossPct)
	}
	if res.ScanSent == 0 || res.ScanLiveNeighborsFailed != 0 || res.ScanOwnLossPct > 0.1 || res.ScanVictimLossPct > 0.1 {
		t.Errorf("scan: sent %d, live neighbours failed %d, own loss %.3f %%, victim loss %.3f %%",
			res.ScanSent, res.ScanLiveNeighborsFailed, res.ScanOwnLossPct, res.ScanVictimLossPct)
	}
	if res.FloodSent != 20000 || res.FloodReferencedEvicted != 0 || res.FloodTableEntriesMax > 1024 || res.FloodVictimLossPct > 0.1 {
		t.Errorf("flood: sent %d, referenced evicted %d, table peak %d (bound 1024), victim loss %.3f %%",
			res.FloodSent, res.FloodReferencedEvicted, res.FloodTableEntriesMax, res.FloodVictimLossPct)
	}
	if res.FloodTableEntriesMax < 512 {
		t.Errorf("flood: the table peaked at %d entries: the flood did not press on the bound", res.FloodTableEntriesMax)
	}
	if res.ICMPFloodSent == 0 || res.ICMPVictimAnsweredPct < 99 || res.ICMPVictimLossPct > res.ICMPBaselineVictimLossPct+0.1 {
		t.Errorf("icmp: flood sent %d at %.0f pps, victim answered %.1f %%, victim loss %.3f %% (without the flood %.3f %%)",
			res.ICMPFloodSent, res.ICMPFloodPPS, res.ICMPVictimAnsweredPct, res.ICMPVictimLossPct, res.ICMPBaselineVictimLossPct)
	}
	if res.StormSent != 300_000 || res.StormWorkerPanics != 0 || !res.StormCountersBalance || res.StormValidLossPct > 1 ||
		res.StormAPIAnswered < res.StormAPIAsked || res.StormAPIAsked == 0 {
		t.Errorf("storm: sent %d at %.0f pps, panics %d, balanced %v %v, valid loss %.3f %% (%d frames dropped by the kernel with fibd's ring full), API answered %d of %d",
			res.StormSent, res.StormPPS, res.StormWorkerPanics, res.StormCountersBalance, res.StormUnbalanced,
			res.StormValidLossPct, res.StormRxRingDrops, res.StormAPIAnswered, res.StormAPIAsked)
	}
}
