package netnstest

import (
	"net"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	cilink "github.com/cilium/ebpf/link"
)

// tcActShot is TC_ACT_SHOT: drop the packet.
const tcActShot = 2

// Blackhole makes interface ifname in ns drop every frame it sends and
// receives, silently — a cut cable, a peer that vanished, what `tc netem
// loss 100%` does (this kernel has no netem; tcx programs need no module).
// No RST, no ICMP: the far end learns nothing until a timer of its own
// fires. It lasts until the test ends.
func Blackhole(t TB, ns *NS, ifname string) {
	t.Helper()
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name: "fibd_blackhole", Type: ebpf.SchedCLS, License: "MIT",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, tcActShot), asm.Return()},
		})
		if err != nil {
			return err
		}
		for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
			l, err := cilink.AttachTCX(cilink.TCXOptions{Interface: ifi.Index, Program: p, Attach: at})
			if err != nil {
				p.Close()
				return err
			}
			t.Cleanup(func() { l.Close() })
		}
		t.Cleanup(func() { p.Close() })
		return nil
	})
	if err != nil {
		t.Fatalf("blackholing %s in %s: %v", ifname, ns.Name, err)
	}
}
