package isolation

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/fibd/fibd/bench/fibdproc"
	"github.com/fibd/fibd/internal/netnstest"
)

// TestChurnQuick is `fibbench isolation`'s churn scenario at a small size
// (20,000 routes re-pointed three times) against a real fibd binary, with
// the scenario's own targets: no frame misdelivered, and the flows whose
// prefixes the re-points keep lose at most 0.1 %.
func TestChurnQuick(t *testing.T) {
	netnstest.Require(t)
	bin, cleanup, err := fibdproc.Build(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{FibdPath: bin, Scenarios: []string{ScenarioChurn}, Routes: 20000, Settle: 500 * time.Millisecond, Log: t.Logf})
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
}
