package xdp

import (
	"encoding/binary"
	"strings"

	"github.com/cilium/ebpf/asm"
)

// Program names. The kernel keeps a program's name (at most 15 bytes) in
// its info, and this prefix is how fibd recognises its own program on an
// interface: one left behind by a crashed fibd is replaced, anything else is
// refused with ErrBusy.
const (
	progPrefix    = "fibd_xsk"
	progNameAll   = progPrefix         // redirects every frame
	progNameIPv46 = progPrefix + "_ip" // redirects untagged IPv4/IPv6 only
)

func isOurProgram(name string) bool { return strings.HasPrefix(name, progPrefix) }

// XDP actions and struct xdp_md field offsets (include/uapi/linux/bpf.h).
const (
	xdpPass = 2

	mdData         = 0
	mdDataEnd      = 4
	mdRxQueueIndex = 16
)

// instructions builds the XDP program. It is
//
//	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
//
// optionally preceded by an EtherType check that passes non-IP frames to
// the kernel. The low bits of bpf_redirect_map's flags are the action when
// the map has no socket for the queue, so a queue without a fibd socket —
// or every queue, once a crashed fibd's sockets are gone and the kernel has
// emptied the map — falls through to the kernel stack instead of dropping.
// Written with cilium/ebpf's asm so neither build nor run needs clang.
func instructions(mapFD int, passNonIP bool) asm.Instructions {
	var insns asm.Instructions
	if passNonIP {
		// The EtherType is read as a host-order u16 straight from the
		// packet, so compare against its big-endian bytes read that way.
		ipv4 := int32(binary.NativeEndian.Uint16([]byte{0x08, 0x00}))
		ipv6 := int32(binary.NativeEndian.Uint16([]byte{0x86, 0xdd}))
		insns = append(insns,
			asm.LoadMem(asm.R2, asm.R1, mdData, asm.Word),
			asm.LoadMem(asm.R3, asm.R1, mdDataEnd, asm.Word),
			asm.Mov.Reg(asm.R4, asm.R2),
			asm.Add.Imm(asm.R4, 14),
			asm.JGT.Reg(asm.R4, asm.R3, "pass"), // shorter than an Ethernet header
			asm.LoadMem(asm.R4, asm.R2, 12, asm.Half),
			asm.JEq.Imm(asm.R4, ipv4, "redirect"),
			asm.JEq.Imm(asm.R4, ipv6, "redirect"),
			asm.Mov.Imm(asm.R0, xdpPass).WithSymbol("pass"),
			asm.Return(),
		)
	}
	first := asm.LoadMem(asm.R2, asm.R1, mdRxQueueIndex, asm.Word)
	if passNonIP {
		first = first.WithSymbol("redirect")
	}
	insns = append(insns,
		first,
		asm.LoadMapPtr(asm.R1, mapFD),
		asm.Mov.Imm(asm.R3, xdpPass),
		asm.FnRedirectMap.Call(),
		asm.Return(),
	)
	return insns
}
