package link

import (
	"fmt"
	"net"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	cilink "github.com/cilium/ebpf/link"
)

// stackDrop keeps the kernel's own IP stack off a fibd port: a tcx ingress
// program that drops every frame. Packet sockets (AF_PACKET) get their copy
// before tc ingress runs, and AF_XDP before either, so fibd still sees
// everything; what goes away is the kernel's input path — IP header checks,
// a route lookup and a drop for every forwarded frame — which on a veth
// runs on the sender's core and on a NIC in its receive softirq.
type stackDrop struct {
	prog *ebpf.Program
	link cilink.Link
}

const tcActShot = 2

// attachStackDrop attaches the program to ifname in the calling thread's
// network namespace. It needs tcx (Linux 6.6).
func attachStackDrop(ifname string) (*stackDrop, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "fibd_own_port", Type: ebpf.SchedCLS, License: "MIT",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, tcActShot), asm.Return()},
	})
	if err != nil {
		return nil, fmt.Errorf("loading the ingress drop program: %w", err)
	}
	l, err := cilink.AttachTCX(cilink.TCXOptions{Interface: ifi.Index, Program: p, Attach: ebpf.AttachTCXIngress})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("attaching the ingress drop program: %w", err)
	}
	return &stackDrop{prog: p, link: l}, nil
}

func (s *stackDrop) close() {
	s.link.Close()
	s.prog.Close()
}
