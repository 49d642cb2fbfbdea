package control_test

import (
	"os/exec"
	"testing"

	"github.com/fibd/fibd/internal/testenv"
)

// TestGeneratedCodeIsFresh regenerates control/fibdpb from the .proto into
// a temporary directory with buf and the pinned plugins and compares
// (control/gen.sh check). It needs only Go: gen.sh builds the tools from
// their Go modules into a cache.
func TestGeneratedCodeIsFresh(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "builds buf and the protoc plugins the first time (minutes)")
	}
	out, err := exec.Command("sh", "gen.sh", "check").CombinedOutput()
	if err != nil {
		t.Fatalf("gen.sh check: %v\n%s", err, out)
	}
}
