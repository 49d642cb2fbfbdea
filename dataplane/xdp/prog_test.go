package xdp

import (
	"testing"

	"github.com/cilium/ebpf/asm"
)

// TestInstructions checks the program's shape without a kernel: it ends
// in bpf_redirect_map with XDP_PASS as the miss action, and every jump of
// the EtherType filter targets a label that exists. (prog_linux_test.go
// has the kernel verifier load it.)
func TestInstructions(t *testing.T) {
	for _, passNonIP := range []bool{false, true} {
		insns := instructions(3, passNonIP)
		labels := map[string]bool{}
		for _, ins := range insns {
			if sym := ins.Symbol(); sym != "" {
				labels[sym] = true
			}
		}
		for _, ins := range insns {
			if ins.OpCode.JumpOp() != asm.InvalidJumpOp && ins.OpCode.JumpOp() != asm.Exit && ins.OpCode.JumpOp() != asm.Call &&
				!labels[ins.Reference()] {
				t.Errorf("passNonIP=%v: jump to missing label %q", passNonIP, ins.Reference())
			}
		}
		n := len(insns)
		if call := insns[n-2]; !call.IsBuiltinCall() || insns[n-2].Constant != int64(asm.FnRedirectMap) {
			t.Errorf("passNonIP=%v: second to last instruction %v, want a bpf_redirect_map call", passNonIP, call)
		}
		if insns[n-3].Constant != xdpPass {
			t.Errorf("passNonIP=%v: miss action %v, want XDP_PASS", passNonIP, insns[n-3])
		}
	}
	if !isOurProgram(progNameAll) || !isOurProgram(progNameIPv46) || isOurProgram("xdp_dispatcher") {
		t.Error("isOurProgram")
	}
	if len(progNameIPv46) > 15 {
		t.Errorf("program name %q exceeds BPF_OBJ_NAME_LEN", progNameIPv46)
	}
}
