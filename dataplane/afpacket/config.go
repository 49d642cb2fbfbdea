package afpacket

import (
	"errors"
	"sync/atomic"
	"time"
)

// ErrNotSupported is returned by Open on platforms without AF_PACKET.
var ErrNotSupported = errors.New("afpacket: AF_PACKET is not supported on this platform")

// ErrLinkDown is returned by WriteBatch when the kernel refuses to transmit
// because the interface is down or gone (ENETDOWN, ENXIO); the frames of
// that call are dropped.
var ErrLinkDown = errors.New("afpacket: link is down")

// Defaults for Config. See the package documentation for the reasoning.
const (
	// DefaultBlockSize holds a 64 KiB GSO super-frame (the largest a veth
	// peer or GRO hands up with the default gso_max_size) with room to spare,
	// and ~2,000 minimum-size frames, so one poll wake-up drains hundreds of
	// frames at forwarding rates.
	DefaultBlockSize = 256 << 10
	// DefaultNumBlocks × DefaultBlockSize = 4 MiB per port: ~32,000 small
	// frames, ≈ 80 ms of a 400 kpps port, enough to ride out a GC pause or a
	// scheduling hiccup of the forwarding goroutine.
	DefaultNumBlocks = 16
	// DefaultRetireTimeout bounds the latency a frame can wait in a block
	// that is not yet full: TPACKET_V3 hands blocks, not frames, to user
	// space, so at low rates every frame waits for this timer. 1 ms is the
	// kernel's granularity and keeps a ping through fibd under ~2 ms.
	DefaultRetireTimeout = time.Millisecond
	// DefaultSndBuf lets one full batch of MaxFrame buffers (and the
	// skbs still queued in a NIC's TX ring) be in flight without EAGAIN.
	DefaultSndBuf = 4 << 20
)

// Config tunes a Port. The zero value uses the defaults above.
type Config struct {
	// BlockSize of the TPACKET_V3 RX ring: a power of two, a multiple of
	// the page size, at least 64 KiB.
	BlockSize int
	// NumBlocks in the RX ring, at least 2.
	NumBlocks int
	// RetireTimeout after which a partly filled block is handed over,
	// rounded up to whole milliseconds.
	RetireTimeout time.Duration
	// SndBuf is the socket's send buffer (SO_SNDBUFFORCE, falling back to
	// SO_SNDBUF when not permitted).
	SndBuf int
}

func (c Config) withDefaults() Config {
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.NumBlocks == 0 {
		c.NumBlocks = DefaultNumBlocks
	}
	if c.RetireTimeout == 0 {
		c.RetireTimeout = DefaultRetireTimeout
	}
	if c.SndBuf == 0 {
		c.SndBuf = DefaultSndBuf
	}
	return c
}

// Stats are a port's counters since Open.
type Stats struct {
	RxFrames     uint64 // frames delivered by ReadBatch (segments count one each)
	RxTruncated  uint64 // frames cut to the buffer or ring frame size
	RxGSO        uint64 // GSO super-frames split into segments
	RxGSODropped uint64 // super-frames dropped: truncated, unknown type, bad headers
	RxKernel     uint64 // frames the kernel queued to the ring (tp_packets)
	RxKernelDrop uint64 // frames the kernel dropped, ring full (tp_drops)
	TxFrames     uint64 // frames the kernel accepted
	TxDropped    uint64 // frames not sent: TX queue full (EAGAIN/ENOBUFS) or link down
	TxErrors     uint64 // frames the kernel refused one by one (e.g. EMSGSIZE)
}

// counters are updated once per batch by the RX or TX goroutine and read
// from anywhere.
type counters struct {
	rxFrames, rxTruncated, rxGSO, rxGSODropped atomic.Uint64
	rxKernel, rxKernelDrop                     atomic.Uint64
	txFrames, txDropped, txErrors              atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		RxFrames: c.rxFrames.Load(), RxTruncated: c.rxTruncated.Load(),
		RxGSO: c.rxGSO.Load(), RxGSODropped: c.rxGSODropped.Load(),
		RxKernel: c.rxKernel.Load(), RxKernelDrop: c.rxKernelDrop.Load(),
		TxFrames: c.txFrames.Load(), TxDropped: c.txDropped.Load(), TxErrors: c.txErrors.Load(),
	}
}

// Map returns the counters by name, for dataplane.CounterReporter.
func (s Stats) Map() map[string]uint64 {
	return map[string]uint64{
		"afpacket_rx_frames": s.RxFrames, "afpacket_rx_truncated": s.RxTruncated, "afpacket_rx_gso": s.RxGSO,
		"afpacket_rx_gso_dropped": s.RxGSODropped, "afpacket_rx_kernel": s.RxKernel, "afpacket_rx_kernel_drop": s.RxKernelDrop,
		"afpacket_tx_frames": s.TxFrames, "afpacket_tx_dropped": s.TxDropped, "afpacket_tx_errors": s.TxErrors,
	}
}

// IOCounters implements dataplane.CounterReporter.
func (p *Port) IOCounters() map[string]uint64 { return p.Stats().Map() }
