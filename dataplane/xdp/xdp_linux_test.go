package xdp

import (
	"bytes"
	"testing"
	"time"
)

func TestReceiveThroughXDP(t *testing.T) {
	l := newLink(t, 1)
	s, err := openIn(t, l.ns, l.ours, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mode on veth: %v", s.Mode())
	var frames [][]byte
	for i := range 100 {
		vlan := uint16(0)
		if i%3 == 0 {
			vlan = uint16(100 + i)
		}
		frames = append(frames, testFrame(l.oursMAC, l.peerMAC, vlan, uint32(i), 60+i*14))
	}
	fd := rawSocket(t, l.peerNS, l.peer)
	rawSend(t, fd, frames)
	got := collect(t, []*Socket{s}, len(frames), 3*time.Second)
	if len(got) != len(frames) {
		t.Fatalf("received %d of %d frames", len(got), len(frames))
	}
	for i, f := range frames {
		if !bytes.Equal(got[uint32(i)], f) {
			t.Errorf("frame %d differs:\n got %x\nwant %x", i, got[uint32(i)], f)
		}
	}
	st := s.Stats()
	if st.RxPackets < uint64(len(frames)) {
		t.Errorf("RxPackets = %d, want ≥ %d", st.RxPackets, len(frames))
	}
	t.Logf("stats: %+v", st)
}
