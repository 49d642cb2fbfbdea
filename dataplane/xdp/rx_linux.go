package xdp

import (
	"fmt"

	"github.com/fibd/fibd/dataplane/pktio"
	"golang.org/x/sys/unix"
)

// ReadBatch blocks until frames are on the RX ring, copies up to len(bufs)
// of them into bufs and hands their UMEM frames straight back to the kernel
// through the fill ring. VLAN tags stay inline in the frame (meta.HasVLAN
// is never set). It returns pktio.ErrClosed once Close is called.
func (s *Socket) ReadBatch(bufs [][]byte, meta []pktio.RxMeta) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	want := uint32(min(len(bufs), len(meta), pktio.BatchSize))
	if want == 0 {
		return 0, nil
	}
	for {
		if s.closed.Load() {
			return 0, pktio.ErrClosed
		}
		if n := s.rx.avail(want); n > 0 {
			return s.receive(bufs, meta, n), nil
		}
		if err := s.waitRx(); err != nil {
			return 0, err
		}
	}
}

// receive copies n frames out of the RX ring and recycles their frames.
func (s *Socket) receive(bufs [][]byte, meta []pktio.RxMeta, n uint32) int {
	var bytes, truncated uint64
	rxIdx := s.rx.cachedCons
	// Every RX frame is lent to the kernel exactly once, so the fill ring
	// always has a slot for each frame taken off the RX ring.
	room := s.fill.free(n)
	fillIdx := s.fill.cachedProd
	for i := range n {
		d := s.rx.at(rxIdx + i)
		frame := s.umem[d.Addr : d.Addr+uint64(d.Len)]
		c := copy(bufs[i], frame)
		meta[i] = pktio.RxMeta{Len: c, Truncated: c < len(frame)}
		if c < len(frame) {
			truncated++
		}
		bytes += uint64(c)
		if i < room {
			// Aligned mode: the descriptor's address points past the
			// headroom; the fill ring wants the chunk's start.
			*s.fill.at(fillIdx + i) = d.Addr &^ s.frameMask
		}
	}
	s.rx.release(n)
	s.fill.submit(room)
	if s.fill.needWakeup() {
		// Zero-copy drivers stop RX when the fill ring ran dry and wait
		// for a system call to restart; copy mode never sets the flag.
		s.rxStats.kicks.Add(1)
		_, _, _ = unix.Syscall6(unix.SYS_RECVFROM, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	}
	s.rxStats.packets.Add(uint64(n))
	s.rxStats.bytes.Add(bytes)
	if truncated > 0 {
		s.rxStats.truncated.Add(truncated)
	}
	return int(n)
}

// idleCheck is how long ReadBatch sleeps before checking the socket for an
// error. An AF_XDP socket whose interface was deleted is unbound by the
// kernel with sk_err = ENETDOWN, but poll on an unbound socket reports no
// event at all, so without the check ReadBatch would sleep forever.
var idleCheck = unix.Timespec{Sec: 1}

// waitRx blocks in ppoll until the RX ring is readable or Close writes the
// eventfd. Polling an AF_XDP socket also performs the fill-ring wakeup a
// zero-copy driver may need.
func (s *Socket) waitRx() error {
	s.rxStats.polls.Add(1)
	for {
		s.pollfds[0].Revents, s.pollfds[1].Revents = 0, 0
		s.pollTimeout = idleCheck // ppoll writes back the time left
		n, err := unix.Ppoll(s.pollfds[:], &s.pollTimeout, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("xdp: poll %s queue %d: %w", s.ifname, s.queue, err)
		}
		if s.pollfds[1].Revents != 0 {
			return pktio.ErrClosed
		}
		if s.pollfds[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
			return fmt.Errorf("xdp: poll %s queue %d: socket error (revents %#x)", s.ifname, s.queue, s.pollfds[0].Revents)
		}
		if n == 0 {
			if soErr, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && soErr != 0 {
				return fmt.Errorf("xdp: %s queue %d: %w", s.ifname, s.queue, unix.Errno(soErr))
			}
			if s.rx.avail(1) == 0 {
				continue
			}
		}
		return nil
	}
}
