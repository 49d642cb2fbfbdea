package pktiotest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane/pktio"
)

func bufs(n int) ([][]byte, []pktio.RxMeta) {
	b := make([][]byte, n)
	for i := range b {
		b[i] = make([]byte, pktio.MaxFrame)
	}
	return b, make([]pktio.RxMeta, n)
}

func TestInjectedFramesComeOutWithTheirMeta(t *testing.T) {
	f := New(Config{})
	want := pktio.RxMeta{VLAN: 42, VLANTPID: 0x8100, HasVLAN: true, CsumPartial: true, CsumStart: 34, CsumOffset: 16}
	f.Inject([]byte("frame-one"), want)
	f.Inject([]byte("frame-two"), pktio.RxMeta{})
	b, m := bufs(8)
	n, err := f.ReadBatch(b, m)
	if err != nil || n != 2 {
		t.Fatalf("ReadBatch = %d, %v; want 2, nil", n, err)
	}
	want.Len = 9
	if m[0] != want || string(b[0][:m[0].Len]) != "frame-one" {
		t.Errorf("first: %q %+v, want %+v", b[0][:m[0].Len], m[0], want)
	}
	if string(b[1][:m[1].Len]) != "frame-two" {
		t.Errorf("second: %q", b[1][:m[1].Len])
	}
}

func TestReadBatchRespectsBatchSizeAndBuffers(t *testing.T) {
	f := New(Config{BatchSize: 3})
	for range 5 {
		f.Inject(bytes.Repeat([]byte{1}, 100), pktio.RxMeta{})
	}
	b, m := bufs(8)
	if n, _ := f.ReadBatch(b, m); n != 3 {
		t.Fatalf("first ReadBatch = %d, want BatchSize 3", n)
	}
	small := [][]byte{make([]byte, 10)}
	n, _ := f.ReadBatch(small, m[:1])
	if n != 1 || !m[0].Truncated || m[0].Len != 10 {
		t.Fatalf("short buffer: n=%d meta %+v, want one truncated 10-byte frame", n, m[0])
	}
	if f.Pending() != 1 {
		t.Fatalf("Pending = %d, want 1", f.Pending())
	}
}

func TestQueueIsBounded(t *testing.T) {
	f := New(Config{Capacity: 4})
	for i := range 6 {
		if ok := f.Inject([]byte{byte(i)}, pktio.RxMeta{}); ok != (i < 4) {
			t.Fatalf("Inject %d = %v", i, ok)
		}
	}
	if s := f.Stats(); s.Injected != 4 || s.RxDropped != 2 {
		t.Fatalf("stats %+v: want 4 injected, 2 dropped", s)
	}
	// Unlinked writes fill the capture buffer, then come back short.
	n, err := f.WriteBatch([][]byte{{1}, {2}, {3}, {4}, {5}})
	if n != 4 || err != nil {
		t.Fatalf("WriteBatch = %d, %v; want 4, nil", n, err)
	}
	if got := f.Written(); len(got) != 4 || got[3][0] != 4 {
		t.Fatalf("Written = %v", got)
	}
	if n, _ := f.WriteBatch([][]byte{{6}}); n != 1 {
		t.Fatal("Written did not empty the capture buffer")
	}
}

func TestPairDeliversLikeVeth(t *testing.T) {
	a, b := Pair(Config{})
	if n, err := a.WriteBatch([][]byte{[]byte("ping")}); n != 1 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	bb, m := bufs(4)
	n, err := b.ReadBatch(bb, m)
	if err != nil || n != 1 || string(bb[0][:m[0].Len]) != "ping" {
		t.Fatalf("peer read %d %v %q", n, err, bb[0][:m[0].Len])
	}
	if len(a.Written()) != 0 {
		t.Error("a linked IO must not also capture")
	}
	b.WriteBatch([][]byte{[]byte("pong")})
	if n, _ := a.ReadBatch(bb, m); n != 1 || string(bb[0][:m[0].Len]) != "pong" {
		t.Fatal("reverse direction lost")
	}
}

func TestReadBatchBlocksUntilInject(t *testing.T) {
	f := New(Config{})
	got := make(chan int, 1)
	go func() {
		b, m := bufs(1)
		n, _ := f.ReadBatch(b, m)
		got <- n
	}()
	select {
	case <-got:
		t.Fatal("ReadBatch returned with nothing queued")
	case <-time.After(20 * time.Millisecond):
	}
	f.Inject([]byte{1}, pktio.RxMeta{})
	select {
	case n := <-got:
		if n != 1 {
			t.Fatalf("n = %d", n)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Inject did not wake ReadBatch")
	}
}

func TestCloseUnblocksReadBatch(t *testing.T) {
	f := New(Config{})
	errc := make(chan error, 1)
	go func() {
		b, m := bufs(1)
		_, err := f.ReadBatch(b, m)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	f.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, pktio.ErrClosed) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock ReadBatch")
	}
	if _, err := f.WriteBatch([][]byte{{1}}); !errors.Is(err, pktio.ErrClosed) {
		t.Errorf("WriteBatch after Close: %v", err)
	}
	if f.Inject([]byte{1}, pktio.RxMeta{}) {
		t.Error("Inject after Close accepted")
	}
}

func TestSetWriteError(t *testing.T) {
	f := New(Config{})
	f.SetWriteError(ErrLinkDown)
	if _, err := f.WriteBatch([][]byte{{1}}); !errors.Is(err, ErrLinkDown) {
		t.Fatalf("err = %v", err)
	}
	f.SetWriteError(nil)
	if n, err := f.WriteBatch([][]byte{{1}}); n != 1 || err != nil {
		t.Fatalf("after clearing: %d, %v", n, err)
	}
}

func TestNoAllocations(t *testing.T) {
	a, b := Pair(Config{})
	frames := [][]byte{make([]byte, 60), make([]byte, 1500)}
	bb, m := bufs(pktio.BatchSize)
	if n := testing.AllocsPerRun(100, func() {
		a.Inject(frames[0], pktio.RxMeta{})
		k, _ := a.ReadBatch(bb, m)
		a.WriteBatch(bb[:k])
		b.ReadBatch(bb, m)
	}); n != 0 {
		t.Fatalf("%v allocations per round", n)
	}
}

// TestConcurrentPair runs a writer and a reader on each side at once; run
// with -race.
func TestConcurrentPair(t *testing.T) {
	a, b := Pair(Config{Capacity: 64})
	const n = 2000
	var wg sync.WaitGroup
	for _, io := range []*IO{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				io.WriteBatch([][]byte{{byte(i)}})
			}
		}()
	}
	counts := make(chan uint64, 2)
	for _, io := range []*IO{a, b} {
		go func() {
			bb, m := bufs(16)
			var got uint64
			for {
				k, err := io.ReadBatch(bb, m)
				if err != nil {
					counts <- got
					return
				}
				got += uint64(k)
			}
		}()
	}
	wg.Wait()
	time.Sleep(20 * time.Millisecond)
	a.Close()
	b.Close()
	for _, io := range []*IO{a, b} {
		got := <-counts
		_ = got
		s := io.Stats()
		if s.Injected+s.RxDropped != n {
			t.Errorf("injected %d + dropped %d != %d written", s.Injected, s.RxDropped, n)
		}
	}
}
