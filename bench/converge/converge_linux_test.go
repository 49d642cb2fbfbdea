package converge

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/fibd/fibd/bench/fibdproc"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/internal/testenv"
)

// TestQuick is `fibbench converge` at a small size: 3,000 routes, one
// round of each path, with the real speaker, FRR, gobgpd and fibd. It checks that
// both paths converge to every route and drain again; the figures are
// fibbench converge's.
func TestQuick(t *testing.T) {
	netnstest.Require(t)
	testenv.RequireTool(t, "vtysh")
	var bins [2]string
	for i, name := range []string{"fibd", "fibctl"} {
		p, cleanup, err := fibdproc.BuildCmd(name, t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		bins[i] = p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{FibdPath: bins[0], FibctlPath: bins[1], Rounds: 1, Routes: 3000, Timeout: time.Minute, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("%s", out)
	if res.Routes != 3000 || res.FRRFPMConvergeS <= 0 || res.FRRKernelConvergeS <= 0 || res.FPMRoutesPerS <= 0 ||
		res.GoBGPConvergeS <= 0 || res.GoBGPRIBS <= 0 || res.GoBGPRoutesPerS <= 0 {
		t.Fatalf("result %+v", res)
	}
}
