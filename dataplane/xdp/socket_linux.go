package xdp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fibd/fibd/dataplane/pktio"
	"golang.org/x/sys/unix"
)

// Socket is one AF_XDP socket bound to one RX queue of an interface, with
// its own UMEM and four rings. It implements pktio.PacketIO by copying
// between UMEM frames and the caller's buffers.
//
// Concurrency: as pktio.PacketIO says — one goroutine calls ReadBatch
// (it alone touches the RX and fill rings), one goroutine at a time calls
// WriteBatch (TX and completion rings, the TX free list); Stats, Mode and
// Close may be called from anywhere. mu is held shared by ReadBatch,
// WriteBatch and Stats and exclusively by Close, so Close never unmaps a
// ring under a running batch.
type Socket struct {
	fd      int
	efd     int // eventfd: Close writes it to wake a ReadBatch blocked in poll
	ifname  string
	ifindex int
	queue   int
	att     *attachment
	mode    Mode

	frameSize                      int
	frameMask                      uint64
	rxSize, txSize                 int
	umem                           []byte
	fillMem, compMem, rxMem, txMem []byte

	// Reader side.
	fill        addrRing
	rx          descRing
	pollfds     [2]unix.PollFd
	pollTimeout unix.Timespec
	rxStats     struct {
		packets, bytes, truncated, kicks, polls atomic.Uint64
		_                                       [24]byte // keep the writer's counters off this cache line
	}

	// Writer side.
	tx      descRing
	comp    addrRing
	txFree  []uint64 // UMEM offsets of idle TX frames, used as a stack
	txStats struct {
		packets, bytes, ringFull, oversize, compEmpty, kicks, kickErrors atomic.Uint64
	}

	mu     sync.RWMutex
	closed atomic.Bool
}

var _ pktio.PacketIO = (*Socket)(nil)

// Open binds an AF_XDP socket to RX queue queue of ifname in the calling
// thread's network namespace, attaching fibd's XDP program to the interface
// on the first Open there (see Options for modes and fallbacks). Errors wrap
// ErrXDPUnavailable, ErrBusy or ErrBadOptions.
func Open(ifname string, queue int, opts Options) (*Socket, error) {
	o, err := opts.withDefaults(os.Getpagesize())
	if err != nil {
		return nil, err
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrXDPUnavailable, ifname, err)
	}
	// The kernel drops (and counts in RxDropped) frames longer than a
	// chunk minus its headroom; say so once rather than losing them
	// silently.
	if maxFrame := o.FrameSize - unix.XDP_PACKET_HEADROOM; ifi.MTU+14+8 > maxFrame { // Ethernet header and two VLAN tags
		o.Logger.Warn("xdp: interface MTU exceeds the largest receivable frame; raise FrameSize",
			"interface", ifname, "mtu", ifi.MTU, "max_frame", maxFrame)
	}
	a, err := acquire(ifname, ifi.Index, o)
	if err != nil {
		return nil, err
	}
	if queue < 0 || queue >= a.queues {
		a.release()
		return nil, fmt.Errorf("%w: %s has %d RX queue(s), no queue %d", ErrBadOptions, ifname, a.queues, queue)
	}
	s, err := openBound(a, queue, o)
	if err != nil {
		a.release()
		return nil, err
	}
	return s, nil
}

// OpenAll opens one socket per RX queue of ifname, so no queue's frames
// bypass fibd (a queue without a socket would pass its frames to the
// kernel stack). The caller runs one ReadBatch loop per socket.
func OpenAll(ifname string, opts Options) ([]*Socket, error) {
	first, err := Open(ifname, 0, opts)
	if err != nil {
		return nil, err
	}
	socks := []*Socket{first}
	for q := 1; q < first.att.queues; q++ {
		s, err := Open(ifname, q, opts)
		if err != nil {
			for _, s := range socks {
				s.Close()
			}
			return nil, err
		}
		socks = append(socks, s)
	}
	return socks, nil
}

// Bind retries on EBUSY: 10+20+…+640 ms, about 1.3 s in all.
const (
	busyRetry    = 10 * time.Millisecond
	busyRetryMax = 640 * time.Millisecond
)

// openBound creates and binds the socket, trying zero-copy first when the
// options allow it. A failed bind leaves the socket unusable, so the copy
// fallback starts over with a fresh socket.
func openBound(a *attachment, queue int, o Options) (*Socket, error) {
	attempts := []uint16{unix.XDP_ZEROCOPY, unix.XDP_COPY}
	switch o.Copy {
	case CopyOnly:
		attempts = attempts[1:]
	case ZeroCopyOnly:
		attempts = attempts[:1]
	}
	var errs []error
	heldBusy := false // a live socket holds the queue: retrying again is pointless
	for _, bindFlag := range attempts {
		s, err := newSocket(a, queue, o, bindFlag)
		// A socket of a process that just died keeps its queue until the
		// kernel's deferred release runs, so a restarted fibd may briefly
		// find the queue busy. Retry a little before believing a live
		// socket holds it.
		for wait := busyRetry; errors.Is(err, unix.EBUSY) && !heldBusy && wait <= busyRetryMax; wait *= 2 {
			time.Sleep(wait)
			s, err = newSocket(a, queue, o, bindFlag)
		}
		heldBusy = heldBusy || errors.Is(err, unix.EBUSY)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
		if bindFlag == unix.XDP_ZEROCOPY && len(attempts) > 1 {
			o.Logger.Debug("xdp: zero-copy bind refused, using copy mode", "interface", a.ifname, "queue", queue, "err", err)
		}
	}
	return nil, fmt.Errorf("%w %s queue %d: %w", ErrXDPUnavailable, a.ifname, queue, errors.Join(errs...))
}

func newSocket(a *attachment, queue int, o Options, bindFlag uint16) (_ *Socket, err error) {
	s := &Socket{
		fd: -1, efd: -1,
		ifname: a.ifname, ifindex: a.ifindex, queue: queue, att: a,
		frameSize: o.FrameSize, frameMask: uint64(o.FrameSize - 1),
		rxSize: o.RxRingSize, txSize: o.TxRingSize,
		txFree: make([]uint64, 0, o.TxRingSize),
	}
	defer func() {
		if err != nil {
			s.teardown()
		}
	}()
	if s.fd, err = unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("AF_XDP socket: %w", err)
	}
	s.umem, err = unix.Mmap(-1, 0, (s.rxSize+s.txSize)*s.frameSize,
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mmap UMEM: %w", err)
	}
	if err = s.setupRings(); err != nil {
		return nil, err
	}
	s.fillAll()
	sa := &unix.SockaddrXDP{Flags: bindFlag | unix.XDP_USE_NEED_WAKEUP, Ifindex: uint32(a.ifindex), QueueID: uint32(queue)}
	if err = unix.Bind(s.fd, sa); err != nil {
		return nil, fmt.Errorf("bind (%s): %w", bindName(bindFlag), err)
	}
	var opts uint32
	if err := getsockoptPtr(s.fd, unix.SOL_XDP, unix.XDP_OPTIONS, unsafe.Pointer(&opts), 4); err == nil {
		s.mode.ZeroCopy = opts&unix.XDP_OPTIONS_ZEROCOPY != 0
	}
	s.mode.Attach = a.mode
	s.mode.FastPath = a.fast
	if !s.mode.ZeroCopy {
		// In copy mode each sendto transmits at most this many frames
		// (32 by default). Raising it to the ring size lets one kick send
		// a whole batch; older kernels lack the option, which is fine.
		_ = unix.SetsockoptInt(s.fd, unix.SOL_XDP, unix.XDP_MAX_TX_SKB_BUDGET, s.txSize)
	}
	if s.efd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	s.pollfds = [2]unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}, {Fd: int32(s.efd), Events: unix.POLLIN}}
	// Last: from here on the XDP program steers the queue's frames here.
	if err = a.l.xsks.Put(uint32(queue), uint32(s.fd)); err != nil {
		return nil, fmt.Errorf("insert socket into XSKMAP: %w", err)
	}
	return s, nil
}

func bindName(flag uint16) string {
	if flag == unix.XDP_ZEROCOPY {
		return "zero-copy"
	}
	return "copy"
}

// teardown releases the kernel objects s holds (not the attachment).
func (s *Socket) teardown() {
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
	s.unmapAll()
	if s.efd >= 0 {
		unix.Close(s.efd)
		s.efd = -1
	}
}

// BatchSize is pktio.BatchSize.
func (s *Socket) BatchSize() int { return pktio.BatchSize }

// Mode reports the XDP attach mode and whether the socket is zero-copy.
func (s *Socket) Mode() Mode { return s.mode }

// FastPathActive reports whether the interface runs the fast path program:
// the socket receives only the frames it punts.
func (s *Socket) FastPathActive() bool { return s.mode.FastPath }

// Interface returns the interface name and the socket's RX queue.
func (s *Socket) Interface() (string, int) { return s.ifname, s.queue }

// Close removes the socket from the XSKMAP, wakes a blocked ReadBatch (it
// returns pktio.ErrClosed), waits for running batches, frees the rings
// and the UMEM, and detaches the XDP program when it was the interface's
// last socket. Closing twice is a no-op.
func (s *Socket) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	one := [8]byte{1}
	_, _ = unix.Write(s.efd, one[:]) // eventfd takes a host-order uint64; any non-zero value wakes poll
	s.mu.Lock()
	defer s.mu.Unlock()
	// Delete before closing so the entry removed is certainly this
	// socket's; the kernel would also drop it when the socket is freed.
	_ = s.att.l.xsks.Delete(uint32(s.queue))
	s.teardown()
	s.att.release()
	return nil
}

// Stats returns the socket's counters, including the kernel's
// XDP_STATISTICS while the socket is open.
func (s *Socket) Stats() Stats {
	st := Stats{
		RxPackets:       s.rxStats.packets.Load(),
		RxBytes:         s.rxStats.bytes.Load(),
		RxTruncated:     s.rxStats.truncated.Load(),
		RxKicks:         s.rxStats.kicks.Load(),
		Polls:           s.rxStats.polls.Load(),
		TxPackets:       s.txStats.packets.Load(),
		TxBytes:         s.txStats.bytes.Load(),
		TxRingFull:      s.txStats.ringFull.Load(),
		TxOversize:      s.txStats.oversize.Load(),
		CompletionEmpty: s.txStats.compEmpty.Load(),
		TxKicks:         s.txStats.kicks.Load(),
		KickErrors:      s.txStats.kickErrors.Load(),
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return st
	}
	var ks unix.XDPStatistics
	if getsockoptPtr(s.fd, unix.SOL_XDP, unix.XDP_STATISTICS, unsafe.Pointer(&ks), unsafe.Sizeof(ks)) == nil {
		st.RxDropped = ks.Rx_dropped
		st.RxInvalidDescs = ks.Rx_invalid_descs
		st.TxInvalidDescs = ks.Tx_invalid_descs
		st.RxRingFull = ks.Rx_ring_full
		st.FillRingEmpty = ks.Rx_fill_ring_empty_descs
		st.TxRingEmptyDesc = ks.Tx_ring_empty_descs
	}
	return st
}

// RxQueues returns how many RX queues ifname has in the calling thread's
// namespace — how many sockets OpenAll opens.
func RxQueues(ifname string) (int, error) { return rxQueues(ifname) }
