package fwdbench

import (
	"fmt"
	"net"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// xdpSink counts and drops every frame that reaches the sink's interface,
// in an XDP program: the sink then costs the sender almost nothing, so a
// forwarder's CPU per packet is its own (receive, forward, transmit) rather
// than mostly the sink's IP and UDP input, which on veth runs on the
// sender's core. Packets are counted per CPU, before the drop.
type xdpSink struct {
	counts *ebpf.Map
	prog   *ebpf.Program
	link   link.Link
}

const xdpDrop = 1

// attachXDPSink loads and attaches the sink program to ifname in the
// calling thread's network namespace (native XDP, generic if the driver
// refuses).
func attachXDPSink(ifname string) (*xdpSink, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		return nil, fmt.Errorf("sink counter map: %w", err)
	}
	insns := asm.Instructions{
		asm.StoreImm(asm.RFP, -4, 0, asm.Word), // key 0
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.LoadMapPtr(asm.R1, m.FD()),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "drop"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, xdpDrop).WithSymbol("drop"),
		asm.Return(),
	}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "fibd_bench_sink", Type: ebpf.XDP, License: "MIT", Instructions: insns})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("sink program: %w", err)
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: p, Interface: ifi.Index, Flags: link.XDPDriverMode})
	if err != nil {
		l, err = link.AttachXDP(link.XDPOptions{Program: p, Interface: ifi.Index, Flags: link.XDPGenericMode})
	}
	if err != nil {
		p.Close()
		m.Close()
		return nil, fmt.Errorf("attaching the sink program to %s: %w", ifname, err)
	}
	return &xdpSink{counts: m, prog: p, link: l}, nil
}

// count returns the frames the program has counted, summed over CPUs.
func (s *xdpSink) count() (uint64, error) {
	var per []uint64
	if err := s.counts.Lookup(uint32(0), &per); err != nil {
		return 0, err
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

func (s *xdpSink) close() {
	s.link.Close()
	s.prog.Close()
	s.counts.Close()
}
