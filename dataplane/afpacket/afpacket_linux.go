package afpacket

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/dataplane/pktio"
)

// Port is one interface's packet I/O over an AF_PACKET socket: a TPACKET_V3
// RX ring read by ReadBatch and sendmmsg transmission by WriteBatch. It
// implements pktio.PacketIO.
//
// Concurrency: one goroutine at a time in ReadBatch and one at a time in
// WriteBatch (each has its own lock, so they run in parallel); Close and
// Stats may be called from anywhere. Close wakes a ReadBatch blocked in
// poll through an eventfd and waits for both to leave before it unmaps the
// ring, so a reader can never touch freed memory.
type Port struct {
	name    string
	ifindex int
	fd      int // the AF_PACKET socket
	efd     int // eventfd written by Close
	closed  atomic.Bool
	stats   counters
	// statsMu serialises PACKET_STATISTICS reads with Close.
	statsMu sync.Mutex
	kstats  unix.TpacketStatsV3

	rx struct {
		sync.Mutex
		ring ring
		seg  packet.Segmenter
		meta pktio.RxMeta // VLAN metadata of the frame seg is cutting
		poll [2]unix.PollFd
	}
	tx struct {
		sync.Mutex
		msgs [pktio.BatchSize]mmsghdr
		iov  [pktio.BatchSize][2]unix.Iovec
	}
}

// mmsghdr is struct mmsghdr; x/sys/unix has no Linux sendmmsg wrapper.
// Go pads it to the Msghdr's alignment exactly as C does (64 bytes on
// 64-bit platforms, 32 on 32-bit ones).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// Compile-time check that mmsghdr has the kernel's size on every platform.
var (
	_ [unsafe.Sizeof(mmsghdr{}) - unix.SizeofMmsghdr]byte
	_ [unix.SizeofMmsghdr - unsafe.Sizeof(mmsghdr{})]byte
)

// zeroVnetHdr is prepended to every transmitted frame: with PACKET_VNET_HDR
// on, the kernel expects a virtio_net_hdr in front of each frame in both
// directions; all-zero means "no offload, checksum complete".
var zeroVnetHdr [packet.VnetHdrLen]byte

var _ pktio.PacketIO = (*Port)(nil)

// Open creates the port's socket on interface ifname, in the network
// namespace of the calling OS thread, and maps its RX ring. It does not
// change the interface (offloads, addresses): dataplane/link prepares it.
func Open(ifname string, cfg Config) (*Port, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// Protocol 0: receive nothing until the ring exists and bind names
	// ETH_P_ALL, so no frame lands in the plain receive queue first.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("afpacket: socket: %w", err)
	}
	p := &Port{name: ifname, fd: fd, efd: -1}
	if err := p.setup(cfg); err != nil {
		p.release()
		return nil, fmt.Errorf("afpacket: %s: %w", ifname, err)
	}
	p.rx.poll = [2]unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}, {Fd: int32(p.efd), Events: unix.POLLIN}}
	for i := range p.tx.msgs {
		p.tx.iov[i][0] = unix.Iovec{Base: &zeroVnetHdr[0]}
		p.tx.iov[i][0].SetLen(packet.VnetHdrLen)
		p.tx.msgs[i].hdr.Iov = &p.tx.iov[i][0]
		p.tx.msgs[i].hdr.SetIovlen(2)
	}
	return p, nil
}

func (p *Port) setup(cfg Config) error {
	ifr, err := unix.NewIfreq(p.name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(p.fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return fmt.Errorf("SIOCGIFINDEX: %w", err)
	}
	p.ifindex = int(ifr.Uint32())
	opts := []struct {
		name      string
		level, op int
		val       int
	}{
		{"PACKET_VERSION", unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3},
		// Must precede the ring: the kernel reserves room for the header
		// in front of every frame when the ring is created.
		{"PACKET_VNET_HDR", unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1},
		// fibd's own transmissions (and the kernel's) are not input.
		{"PACKET_IGNORE_OUTGOING", unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1},
		// Straight to the driver: the port has no qdisc worth keeping
		// and the qdisc lock is the costliest part of a send.
		{"PACKET_QDISC_BYPASS", unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1},
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(p.fd, o.level, o.op, o.val); err != nil {
			return fmt.Errorf("setsockopt %s: %w", o.name, err)
		}
	}
	if err := unix.SetsockoptInt(p.fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, cfg.SndBuf); err != nil {
		if err := unix.SetsockoptInt(p.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, cfg.SndBuf); err != nil {
			return fmt.Errorf("setsockopt SO_SNDBUF: %w", err)
		}
	}
	if err := p.rx.ring.setup(p.fd, cfg); err != nil {
		return err
	}
	if p.efd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: p.ifindex}
	if err := unix.Bind(p.fd, sa); err != nil {
		return fmt.Errorf("bind ifindex %d: %w", p.ifindex, err)
	}
	return nil
}

func (c Config) validate() error {
	page := unix.Getpagesize()
	switch {
	case c.BlockSize < 64<<10 || c.BlockSize%page != 0 || c.BlockSize&(c.BlockSize-1) != 0:
		return fmt.Errorf("afpacket: block size %d: want a power of two ≥ 64 KiB", c.BlockSize)
	case c.NumBlocks < 2:
		return fmt.Errorf("afpacket: %d blocks: want at least 2", c.NumBlocks)
	case c.RetireTimeout < 0:
		return fmt.Errorf("afpacket: negative retire timeout %v", c.RetireTimeout)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Name returns the interface name the port was opened on.
func (p *Port) Name() string { return p.name }

// ReportsPartialChecksums implements pktio.ChecksumReporter: the
// virtio_net_hdr in front of every frame says when its checksum is partial.
func (p *Port) ReportsPartialChecksums() bool { return true }

// Ifindex returns the interface index the socket is bound to.
func (p *Port) Ifindex() int { return p.ifindex }

// BatchSize implements pktio.PacketIO.
func (p *Port) BatchSize() int { return pktio.BatchSize }

// Close implements pktio.PacketIO. It is safe to call more than once.
func (p *Port) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	one := uint64(1)
	_, _ = unix.Write(p.efd, (*[8]byte)(unsafe.Pointer(&one))[:])
	p.rx.Lock()
	p.tx.Lock()
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	defer p.tx.Unlock()
	defer p.rx.Unlock()
	p.rx.seg.Reset()
	return p.release()
}

func (p *Port) release() error {
	err := p.rx.ring.unmap()
	if p.efd >= 0 {
		_ = unix.Close(p.efd)
		p.efd = -1
	}
	if e := unix.Close(p.fd); e != nil && err == nil {
		err = e
	}
	p.fd = -1
	return err
}

// Stats returns the port's counters, including the kernel's ring statistics.
func (p *Port) Stats() Stats {
	p.kernelStats()
	return p.stats.snapshot()
}

// kernelStats folds PACKET_STATISTICS (which the kernel resets on every
// read) into the port's counters.
func (p *Port) kernelStats() {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	if p.fd < 0 {
		return
	}
	l := uint32(unix.SizeofTpacketStatsV3)
	st := &p.kstats
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(p.fd), unix.SOL_PACKET, unix.PACKET_STATISTICS,
		uintptr(unsafe.Pointer(st)), uintptr(unsafe.Pointer(&l)), 0)
	if e == 0 {
		p.stats.rxKernel.Add(uint64(st.Packets))
		p.stats.rxKernelDrop.Add(uint64(st.Drops))
	}
}
