package netnstest

import (
	"fmt"
	"net"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// XDP actions for XDPAction.
const (
	XDPDrop = 1
	XDPPass = 2
)

// XDPAction attaches, natively, an XDP program that returns action to
// ifname in ns, and returns the function that detaches it. An XDP_PASS
// program is how a veth end takes frames redirected to it (its NAPI runs
// only with XDP or GRO on); an XDP_DROP one is the cheapest possible
// receiver.
func XDPAction(ns *NS, ifname string, action int32) (detach func(), err error) {
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "fibd_test_act", Type: ebpf.XDP, License: "MIT",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, action), asm.Return()}})
	if err != nil {
		return nil, err
	}
	var l link.Link
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		l, err = link.AttachXDP(link.XDPOptions{Program: p, Interface: ifi.Index, Flags: link.XDPDriverMode})
		return err
	}); err != nil {
		p.Close()
		return nil, fmt.Errorf("attach XDP action %d to %s: %w", action, ifname, err)
	}
	return func() { l.Close(); p.Close() }, nil
}
