package xdp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The UMEM is one anonymous mapping registered with the socket and cut into
// FrameSize chunks: the first RxRingSize chunks circulate between the fill
// ring, the kernel and the RX ring; the remaining TxRingSize chunks between
// the TX free list, the TX ring and the completion ring. Because every RX
// chunk is either in the fill ring, in the kernel's hands or in the RX ring,
// returning a consumed RX chunk to the fill ring always finds a free slot,
// and no chunk is ever allocated or freed after setup.

// setsockoptPtr is setsockopt with a struct argument.
func setsockoptPtr(fd, level, opt int, p unsafe.Pointer, size uintptr) error {
	_, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(p), size, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// getsockoptPtr is getsockopt with a struct result.
func getsockoptPtr(fd, level, opt int, p unsafe.Pointer, size uintptr) error {
	l := uint32(size)
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(p), uintptr(unsafe.Pointer(&l)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// setupRings registers the UMEM with fd, sizes the four rings and maps them
// into s. On error the caller unmaps what s holds.
func (s *Socket) setupRings() error {
	reg := unix.XDPUmemReg{
		Addr: uint64(uintptr(unsafe.Pointer(&s.umem[0]))),
		Len:  uint64(len(s.umem)),
		Size: uint32(s.frameSize),
	}
	if err := setsockoptPtr(s.fd, unix.SOL_XDP, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		return fmt.Errorf("XDP_UMEM_REG: %w", err)
	}
	for _, r := range []struct {
		opt, size int
	}{
		{unix.XDP_UMEM_FILL_RING, s.rxSize},
		{unix.XDP_UMEM_COMPLETION_RING, s.txSize},
		{unix.XDP_RX_RING, s.rxSize},
		{unix.XDP_TX_RING, s.txSize},
	} {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_XDP, r.opt, r.size); err != nil {
			return fmt.Errorf("set ring size (opt %d): %w", r.opt, err)
		}
	}
	var off unix.XDPMmapOffsets
	if err := getsockoptPtr(s.fd, unix.SOL_XDP, unix.XDP_MMAP_OFFSETS, unsafe.Pointer(&off), unsafe.Sizeof(off)); err != nil {
		return fmt.Errorf("XDP_MMAP_OFFSETS: %w", err)
	}

	var err error
	descSize := unsafe.Sizeof(desc{})
	if s.fillMem, err = s.mapRing(&s.fill.ring, off.Fr, unix.XDP_UMEM_PGOFF_FILL_RING, s.rxSize, 8, true); err != nil {
		return err
	}
	s.fill.addrs = unsafe.Slice((*uint64)(unsafe.Pointer(&s.fillMem[off.Fr.Desc])), s.rxSize)
	if s.compMem, err = s.mapRing(&s.comp.ring, off.Cr, unix.XDP_UMEM_PGOFF_COMPLETION_RING, s.txSize, 8, false); err != nil {
		return err
	}
	s.comp.addrs = unsafe.Slice((*uint64)(unsafe.Pointer(&s.compMem[off.Cr.Desc])), s.txSize)
	if s.rxMem, err = s.mapRing(&s.rx.ring, off.Rx, unix.XDP_PGOFF_RX_RING, s.rxSize, descSize, false); err != nil {
		return err
	}
	s.rx.descs = unsafe.Slice((*desc)(unsafe.Pointer(&s.rxMem[off.Rx.Desc])), s.rxSize)
	if s.txMem, err = s.mapRing(&s.tx.ring, off.Tx, unix.XDP_PGOFF_TX_RING, s.txSize, descSize, true); err != nil {
		return err
	}
	s.tx.descs = unsafe.Slice((*desc)(unsafe.Pointer(&s.txMem[off.Tx.Desc])), s.txSize)
	return nil
}

// mapRing maps one ring and points r's indices into it.
func (s *Socket) mapRing(r *ring, off unix.XDPRingOffset, pgoff int64, entries int, entrySize uintptr, producer bool) ([]byte, error) {
	size := int(off.Desc) + entries*int(entrySize)
	mem, err := unix.Mmap(s.fd, pgoff, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mmap ring at %#x: %w", pgoff, err)
	}
	p := unsafe.Pointer(&mem[off.Producer])
	c := unsafe.Pointer(&mem[off.Consumer])
	f := unsafe.Pointer(&mem[off.Flags])
	if producer {
		r.initProducer(p, c, f, uint32(entries))
	} else {
		r.initConsumer(p, c, f, uint32(entries))
	}
	return mem, nil
}

// fillAll lends every RX frame to the kernel and stocks the TX free list.
func (s *Socket) fillAll() {
	n := s.fill.free(uint32(s.rxSize))
	for i := range n {
		*s.fill.at(s.fill.cachedProd + i) = uint64(i) * uint64(s.frameSize)
	}
	s.fill.submit(n)
	s.txFree = s.txFree[:0]
	for i := range s.txSize {
		s.txFree = append(s.txFree, uint64(s.rxSize+i)*uint64(s.frameSize))
	}
}

// unmapAll releases the rings and the UMEM mapping.
func (s *Socket) unmapAll() {
	for _, m := range []*[]byte{&s.fillMem, &s.compMem, &s.rxMem, &s.txMem, &s.umem} {
		if *m != nil {
			_ = unix.Munmap(*m)
			*m = nil
		}
	}
}
