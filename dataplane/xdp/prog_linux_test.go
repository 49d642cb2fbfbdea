package xdp

import (
	"testing"

	"github.com/fibd/fibd/internal/testenv"
)

// TestProgramLoads has the kernel verifier accept both program variants.
func TestProgramLoads(t *testing.T) {
	testenv.RequireRoot(t, "loads BPF programs")
	for _, passNonIP := range []bool{false, true} {
		l, err := load(4, passNonIP)
		if err != nil {
			t.Fatalf("passNonIP=%v: %v", passNonIP, err)
		}
		info, err := l.prog.Info()
		if err != nil || !isOurProgram(info.Name) {
			t.Errorf("loaded program name %q (%v)", info.Name, err)
		}
		l.close()
	}
}
