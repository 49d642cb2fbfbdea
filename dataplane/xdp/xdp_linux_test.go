package xdp

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane/pktio"
	"golang.org/x/sys/unix"
)

// TestReceive sends frames — plain and 802.1Q-tagged, 60 to 1446 bytes —
// from the peer's AF_PACKET socket and expects every one, byte for byte
// with the tag inline, through ReadBatch, with the socket's XDP RX counter
// proving the AF_XDP path moved them.
func TestReceive(t *testing.T) {
	for _, mode := range []AttachMode{AttachNative, AttachGeneric} {
		t.Run(mode.String(), func(t *testing.T) {
			l := newLink(t, 1)
			s, err := openIn(t, l.ns, l.ours, 0, Options{Attach: mode})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Mode(); got.Attach != mode || got.ZeroCopy {
				t.Errorf("Mode() = %v, want %v/copy (veth has no zero-copy)", got, mode)
			}
			native, generic := xdpStateIn(t, l.ns, l.ours)
			if (mode == AttachNative) != (native == progNameAll) || (mode == AttachGeneric) != (generic == progNameAll) {
				t.Errorf("attached programs: native %q generic %q, want ours in %v mode", native, generic, mode)
			}
			var frames [][]byte
			for i := range 100 {
				vlan := uint16(0)
				if i%3 == 0 {
					vlan = uint16(100 + i) // VID 100+i, PCP 0
				}
				frames = append(frames, testFrame(l.oursMAC, l.peerMAC, vlan, uint32(i), 60+i*14))
			}
			rawSend(t, rawSocket(t, l.peerNS, l.peer), frames)
			before := s.Stats()
			got := collect(t, []*Socket{s}, len(frames), 3*time.Second)
			if len(got) != len(frames) {
				t.Fatalf("received %d of %d frames", len(got), len(frames))
			}
			for i, f := range frames {
				sameFrame(t, i, got[uint32(i)], f)
			}
			st := s.Stats()
			if st.RxPackets-before.RxPackets < uint64(len(frames)) {
				t.Errorf("RxPackets rose by %d, want ≥ %d", st.RxPackets-before.RxPackets, len(frames))
			}
			if st.RxDropped != 0 || st.RxInvalidDescs != 0 {
				t.Errorf("kernel counters: %+v", st)
			}
		})
	}
}

// TestTransmit writes frames with WriteBatch and expects the peer's
// AF_PACKET socket to see every one unchanged, with TxPackets counting
// them.
func TestTransmit(t *testing.T) {
	for _, mode := range []AttachMode{AttachNative, AttachGeneric} {
		t.Run(mode.String(), func(t *testing.T) {
			l := newLink(t, 1)
			s, err := openIn(t, l.ns, l.ours, 0, Options{Attach: mode})
			if err != nil {
				t.Fatal(err)
			}
			fd := rawSocket(t, l.peerNS, l.peer)
			var frames [][]byte
			for i := range 200 {
				vlan := uint16(0)
				if i%2 == 0 {
					vlan = 0x2000 | uint16(i) // PCP 1, VID i
				}
				frames = append(frames, testFrame(l.peerMAC, l.oursMAC, vlan, uint32(i), 60+i*7))
			}
			for b := 0; b < len(frames); b += pktio.BatchSize {
				batch := frames[b:min(b+pktio.BatchSize, len(frames))]
				n, err := s.WriteBatch(batch)
				if err != nil || n != len(batch) {
					t.Fatalf("WriteBatch = %d, %v; want %d", n, err, len(batch))
				}
			}
			got := rawCollect(fd, len(frames), 3*time.Second)
			if len(got) != len(frames) {
				t.Fatalf("peer received %d of %d frames", len(got), len(frames))
			}
			for i, f := range frames {
				sameFrame(t, i, got[uint32(i)], f)
			}
			st := s.Stats()
			if st.TxPackets != uint64(len(frames)) || st.TxKicks == 0 || st.TxInvalidDescs != 0 {
				t.Errorf("stats = %+v, want TxPackets %d, kicks > 0, no invalid descs", st, len(frames))
			}
		})
	}
}

// TestWriteBatchDropsOversize checks a frame that cannot fit a UMEM frame
// is counted and ends the batch with ErrFrameSize and a count naming it
// (frames are sent as a prefix), so the caller can go on after it.
func TestWriteBatchDropsOversize(t *testing.T) {
	l := newLink(t, 1)
	s, err := openIn(t, l.ns, l.ours, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fd := rawSocket(t, l.peerNS, l.peer)
	good := testFrame(l.peerMAC, l.oursMAC, 0, 7, 100)
	batch := [][]byte{make([]byte, DefaultFrameSize+1), good, nil}
	n, err := s.WriteBatch(batch)
	if n != 0 || !errors.Is(err, pktio.ErrFrameSize) {
		t.Fatalf("WriteBatch = %d, %v; want 0, ErrFrameSize", n, err)
	}
	n, err = s.WriteBatch(batch[1:])
	if n != 1 || !errors.Is(err, pktio.ErrFrameSize) {
		t.Fatalf("WriteBatch after the oversize frame = %d, %v; want 1, ErrFrameSize (the empty frame)", n, err)
	}
	if got := rawCollect(fd, 1, 2*time.Second); !bytes.Equal(got[7], good) {
		t.Errorf("peer got %x, want %x", got[7], good)
	}
	if st := s.Stats(); st.TxOversize != 2 || st.TxPackets != 1 {
		t.Errorf("TxOversize = %d, TxPackets = %d; want 2, 1", st.TxOversize, st.TxPackets)
	}
}

// TestNativeRefused uses a bridge, which has no driver XDP hook: a forced
// native attach fails with ErrXDPUnavailable naming the interface, and the
// automatic mode falls back to generic with a logged warning.
func TestNativeRefused(t *testing.T) {
	l := newLink(t, 1)
	br := "fibd-br0"
	l.ns.Exec("ip", "link", "add", br, "type", "bridge")
	l.ns.Exec("ip", "link", "set", br, "up")

	var logs logBuffer
	_, err := openIn(t, l.ns, br, 0, Options{Attach: AttachNative, Logger: logs.logger()})
	if !errors.Is(err, ErrXDPUnavailable) || !strings.Contains(err.Error(), br) || !strings.Contains(err.Error(), "native") {
		t.Fatalf("forced native on a bridge: err = %v, want ErrXDPUnavailable naming %s and native mode", err, br)
	}
	t.Logf("forced native on a bridge: %v", err)
	if native, generic := xdpStateIn(t, l.ns, br); native != "" || generic != "" {
		t.Errorf("failed attach left programs: native %q generic %q", native, generic)
	}

	s, err := openIn(t, l.ns, br, 0, Options{Logger: logs.logger()})
	if err != nil {
		t.Fatalf("auto on a bridge: %v", err)
	}
	if s.Mode().Attach != AttachGeneric {
		t.Errorf("auto on a bridge attached %v, want generic", s.Mode())
	}
	if !strings.Contains(logs.String(), "falling back to generic") {
		t.Errorf("no fallback warning logged; log:\n%s", logs.String())
	}
	s.Close()
	if native, generic := xdpStateIn(t, l.ns, br); native != "" || generic != "" {
		t.Errorf("Close left programs: native %q generic %q", native, generic)
	}
}

// TestZeroCopyOnVeth records the zero-copy outcome on veth: a required
// zero-copy bind fails clearly, the automatic mode falls back to copy.
func TestZeroCopyOnVeth(t *testing.T) {
	l := newLink(t, 1)
	_, err := openIn(t, l.ns, l.ours, 0, Options{Copy: ZeroCopyOnly})
	if !errors.Is(err, ErrXDPUnavailable) || !strings.Contains(err.Error(), "zero-copy") {
		t.Fatalf("ZeroCopyOnly on veth: err = %v, want ErrXDPUnavailable naming zero-copy", err)
	}
	t.Logf("ZeroCopyOnly on veth: %v", err)
	if native, generic := xdpStateIn(t, l.ns, l.ours); native != "" || generic != "" {
		t.Errorf("failed open left programs: native %q generic %q", native, generic)
	}
	s, err := openIn(t, l.ns, l.ours, 0, Options{Copy: CopyAuto})
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode().ZeroCopy {
		t.Errorf("veth bound zero-copy: %v", s.Mode())
	}
}

func TestOpenErrors(t *testing.T) {
	l := newLink(t, 1)
	if _, err := openIn(t, l.ns, l.ours, 1, Options{}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("queue 1 of a 1-queue veth: err = %v, want ErrBadOptions", err)
	}
	if _, err := openIn(t, l.ns, "fibd-nosuch0", 0, Options{}); !errors.Is(err, ErrXDPUnavailable) {
		t.Errorf("missing interface: err = %v, want ErrXDPUnavailable", err)
	}
	if _, err := openIn(t, l.ns, l.ours, 0, Options{RxRingSize: 1000}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("ring size 1000: err = %v, want ErrBadOptions", err)
	}
	s, err := openIn(t, l.ns, l.ours, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openIn(t, l.ns, l.ours, 0, Options{}); !errors.Is(err, ErrXDPUnavailable) || !errors.Is(err, unix.EBUSY) {
		t.Errorf("second socket on a bound queue: err = %v, want ErrXDPUnavailable wrapping EBUSY", err)
	}
	if _, err := openIn(t, l.ns, l.ours, 0, Options{PassNonIP: true}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("mismatched PassNonIP: err = %v, want ErrBadOptions", err)
	}
	// The failed opens must not have disturbed the working socket.
	if native, _ := xdpStateIn(t, l.ns, l.ours); native != progNameAll {
		t.Errorf("native program = %q after failed opens", native)
	}
	s.Close()
}

// TestCloseUnblocksReadBatch: a ReadBatch blocked on an idle link returns
// ErrClosed promptly when another goroutine closes the socket, and the
// last Close detaches the program.
func TestCloseUnblocksReadBatch(t *testing.T) {
	l := newLink(t, 1)
	s, err := openIn(t, l.ns, l.ours, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		bufs := [][]byte{make([]byte, pktio.MaxFrame)}
		meta := make([]pktio.RxMeta, 1)
		for {
			// Link-up chatter (IPv6 ND/MLD) may arrive first; keep
			// reading until Close.
			if _, err := s.ReadBatch(bufs, meta); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	s.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, pktio.ErrClosed) {
			t.Errorf("ReadBatch after Close = %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ReadBatch still blocked 2s after Close")
	}
	if _, err := s.WriteBatch([][]byte{make([]byte, 60)}); !errors.Is(err, pktio.ErrClosed) {
		t.Errorf("WriteBatch after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if native, generic := xdpStateIn(t, l.ns, l.ours); native != "" || generic != "" {
		t.Errorf("Close left programs: native %q generic %q", native, generic)
	}
}

// TestAllQueues opens every queue of a 2-queue veth. The peer's kernel
// spreads UDP flows over its TX queues by flow hash and veth delivers TX
// queue i to RX queue i, so frames of many flows land on both queues; all
// must arrive, and the program stays attached until the last socket
// closes.
func TestAllQueues(t *testing.T) {
	l := newLink(t, 2)
	var socks []*Socket
	if err := l.ns.Do(func() (err error) {
		socks, err = OpenAll(l.ours, Options{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(socks) != 2 {
		t.Fatalf("OpenAll opened %d sockets, want 2", len(socks))
	}
	src, dst := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.1")
	var frames [][]byte
	for i := range 100 {
		frames = append(frames, udpFrame(l.oursMAC, l.peerMAC, src, dst, uint16(10000+i), 9, uint32(i)))
	}
	rawSend(t, rawSocket(t, l.peerNS, l.peer), frames)
	sent := len(frames)
	got, per := collectPerSocket(t, socks, sent, 3*time.Second)
	if len(got) != sent {
		t.Fatalf("received %d of %d frames", len(got), sent)
	}
	t.Logf("test frames per queue: %v", per)
	if per[0] == 0 || per[1] == 0 {
		t.Errorf("frames per queue = %v, want both queues used", per)
	}

	// The program is shared: it stays while any queue's socket is open.
	if err := l.ns.Do(func() (err error) {
		socks, err = OpenAll(l.ours, Options{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	socks[0].Close()
	if native, _ := xdpStateIn(t, l.ns, l.ours); native != progNameAll {
		t.Errorf("after closing queue 0 of 2: native program %q, want %q", native, progNameAll)
	}
	socks[1].Close()
	if native, generic := xdpStateIn(t, l.ns, l.ours); native != "" || generic != "" {
		t.Errorf("after closing both: native %q generic %q", native, generic)
	}
}

// TestInterfaceRemoved: deleting the interface under a blocked ReadBatch
// makes it return an error instead of hanging, and Close still cleans up.
func TestInterfaceRemoved(t *testing.T) {
	l := newLink(t, 1)
	s, err := openIn(t, l.ns, l.ours, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		bufs := [][]byte{make([]byte, pktio.MaxFrame)}
		meta := make([]pktio.RxMeta, 1)
		for {
			if _, err := s.ReadBatch(bufs, meta); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	l.ns.Exec("ip", "link", "del", l.ours)
	select {
	case err := <-errc:
		t.Logf("ReadBatch after the link vanished: %v", err)
	case <-time.After(3 * time.Second):
		s.Close()
		<-errc
		t.Fatal("ReadBatch still blocked 3s after the interface was deleted")
	}
	if _, err := s.WriteBatch([][]byte{testFrame(l.peerMAC, l.oursMAC, 0, 1, 60)}); err == nil {
		t.Error("WriteBatch on a deleted interface succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestMTUWarning: an MTU larger than a UMEM chunk can receive is logged.
func TestMTUWarning(t *testing.T) {
	l := newLink(t, 1)
	l.ns.Exec("ip", "link", "set", l.ours, "mtu", "3000")
	var logs logBuffer
	if _, err := openIn(t, l.ns, l.ours, 0, Options{Logger: logs.logger()}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "MTU exceeds") {
		t.Errorf("no MTU warning; log:\n%s", logs.String())
	}
}
