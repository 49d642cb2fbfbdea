package control_test

import (
	"os/exec"
	"testing"
)

// TestGeneratedCodeIsFresh regenerates control/fibdpb from the .proto into
// a temporary directory and compares (control/gen.sh check). It needs
// protoc (Debian's protobuf-compiler) and fetches the pinned plugins.
func TestGeneratedCodeIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs protoc and go install")
	}
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skip("protoc not installed (Debian package protobuf-compiler)")
	}
	out, err := exec.Command("sh", "gen.sh", "check").CombinedOutput()
	if err != nil {
		t.Fatalf("gen.sh check: %v\n%s", err, out)
	}
}
