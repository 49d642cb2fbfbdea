package xdp

import (
	"testing"
	"unsafe"

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

// TestFIBWordsMatchTheObject: the words SetGeneration, SetOwn and
// DeleteFIB store through the mapping are where the program reads
// struct fib_val's fields.
func TestFIBWordsMatchTheObject(t *testing.T) {
	var v fastpathFibVal
	for _, c := range []struct {
		name      string
		off, want uintptr
	}{
		{"gen", unsafe.Offsetof(v.Gen), fibWordGen * 8},
		{"live", unsafe.Offsetof(v.Live), fibWordGen*8 + 4},
		{"own_bits", unsafe.Offsetof(v.OwnBits), fibWordOwn * 8},
		{"roots", unsafe.Offsetof(v.Roots), fibWordRoots * 8},
		{"roots[1]", unsafe.Offsetof(v.Roots) + unsafe.Sizeof(v.Roots[0]), (fibWordRoots + 1) * 8},
		{"roots[0].v6", unsafe.Offsetof(v.Roots) + unsafe.Offsetof(v.Roots[0].V6), fibWordRoots*8 + 4},
		{"size", unsafe.Sizeof(v), fibWords * 8},
	} {
		if c.off != c.want {
			t.Errorf("fib_val %s at byte %d, the mirror writes it at %d", c.name, c.off, c.want)
		}
	}
}
