package xdp

import (
	"errors"
	"fmt"
	"log/slog"
)

// Sentinel errors. Callers check them with errors.Is; the wrapped text names
// the interface and the kernel's reason.
var (
	// ErrNotSupported is returned on platforms without AF_XDP.
	ErrNotSupported = errors.New("xdp: AF_XDP is not supported on this platform")
	// ErrXDPUnavailable means no XDP program could be attached in any mode
	// the options allow (or an AF_XDP socket could not be bound in the
	// requested copy mode). fibd --io=auto falls back to AF_PACKET on it;
	// --io=xdp reports it.
	ErrXDPUnavailable = errors.New("xdp: XDP unavailable on interface")
	// ErrBusy means another program that is not fibd's owns the
	// interface's XDP hook. fibd never replaces a foreign program.
	ErrBusy = errors.New("xdp: interface has a foreign XDP program attached")
	// ErrBadOptions is returned for invalid Options.
	ErrBadOptions = errors.New("xdp: invalid options")
)

// AttachMode selects how the XDP program is attached to the interface.
type AttachMode uint8

const (
	// AttachAuto tries native (driver) mode and falls back to generic
	// (skb) mode with a logged warning.
	AttachAuto AttachMode = iota
	// AttachNative requires driver mode; it fails with ErrXDPUnavailable
	// where the driver has no XDP support.
	AttachNative
	// AttachGeneric forces generic mode, which every interface supports at
	// the cost of an skb allocation per frame before the program runs.
	AttachGeneric
)

func (m AttachMode) String() string {
	switch m {
	case AttachAuto:
		return "auto"
	case AttachNative:
		return "native"
	case AttachGeneric:
		return "generic"
	}
	return fmt.Sprintf("AttachMode(%d)", uint8(m))
}

// CopyMode selects whether the socket binds in zero-copy mode.
type CopyMode uint8

const (
	// CopyAuto binds zero-copy where the driver allows it and falls back to
	// copy mode (veth, generic XDP and most virtual devices refuse
	// zero-copy).
	CopyAuto CopyMode = iota
	// CopyOnly always binds in copy mode.
	CopyOnly
	// ZeroCopyOnly requires zero-copy and fails with ErrXDPUnavailable
	// otherwise.
	ZeroCopyOnly
)

// Mode is what was actually negotiated with the kernel for one socket.
type Mode struct {
	// Attach is AttachNative or AttachGeneric, never AttachAuto.
	Attach AttachMode
	// ZeroCopy is set when the socket is bound with XDP_ZEROCOPY: the NIC
	// DMAs straight into the UMEM.
	ZeroCopy bool
	// FastPath is set when the interface runs the in-kernel fast path
	// program: the socket receives only what it punts.
	FastPath bool
}

func (m Mode) String() string {
	c := "copy"
	if m.ZeroCopy {
		c = "zero-copy"
	}
	return m.Attach.String() + "/" + c
}

// Default sizes. Rings hold descriptors, the UMEM holds one frame per RX
// ring slot (all of them lent to the kernel through the fill ring) plus one
// per TX ring slot: 2048 + 2048 frames × 2 KiB = 8 MiB per socket, enough to
// ride out a scheduling hiccup of a few milliseconds at line rate on 1 GbE.
const (
	DefaultRingSize  = 2048
	DefaultFrameSize = 2048
	// RxHeadroom is what the kernel keeps in front of every received
	// frame in its chunk (XDP_PACKET_HEADROOM): a chunk of FrameSize
	// bytes receives frames of up to FrameSize-RxHeadroom.
	RxHeadroom = 256
)

// Options configures Open. The zero value is usable: native XDP with generic
// fallback, zero-copy where possible, default ring and frame sizes, the
// default slog logger.
type Options struct {
	Attach AttachMode
	Copy   CopyMode
	// PassNonIP makes the XDP program redirect only untagged IPv4 and IPv6
	// frames and pass everything else (ARP, tagged frames) to the kernel
	// stack. fibd itself answers ARP/ND and classifies VLANs, so it leaves
	// this off; the bare forwarding loop sets it so the router's kernel
	// keeps resolving neighbours for it. All sockets on one interface must
	// agree.
	PassNonIP bool
	// RxRingSize is the RX ring size and the fill ring size (and the number
	// of RX frames); TxRingSize is the TX ring size, the completion ring
	// size and the number of TX frames. Powers of two, 0 means
	// DefaultRingSize.
	RxRingSize, TxRingSize int
	// FrameSize is the UMEM chunk size: a power of two from 2048 to the
	// page size, 0 means DefaultFrameSize. The kernel keeps 256 bytes of
	// headroom in RX frames, so the largest frame received is
	// FrameSize-256 bytes.
	FrameSize int
	// Logger receives the fallback warnings; nil means slog.Default().
	Logger *slog.Logger
	// FastPath, when set, attaches the in-kernel fast path program with
	// these tables instead of the bare redirect, where native XDP attaches
	// (generic mode and PassNonIP get the bare program). All sockets on
	// one interface share the first Open's choice.
	FastPath *FastPath
}

// withDefaults validates o and fills in zero fields.
func (o Options) withDefaults(pageSize int) (Options, error) {
	if o.RxRingSize == 0 {
		o.RxRingSize = DefaultRingSize
	}
	if o.TxRingSize == 0 {
		o.TxRingSize = DefaultRingSize
	}
	if o.FrameSize == 0 {
		o.FrameSize = DefaultFrameSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	for _, s := range []struct {
		name string
		v    int
	}{{"RxRingSize", o.RxRingSize}, {"TxRingSize", o.TxRingSize}} {
		if !isPow2(s.v) || s.v < 8 || s.v > 1<<16 {
			return o, fmt.Errorf("%w: %s %d is not a power of two in [8, 65536]", ErrBadOptions, s.name, s.v)
		}
	}
	if !isPow2(o.FrameSize) || o.FrameSize < 2048 || o.FrameSize > pageSize {
		return o, fmt.Errorf("%w: FrameSize %d is not a power of two in [2048, %d]", ErrBadOptions, o.FrameSize, pageSize)
	}
	if o.Attach > AttachGeneric {
		return o, fmt.Errorf("%w: %v", ErrBadOptions, o.Attach)
	}
	if o.Copy > ZeroCopyOnly {
		return o, fmt.Errorf("%w: CopyMode(%d)", ErrBadOptions, uint8(o.Copy))
	}
	return o, nil
}

func isPow2(v int) bool { return v > 0 && v&(v-1) == 0 }

// Stats are one socket's counters. The first group is counted by fibd per
// batch; the second is read from the kernel (getsockopt XDP_STATISTICS)
// when Stats is called.
type Stats struct {
	RxPackets, RxBytes uint64
	// RxTruncated counts frames longer than the caller's buffer.
	RxTruncated        uint64
	TxPackets, TxBytes uint64
	// TxRingFull counts frames WriteBatch dropped because the TX ring or
	// the TX frame pool had no room even after reaping completions.
	TxRingFull uint64
	// TxOversize counts frames WriteBatch dropped for exceeding FrameSize.
	TxOversize uint64
	// CompletionEmpty counts WriteBatch calls that found no free TX frame
	// and nothing to reap on the completion ring.
	CompletionEmpty uint64
	// RxKicks and TxKicks count wakeup system calls (recvfrom for the fill
	// ring, sendto for the TX ring) issued because the kernel asked for
	// them with XDP_RING_NEED_WAKEUP; Polls counts blocking waits in
	// ReadBatch; KickErrors counts kicks that failed with a transient
	// error (EAGAIN, EBUSY, ENOBUFS).
	RxKicks, TxKicks, Polls, KickErrors uint64

	// Kernel counters (struct xdp_statistics).
	RxDropped       uint64 // frames dropped for lack of an RX ring slot or a fill frame
	RxInvalidDescs  uint64
	TxInvalidDescs  uint64
	RxRingFull      uint64
	FillRingEmpty   uint64 // rx_fill_ring_empty_descs
	TxRingEmptyDesc uint64 // tx_ring_empty_descs: kicks that found nothing to send
}

// Map returns the counters by name, for dataplane.CounterReporter.
func (s Stats) Map() map[string]uint64 {
	return map[string]uint64{
		"xdp_rx_packets": s.RxPackets, "xdp_rx_bytes": s.RxBytes, "xdp_rx_truncated": s.RxTruncated,
		"xdp_tx_packets": s.TxPackets, "xdp_tx_bytes": s.TxBytes, "xdp_tx_ring_full": s.TxRingFull,
		"xdp_tx_oversize": s.TxOversize, "xdp_completion_empty": s.CompletionEmpty,
		"xdp_rx_kicks": s.RxKicks, "xdp_tx_kicks": s.TxKicks, "xdp_polls": s.Polls, "xdp_kick_errors": s.KickErrors,
		"xdp_rx_dropped": s.RxDropped, "xdp_rx_invalid_descs": s.RxInvalidDescs, "xdp_tx_invalid_descs": s.TxInvalidDescs,
		"xdp_rx_ring_full": s.RxRingFull, "xdp_fill_ring_empty": s.FillRingEmpty, "xdp_tx_ring_empty_descs": s.TxRingEmptyDesc,
	}
}

// IOCounters implements dataplane.CounterReporter.
func (s *Socket) IOCounters() map[string]uint64 { return s.Stats().Map() }
