package afpacket

import (
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/dataplane/pktio"
)

// ReadBatch implements pktio.PacketIO. It copies frames out of the ring
// into bufs (frames longer than a buffer are cut and marked Truncated),
// splits GSO super-frames into wire-sized segments (see Segmenter), and
// blocks in poll(2) only when the ring holds nothing.
func (p *Port) ReadBatch(bufs [][]byte, meta []pktio.RxMeta) (int, error) {
	p.rx.Lock()
	defer p.rx.Unlock()
	max := min(len(bufs), len(meta))
	for {
		if p.closed.Load() {
			return 0, pktio.ErrClosed
		}
		if n := p.fillLocked(bufs[:max], meta[:max]); n > 0 || max == 0 {
			return n, nil
		}
		if err := p.waitLocked(); err != nil {
			return 0, err
		}
	}
}

// waitLocked sleeps until the kernel retires a block or Close is called.
func (p *Port) waitLocked() error {
	for {
		// A blocking wait: the normal Syscall path, so the Go scheduler
		// hands this P to other goroutines while we sleep.
		_, err := unix.Poll(p.rx.poll[:], -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if p.rx.poll[1].Revents != 0 {
			return pktio.ErrClosed
		}
		if p.rx.poll[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
			// A pending socket error (e.g. the device went away);
			// reading SO_ERROR clears it so the next poll sleeps.
			if _, err := unix.GetsockoptInt(p.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil {
				return err
			}
		}
		return nil
	}
}

// fillLocked moves up to len(bufs) frames from the ring into bufs.
func (p *Port) fillLocked(bufs [][]byte, meta []pktio.RxMeta) int {
	r := &p.rx.ring
	n := 0
	var truncated, gso, gsoDropped uint64
	for n < len(bufs) {
		if !p.rx.seg.Done() {
			l, err := p.rx.seg.Segment(bufs[n])
			if err != nil {
				p.rx.seg.Reset()
				gsoDropped++
				continue
			}
			meta[n] = p.rx.meta
			meta[n].Len = l
			n++
			continue
		}
		if !r.acquire() {
			break
		}
		h := r.next()
		if h == nil {
			r.release()
			continue
		}
		pkt, vnet, ok := r.frame(h)
		if !ok {
			truncated++
			continue
		}
		m := pktio.RxMeta{}
		if h.Status&unix.TP_STATUS_VLAN_VALID != 0 {
			m.HasVLAN, m.VLAN, m.VLANTPID = true, uint16(h.Hv1.Vlan_tci), 0x8100
			if h.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
				m.VLANTPID = h.Hv1.Vlan_tpid
			}
		}
		vh := packet.ParseVnetHdr(vnet)
		if vh.GSOType != packet.VnetGSONone {
			// A super-frame cut short by the ring cannot be segmented.
			if h.Snaplen < h.Len || p.rx.seg.Init(pkt, int(h.Net)-int(h.Mac), vh) != nil {
				gsoDropped++
				continue
			}
			gso++
			p.rx.meta = m
			continue
		}
		if vh.Flags&packet.VnetFlagNeedsCsum != 0 || h.Status&unix.TP_STATUS_CSUMNOTREADY != 0 {
			m.CsumPartial, m.CsumStart, m.CsumOffset = true, vh.CsumStart, vh.CsumOffset
		}
		m.Len = copy(bufs[n], pkt)
		if m.Len < int(h.Len) {
			m.Truncated = true
			truncated++
		}
		meta[n] = m
		n++
	}
	// Hand a finished block back now rather than on the next call, unless
	// the Segmenter still reads from it.
	if r.blk != nil && r.left == 0 && p.rx.seg.Done() {
		r.release()
	}
	p.stats.rxFrames.Add(uint64(n))
	if truncated|gso|gsoDropped != 0 {
		p.stats.rxTruncated.Add(truncated)
		p.stats.rxGSO.Add(gso)
		p.stats.rxGSODropped.Add(gsoDropped)
	}
	return n
}
