package xdp

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// loaded is fibd's XDP program and its XSKMAP, not yet attached.
type loaded struct {
	prog *ebpf.Program
	xsks *ebpf.Map
	fast *FastPath // set for the fast path program, whose tables it shares
}

// load creates the XSKMAP (one slot per RX queue, keyed by queue index,
// valued by AF_XDP socket fd) and the program that redirects into it.
func load(queues int, passNonIP bool) (*loaded, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name:       "fibd_xsks",
		Type:       ebpf.XSKMap,
		KeySize:    4,
		ValueSize:  4,
		MaxEntries: uint32(max(queues, 1)),
	})
	if err != nil {
		return nil, fmt.Errorf("create XSKMAP: %w", err)
	}
	name := progNameAll
	if passNonIP {
		name = progNameIPv46
	}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         name,
		Type:         ebpf.XDP,
		Instructions: instructions(m.FD(), passNonIP),
		License:      "Dual MIT/GPL",
	})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("load XDP program: %w", err)
	}
	return &loaded{prog: p, xsks: m}, nil
}

func (l *loaded) close() {
	l.prog.Close()
	l.xsks.Close()
}

// programName returns the name of the program with the given kernel ID and
// an open handle to it (for XDP_FLAGS_REPLACE's expected fd).
func programByID(id uint32) (*ebpf.Program, string, error) {
	p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		return nil, "", err
	}
	info, err := p.Info()
	if err != nil {
		p.Close()
		return nil, "", err
	}
	return p, info.Name, nil
}
