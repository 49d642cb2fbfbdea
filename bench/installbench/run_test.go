package installbench

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fibd/fibd/internal/testenv"
)

// TestRunSmall runs the whole measurement on 20,000 routes against a real
// fibd binary (and, as root, the kernel in a scratch namespace), so
// `fibbench install` cannot rot.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "builds and runs fibd")
	}
	bin := filepath.Join(t.TempDir(), "fibd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/fibd/fibd/cmd/fibd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	kernel := testenv.Partial(t, os.Geteuid() == 0, "the kernel baseline needs root")
	cfg := Config{FibdPath: bin, Routes: 20000, Rounds: MinRounds, NoKernel: !kernel, Logf: t.Logf}
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Routes != 20000 || res.RoutesPerS <= 0 || res.ShuffledRoutesPerS <= 0 || res.FibdRSSBytesAfter <= res.FibdRSSBytesEmpty {
		t.Fatalf("result %+v", res)
	}
	if !cfg.NoKernel && (res.KernelRoutesPerS <= 0 || res.RatioVsKernel <= 0 ||
		res.RatioVsKernelMin > res.RatioVsKernel || res.RatioVsKernel > res.RatioVsKernelMax) {
		t.Fatalf("kernel figures missing or their spread does not hold the median: %+v", res)
	}
	if res.GroupRoutesPerS <= 0 || res.GroupShuffledRoutesPerS <= 0 {
		t.Fatalf("no install rates with groups: %+v", res)
	}
	if res.NHGRepointUs <= 0 || res.NHGRepointUsAt10k <= 0 || res.NHGRepointRoutes != 20000 ||
		res.NHGRepointRoutesMoved < 1000 || res.NHGRepointSamples != MinRepointSamples ||
		res.NHGRepointUsMin > res.NHGRepointUs || res.NHGRepointUs > res.NHGRepointUsMax {
		t.Fatalf("nhg_repoint figures missing or inconsistent: %+v", res.Repoint)
	}
	if res.Rounds != MinRounds {
		t.Errorf("rounds %d", res.Rounds)
	}
	t.Logf("%+v", res)
}
