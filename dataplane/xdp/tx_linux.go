package xdp

import (
	"fmt"

	"github.com/fibd/fibd/dataplane/pktio"
	"golang.org/x/sys/unix"
)

// maxTxKicks bounds the sendto calls one WriteBatch makes while the kernel
// still has frames of it on the TX ring (copy mode sends at most its TX
// budget per call and answers EAGAIN when more remain).
const maxTxKicks = 4

// WriteBatch copies the frames into idle TX frames, publishes them on the
// TX ring and kicks the kernel if it asked for it. It returns how many
// frames, from the first, were put on the ring: frames that find no TX
// slot are counted (TxRingFull) and the count is short with a nil error;
// a frame longer than FrameSize (or empty) is counted (TxOversize) and
// ends the batch with pktio.ErrFrameSize, so the caller knows which
// frame it was.
func (s *Socket) WriteBatch(bufs [][]byte) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return 0, pktio.ErrClosed
	}
	if len(bufs) == 0 {
		return 0, nil
	}
	want := uint32(len(bufs))
	s.reap()
	n := min(want, uint32(len(s.txFree)), s.tx.free(want))
	if n < want {
		// The kernel may still be sending an earlier batch: push it along
		// and collect its completions before dropping anything.
		if err := s.kickTx(); err != nil {
			return 0, err
		}
		s.reap()
		if len(s.txFree) == 0 {
			s.txStats.compEmpty.Add(1)
		}
		n = min(want, uint32(len(s.txFree)), s.tx.free(want))
	}
	prod := s.tx.cachedProd
	var placed uint32
	var bytes uint64
	var verdict error
	i := 0
	for ; i < len(bufs) && placed < n; i++ {
		b := bufs[i]
		if len(b) == 0 || len(b) > s.frameSize {
			// The contract is a prefix: stop here, so the caller knows
			// exactly which frames went.
			s.txStats.oversize.Add(1)
			verdict = pktio.ErrFrameSize
			break
		}
		top := len(s.txFree) - 1
		addr := s.txFree[top]
		s.txFree = s.txFree[:top]
		copy(s.umem[addr:addr+uint64(len(b))], b)
		*s.tx.at(prod + placed) = desc{Addr: addr, Len: uint32(len(b))}
		placed++
		bytes += uint64(len(b))
	}
	if verdict == nil {
		if dropped := len(bufs) - i; dropped > 0 {
			s.txStats.ringFull.Add(uint64(dropped))
		}
	}
	if placed == 0 {
		return 0, verdict
	}
	s.tx.submit(placed)
	s.txStats.packets.Add(uint64(placed))
	s.txStats.bytes.Add(bytes)
	if err := s.kickTx(); err != nil {
		return int(placed), err
	}
	return int(placed), verdict
}

// reap returns the frames of completed transmissions to the free list.
func (s *Socket) reap() {
	n := s.comp.avail(s.comp.size)
	if n == 0 {
		return
	}
	idx := s.comp.cachedCons
	for i := range n {
		// txFree has capacity for every TX frame: no allocation.
		s.txFree = append(s.txFree, *s.comp.at(idx + i))
	}
	s.comp.release(n)
}

// kickTx makes the kernel transmit what is on the TX ring, with a sendto
// only when the kernel set XDP_RING_NEED_WAKEUP (copy mode always does;
// zero-copy drivers only when their NAPI loop went idle).
func (s *Socket) kickTx() error {
	for range maxTxKicks {
		if !s.tx.needWakeup() {
			return nil
		}
		s.txStats.kicks.Add(1)
		_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
		case unix.EAGAIN, unix.EBUSY, unix.ENOBUFS:
			// Budget used up, device queue busy or a transient skb
			// shortage: the frames stay on the ring for the next kick.
			s.txStats.kickErrors.Add(1)
		default:
			return fmt.Errorf("xdp: transmit on %s queue %d: %w", s.ifname, s.queue, errno)
		}
		if s.mode.ZeroCopy || !s.tx.pending() {
			return nil
		}
	}
	return nil
}
