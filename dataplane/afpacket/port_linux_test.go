package afpacket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane/pktio"
	"github.com/fibd/fibd/internal/netnstest"
)

// pair is two namespaces joined by one veth (a ↔ b), IPv6 off so the
// kernels stay silent, with a Port open on each end.
type pair struct {
	a, b   *Port
	na, nb *netnstest.NS
}

func newPair(t *testing.T) *pair {
	t.Helper()
	na, nb := netnstest.New(t, "pa"), netnstest.New(t, "pb")
	la, lb := netnstest.Name("a"), netnstest.Name("b")
	netnstest.Veth(t, la, na, lb, nb)
	na.Sysctl("net/ipv6/conf/"+la+"/disable_ipv6", "1")
	nb.Sysctl("net/ipv6/conf/"+lb+"/disable_ipv6", "1")
	return &pair{a: openIn(t, na, la, Config{}), b: openIn(t, nb, lb, Config{}), na: na, nb: nb}
}

// frame builds an Ethernet frame with the given ethertype chain (tags
// first) and payload.
func frame(dst, src net.HardwareAddr, types []uint16, payload []byte) []byte {
	f := append(append([]byte{}, dst...), src...)
	for i, et := range types {
		f = binary.BigEndian.AppendUint16(f, et)
		if i < len(types)-1 {
			f = binary.BigEndian.AppendUint16(f, uint16(100*(i+1)+i)) // a TCI
		}
	}
	return append(f, payload...)
}

// readN reads frames from p until n arrived or the deadline passed.
func readN(t *testing.T, p *Port, n int, d time.Duration) ([][]byte, []pktio.RxMeta) {
	t.Helper()
	type res struct {
		frames [][]byte
		meta   []pktio.RxMeta
		err    error
	}
	done := make(chan res, 1)
	stop := make(chan struct{})
	go func() {
		var r res
		bufs := make([][]byte, pktio.BatchSize)
		for i := range bufs {
			bufs[i] = make([]byte, pktio.MaxFrame)
		}
		meta := make([]pktio.RxMeta, pktio.BatchSize)
		for len(r.frames) < n {
			k, err := p.ReadBatch(bufs, meta)
			if err != nil {
				r.err = err
				break
			}
			for i := range k {
				r.frames = append(r.frames, append([]byte{}, bufs[i][:meta[i].Len]...))
				r.meta = append(r.meta, meta[i])
			}
		}
		select {
		case done <- r:
		case <-stop:
		}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("ReadBatch: %v", r.err)
		}
		return r.frames, r.meta
	case <-time.After(d):
		close(stop)
		_ = p.Close() // unblocks the reader
		t.Fatalf("timed out waiting for %d frames", n)
		return nil, nil
	}
}

func TestWriteThenReadAcrossVeth(t *testing.T) {
	netnstest.Require(t)
	p := newPair(t)
	var out [][]byte
	for i := range 200 {
		pl := bytes.Repeat([]byte{byte(i)}, 46+i*7%1400)
		out = append(out, frame(macDst, macSrc, []uint16{0x88b5}, pl)) // local experimental ethertype
	}
	n, err := p.a.WriteBatch(out)
	if err != nil || n != len(out) {
		t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, len(out))
	}
	got, meta := readN(t, p.b, len(out), 5*time.Second)
	for i := range out {
		if !bytes.Equal(got[i], out[i]) {
			t.Fatalf("frame %d differs: got %d bytes, want %d", i, len(got[i]), len(out[i]))
		}
		if meta[i].HasVLAN || meta[i].Truncated || meta[i].CsumPartial {
			t.Fatalf("frame %d: unexpected meta %+v", i, meta[i])
		}
	}
	// PACKET_IGNORE_OUTGOING: the sender saw none of its own frames.
	time.Sleep(20 * time.Millisecond)
	if s := p.a.Stats(); s.RxKernel != 0 {
		t.Errorf("sender's ring received %d frames; its own transmissions must be ignored", s.RxKernel)
	}
	if s := p.a.Stats(); s.TxFrames != uint64(len(out)) {
		t.Errorf("TxFrames = %d, want %d", s.TxFrames, len(out))
	}
}

// TestVLANTagsReportedOutOfBand checks the kernel contract the dataplane
// relies on: the receive path strips the outer tag of an 802.1Q (0x8100) or
// 802.1ad (0x88a8) frame into tp_vlan_tci/tp_vlan_tpid even with no 8021q
// module loaded, and for QinQ only the outer tag — the inner 0x8100 tag
// stays in the frame.
func TestVLANTagsReportedOutOfBand(t *testing.T) {
	netnstest.Require(t)
	p := newPair(t)
	payload := bytes.Repeat([]byte{0xab}, 50)
	dot1q := frame(macDst, macSrc, []uint16{0x8100, 0x88b5}, payload)
	dot1q[14] = 0x60 // PCP 3, VID 100: TCI 0x6064
	qinq := frame(macDst, macSrc, []uint16{0x88a8, 0x8100, 0x88b5}, payload)
	if n, err := p.a.WriteBatch([][]byte{dot1q, qinq}); n != 2 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	got, meta := readN(t, p.b, 2, 5*time.Second)

	if m := meta[0]; !m.HasVLAN || m.VLAN != 0x6064 || m.VLANTPID != 0x8100 {
		t.Errorf("802.1Q: meta %+v, want TCI 0x6064 TPID 0x8100", m)
	}
	if want := frame(macDst, macSrc, []uint16{0x88b5}, payload); !bytes.Equal(got[0], want) {
		t.Errorf("802.1Q: tag not stripped from the frame: % x", got[0][:18])
	}
	if m := meta[1]; !m.HasVLAN || m.VLAN != 100 || m.VLANTPID != 0x88a8 {
		t.Errorf("QinQ: meta %+v, want outer TCI 100 TPID 0x88a8", m)
	}
	inner := append(append(append([]byte{}, macDst...), macSrc...), 0x81, 0x00, 0x00, 201, 0x88, 0xb5)
	if !bytes.HasPrefix(got[1], inner) {
		t.Errorf("QinQ: want the inner 0x8100 tag (VID 201) inline, got % x", got[1][:18])
	}
}

func TestReadBatchTruncatesToBuffer(t *testing.T) {
	netnstest.Require(t)
	p := newPair(t)
	f := frame(macDst, macSrc, []uint16{0x88b5}, bytes.Repeat([]byte{7}, 986))
	if n, err := p.a.WriteBatch([][]byte{f}); n != 1 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	bufs := [][]byte{make([]byte, 100)}
	meta := make([]pktio.RxMeta, 1)
	n, err := p.b.ReadBatch(bufs, meta)
	if err != nil || n != 1 {
		t.Fatalf("ReadBatch = %d, %v", n, err)
	}
	if !meta[0].Truncated || meta[0].Len != 100 || !bytes.Equal(bufs[0], f[:100]) {
		t.Fatalf("meta %+v: want Truncated with the first 100 bytes", meta[0])
	}
	if s := p.b.Stats(); s.RxTruncated != 1 {
		t.Errorf("RxTruncated = %d, want 1", s.RxTruncated)
	}
}

// TestWriteBatchStopsAtOversizeFrame checks the prefix contract: a frame
// the kernel refuses ends the call with ErrFrameSize and a count naming it,
// so the caller counts the right frame, and the frames after it go in the
// next call.
func TestWriteBatchStopsAtOversizeFrame(t *testing.T) {
	netnstest.Require(t)
	p := newPair(t)
	small := frame(macDst, macSrc, []uint16{0x88b5}, make([]byte, 100))
	huge := frame(macDst, macSrc, []uint16{0x88b5}, make([]byte, 1600)) // > MTU 1500
	batch := [][]byte{small, huge, small}
	n, err := p.a.WriteBatch(batch)
	if !errors.Is(err, pktio.ErrFrameSize) || n != 1 {
		t.Fatalf("WriteBatch = %d, %v; want 1, ErrFrameSize", n, err)
	}
	if n, err := p.a.WriteBatch(batch[n+1:]); n != 1 || err != nil {
		t.Fatalf("WriteBatch after the refused frame = %d, %v; want 1, nil", n, err)
	}
	if s := p.a.Stats(); s.TxErrors != 1 || s.TxFrames != 2 {
		t.Errorf("stats %+v: want TxErrors 1, TxFrames 2", s)
	}
	readN(t, p.b, 2, 5*time.Second)
}

func TestCloseUnblocksReadBatch(t *testing.T) {
	netnstest.Require(t)
	p := newPair(t)
	errc := make(chan error, 1)
	go func() {
		bufs := [][]byte{make([]byte, pktio.MaxFrame)}
		_, err := p.b.ReadBatch(bufs, make([]pktio.RxMeta, 1))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := p.b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, pktio.ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock ReadBatch")
	}
	if _, err := p.b.WriteBatch([][]byte{{1}}); !errors.Is(err, pktio.ErrClosed) {
		t.Errorf("WriteBatch after Close: %v, want ErrClosed", err)
	}
	if err := p.b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestReadWriteBatchDoNotAllocate(t *testing.T) {
	netnstest.Require(t)
	p := newPair(t)
	out := make([][]byte, 16)
	for i := range out {
		out[i] = frame(macDst, macSrc, []uint16{0x88b5}, make([]byte, 46))
	}
	bufs := make([][]byte, pktio.BatchSize)
	for i := range bufs {
		bufs[i] = make([]byte, pktio.MaxFrame)
	}
	meta := make([]pktio.RxMeta, pktio.BatchSize)
	allocs := testing.AllocsPerRun(50, func() {
		if n, err := p.a.WriteBatch(out); n != len(out) || err != nil {
			t.Fatalf("WriteBatch = %d, %v", n, err)
		}
		for got := 0; got < len(out); {
			n, err := p.b.ReadBatch(bufs, meta)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if allocs != 0 {
		t.Fatalf("WriteBatch+ReadBatch allocate %v times per round", allocs)
	}
}

func TestOpenUnknownInterface(t *testing.T) {
	netnstest.Require(t)
	ns := netnstest.New(t, "pa")
	err := ns.Do(func() error {
		p, err := Open("fibd-nonesuch", Config{})
		if err == nil {
			p.Close()
		}
		return err
	})
	if err == nil {
		t.Fatal("Open of a missing interface succeeded")
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{{BlockSize: 100_000}, {BlockSize: 32 << 10}, {NumBlocks: 1}, {RetireTimeout: -1}} {
		if _, err := Open("lo", c); err == nil {
			t.Errorf("Open with %+v succeeded", c)
		}
	}
}
