package xdp

import (
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane/pktio"
)

// BenchmarkRoundTrip moves batches of 64-byte frames from WriteBatch on one
// end of a veth pair (native XDP, copy mode) to ReadBatch on the other:
// the per-frame cost of this backend's I/O path, both copies and the
// kernel's copy-mode transmit included.
func BenchmarkRoundTrip(b *testing.B) {
	l := newLink(b, 1)
	tx, err := openIn(b, l.ns, l.ours, 0, Options{})
	if err != nil {
		b.Fatal(err)
	}
	rx, err := openIn(b, l.peerNS, l.peer, 0, Options{})
	if err != nil {
		b.Fatal(err)
	}
	out := make([][]byte, pktio.BatchSize)
	for i := range out {
		out[i] = testFrame(l.peerMAC, l.oursMAC, 0, uint32(i), 64)
	}
	in := make([][]byte, pktio.BatchSize)
	for i := range in {
		in[i] = make([]byte, pktio.MaxFrame)
	}
	meta := make([]pktio.RxMeta, pktio.BatchSize)
	watchdog := time.AfterFunc(time.Minute, func() { rx.Close() }) // a lost frame must not hang the run
	defer watchdog.Stop()
	var sent, recvd int
	b.ReportAllocs()
	for b.Loop() {
		n, err := tx.WriteBatch(out)
		if err != nil {
			b.Fatal(err)
		}
		sent += n
		for recvd < sent {
			m, err := rx.ReadBatch(in, meta)
			if err != nil {
				b.Fatal(err)
			}
			recvd += m
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(recvd, 1)), "ns/frame")
}
