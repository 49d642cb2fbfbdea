// Package pktio is the packet-I/O contract between fibd's forwarding
// engine (package dataplane) and its backends (dataplane/afpacket,
// dataplane/xdp, the in-memory dataplane/pktiotest): batch-shaped reads
// and writes into buffers the caller owns, and what a received frame
// carries beyond its bytes. It is a leaf — it imports nothing of fibd — so
// a backend never pulls in the engine, the FIB or the neighbour tables,
// as wireguard-go's tun and conn know nothing of its device.
package pktio

import (
	"errors"
	"net/netip"
)

// BatchSize is the number of frames a forwarding worker moves per call. 64
// amortises one poll/sendmmsg/ring-kick over enough frames that the system
// call is a small share of the per-packet cost, while a batch of 64 × 2 KiB
// buffers (128 KiB) still fits in L2 next to the FIB's hot nodes.
const BatchSize = 64

// MaxFrame is the smallest buffer handed to PacketIO.ReadBatch: a
// 1500-byte MTU, two VLAN tags and slack. An interface with a larger MTU
// gets buffers of FrameCap(mtu) bytes. Frames longer than its buffers are
// truncated by the backend and counted as such.
const MaxFrame = 2048

// MaxJumboFrame is the largest frame fibd receives and sends: a 9216-byte
// jumbo frame, Ethernet header and tags included, the common switch limit.
const MaxJumboFrame = 9216

// l2Overhead is the Ethernet header plus two VLAN tags.
const l2Overhead = 14 + 8

// FrameCap is the receive buffer size for an interface with this MTU:
// the MTU plus an Ethernet header and two tags, at least MaxFrame and at
// most MaxJumboFrame.
func FrameCap(mtu int) int {
	return min(max(mtu+l2Overhead, MaxFrame), MaxJumboFrame)
}

// RxMeta describes one received frame beyond its bytes.
type RxMeta struct {
	// Len is the frame's length in the caller's buffer.
	Len int
	// VLAN is the 802.1Q TCI the kernel stripped and reported out of band
	// (AF_PACKET's PACKET_AUXDATA / tp_vlan_tci), valid when HasVLAN is set.
	// Backends that leave tags inline (AF_XDP) never set it.
	VLAN     uint16
	VLANTPID uint16
	HasVLAN  bool
	// Truncated is set when the frame did not fit its buffer.
	Truncated bool
	// CsumPartial is set when the frame's transport checksum is not
	// complete: the sender offloaded it (CHECKSUM_PARTIAL; AF_PACKET's
	// TP_STATUS_CSUMNOTREADY, virtio_net_hdr's NEEDS_CSUM), which happens
	// when the frame never crossed a wire — a veth peer, a tap, the host's
	// own stack. The checksum field at CsumStart+CsumOffset holds only the
	// pseudo-header sum; the bytes from CsumStart to the end of the packet
	// still have to be summed in. The forwarder must complete it (packet.FillL4Checksum)
	// before it sends such a frame out of a port, or the receiver drops it;
	// a frame for the router itself may be taken as verified (its sender
	// is on the same host).
	// Offsets count from the first byte of the frame as delivered (after a
	// tag the kernel stripped into VLAN).
	CsumPartial bool
	CsumStart   uint16
	CsumOffset  uint16
}

// PacketIO is one port's packet I/O: a socket bound to an interface (or an
// RX queue of it). It is batch-shaped and the caller owns the buffers, the
// way wireguard-go's tun.Device is: the backend copies received frames into
// bufs and transmits from bufs, so ring slots and UMEM frames go straight
// back to the kernel and nothing on the packet path allocates.
//
// Implementations: dataplane/afpacket (TPACKET_V3), dataplane/xdp (AF_XDP)
// and an in-memory fake for tests.
//
// Concurrency: one goroutine calls ReadBatch, and one goroutine at a time
// calls WriteBatch (the forwarding loop batches per egress port); Close may
// be called from anywhere and makes a blocked ReadBatch return ErrClosed.
type PacketIO interface {
	// BatchSize returns the largest number of frames ReadBatch fills or
	// WriteBatch sends per call. It never changes.
	BatchSize() int
	// ReadBatch blocks until at least one frame arrives (or the I/O is
	// closed), copies up to len(bufs) frames into bufs (each at least
	// MaxFrame bytes: the FrameCap of the interface's MTU) and describes
	// them in meta[:n].
	ReadBatch(bufs [][]byte, meta []RxMeta) (n int, err error)
	// WriteBatch transmits the frames bufs[i] (already sliced to their
	// length), in order, and returns n: bufs[:n] were taken. It stops at
	// the first frame it cannot send, bufs[n]: err is ErrFrameSize when
	// that frame is empty or too long for the I/O (the caller counts it
	// and may go on with bufs[n+1:]), nil when the TX ring is full (the
	// rest would fail too), or the I/O's failure.
	WriteBatch(bufs [][]byte) (n int, err error)
	// Close releases the socket and rings.
	Close() error
}

// ErrClosed is returned by ReadBatch and WriteBatch after Close.
var ErrClosed = errors.New("pktio: packet I/O closed")

// ErrFrameSize is WriteBatch's verdict on a frame that is empty or longer
// than the I/O can send (a UMEM frame, the link's MTU).
var ErrFrameSize = errors.New("pktio: frame empty or too long to send")

// ChecksumReporter is implemented by packet I/O that reports partial
// transport checksums in RxMeta.CsumPartial (AF_PACKET, from the kernel's
// virtio_net_hdr). For packet I/O that does not (AF_XDP hands over bare
// frames), the forwarder recognises partial checksums by their value
// (packet.LooksPartial).
type ChecksumReporter interface {
	ReportsPartialChecksums() bool
}

// CounterReporter is implemented by packet I/O that keeps counters of its
// own (rings, sockets, the kernel's drops). The engine shows them per port
// beside its forwarding counters, so an operator can see which path moved
// the packets.
type CounterReporter interface {
	IOCounters() map[string]uint64
}

// HostIO is one FIB's host stack as the engine sees it: the kernel's own
// TCP/IP stack in a network namespace of the FIB (dataplane/hoststack, a
// TUN device there), exchanging bare IP packets with the engine. The
// engine punts what the host should answer and injects what the host
// sends; the host never sees an Ethernet header, so fibd stays the only
// owner of neighbours.
//
// Concurrency: one goroutine calls ReadBatch and one WriteBatch;
// WritePacket and Sync may be called from any goroutine; Close makes a
// blocked ReadBatch return ErrClosed.
type HostIO interface {
	// ReadBatch blocks until the host sends an IP packet, then copies it
	// and any others already waiting into bufs (each MaxJumboFrame bytes
	// long at least), their lengths in sizes, and returns how many. A
	// packet the host handed over as one large segment (GSO) comes back
	// cut into packets of the host interface's MTU.
	ReadBatch(bufs [][]byte, sizes []int) (n int, err error)
	// WritePacket delivers one IP packet to the host.
	WritePacket(pkt []byte) error
	// WriteBatch delivers pkts in order (merging consecutive TCP
	// segments of a flow, as GRO would, where the I/O can) and returns
	// how many reached the host.
	WriteBatch(pkts [][]byte) (int, error)
	// Sync makes the host interface's addresses exactly addrs (each with
	// its subnet length, so the host sees its connected subnets) and its
	// MTU mtu.
	Sync(addrs []netip.Prefix, mtu int) error
	// Namespace names the network namespace the host stack lives in.
	Namespace() string
	// Close removes the host interface.
	Close() error
}
