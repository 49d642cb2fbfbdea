package xdp

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/fibd/fibd/internal/testenv"
)

// verifierLimit is the kernel's BPF_COMPLEXITY_LIMIT_INSNS: the most
// instructions the verifier walks, over all paths, before it refuses a
// program.
const verifierLimit = 1_000_000

// verifierBudget is the share of that limit the fast path may use. The
// program's shape is chosen for the verifier (bounded trie walk with a fixed
// path array, at most 32 inline ECMP buckets, no IPv4 option or IPv6
// extension-header parsing); this guard keeps an edit from growing its
// state space toward the limit unnoticed, where a newer compiler or kernel
// would start refusing it.
const verifierBudget = verifierLimit / 4

// TestFastPathVerifierBudget loads the fast path program with the
// verifier's statistics and reports what it cost: instructions in the
// program, instructions the verifier processed over all paths, and states.
func TestFastPathVerifierBudget(t *testing.T) {
	testenv.RequireRoot(t, "loads BPF programs")
	fp, err := NewFastPath()
	if err != nil {
		t.Fatal(err)
	}
	defer fp.Close()
	l, err := fp.loadWith(1, ebpf.ProgramOptions{LogLevel: ebpf.LogLevelStats})
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	log := l.prog.VerifierLog
	m := regexp.MustCompile(`processed (\d+) insns .*total_states (\d+) peak_states (\d+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no statistics in the verifier's log:\n%s", log)
	}
	processed, _ := strconv.Atoi(m[1])
	t.Logf("fast path: %d instructions; the verifier processed %d (%.1f %% of its limit), %s states, peak %s",
		len(fp.spec.Programs["fibd_xsk_fast"].Instructions), processed, 100*float64(processed)/verifierLimit, m[2], m[3])
	if processed > verifierBudget {
		t.Errorf("the verifier processed %d instructions, over this program's budget of %d (limit %d)", processed, verifierBudget, verifierLimit)
	}
}
