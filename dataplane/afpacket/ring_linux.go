package afpacket

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/dataplane/packet"
)

// ring is a mapped TPACKET_V3 receive ring. The kernel fills blocks in
// order; a block is ours once its block_status has TP_STATUS_USER, and it
// goes back by storing TP_STATUS_KERNEL. Frames inside a block are packed
// at variable offsets (tp_next_offset), so small frames waste no space,
// and the kernel wakes poll once per block rather than once per frame.
type ring struct {
	mem       []byte
	blockSize int
	numBlocks int
	cur       int    // index of the block being read
	blk       []byte // the block being read, nil when not held
	left      uint32 // frames not yet read in blk
	off       uint32 // offset in blk of the next frame
}

// Offsets of struct tpacket_block_desc / tpacket_hdr_v1 (linux/if_packet.h):
// version, offset_to_priv, then the v1 header.
const (
	blkStatusOff   = 8
	blkNumPktsOff  = 12
	blkFirstPktOff = 16
)

func (r *ring) setup(fd int, cfg Config) error {
	tov := (cfg.RetireTimeout + 999_999) / 1_000_000 // ms, rounded up
	const frameSize = 2048                           // only sizes tp_frame_nr; V3 packs frames
	req := unix.TpacketReq3{
		Block_size:     uint32(cfg.BlockSize),
		Block_nr:       uint32(cfg.NumBlocks),
		Frame_size:     frameSize,
		Frame_nr:       uint32(cfg.BlockSize / frameSize * cfg.NumBlocks),
		Retire_blk_tov: uint32(tov),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("setsockopt PACKET_RX_RING: %w", err)
	}
	size := cfg.BlockSize * cfg.NumBlocks
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	r.mem, r.blockSize, r.numBlocks = mem, cfg.BlockSize, cfg.NumBlocks
	return nil
}

func (r *ring) unmap() error {
	if r.mem == nil {
		return nil
	}
	err := unix.Munmap(r.mem)
	*r = ring{}
	return err
}

func (r *ring) word(b []byte, off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&b[off]))
}

// acquire makes the current block readable if the kernel has handed it
// over. It reports whether a block is held.
func (r *ring) acquire() bool {
	if r.blk != nil {
		return true
	}
	b := r.mem[r.cur*r.blockSize : (r.cur+1)*r.blockSize]
	// Acquire order: the frames are valid once we see TP_STATUS_USER.
	if atomic.LoadUint32(r.word(b, blkStatusOff))&unix.TP_STATUS_USER == 0 {
		return false
	}
	r.blk = b
	r.left = *r.word(b, blkNumPktsOff)
	r.off = *r.word(b, blkFirstPktOff)
	return true
}

// next returns the next frame header in the held block, or nil when the
// block is exhausted.
func (r *ring) next() *unix.Tpacket3Hdr {
	if r.left == 0 || int(r.off)+unix.SizeofTpacket3Hdr > len(r.blk) {
		return nil
	}
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&r.blk[r.off]))
	r.left--
	if h.Next_offset == 0 {
		r.left = 0
	}
	r.off += h.Next_offset
	return h
}

// frame returns the bytes of the frame described by h (snaplen bytes from
// tp_mac) and the vnet header in front of them.
func (r *ring) frame(h *unix.Tpacket3Hdr) (pkt, vnet []byte, ok bool) {
	base := int(uintptr(unsafe.Pointer(h)) - uintptr(unsafe.Pointer(&r.blk[0])))
	mac := base + int(h.Mac)
	end := mac + int(h.Snaplen)
	if int(h.Mac) < packet.VnetHdrLen || end > len(r.blk) {
		return nil, nil, false
	}
	return r.blk[mac:end:end], r.blk[mac-packet.VnetHdrLen : mac], true
}

// release hands the held block back to the kernel and moves on.
func (r *ring) release() {
	if r.blk == nil {
		return
	}
	// Release order: our reads of the block happen before the kernel may
	// overwrite it.
	atomic.StoreUint32(r.word(r.blk, blkStatusOff), unix.TP_STATUS_KERNEL)
	r.blk = nil
	r.cur++
	if r.cur == r.numBlocks {
		r.cur = 0
	}
}
