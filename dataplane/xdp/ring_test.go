package xdp

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// fakeRing is the kernel's half of a ring in ordinary memory, so the
// cached-index logic can be tested without AF_XDP.
type fakeRing struct {
	prod, cons, flags uint32
}

func newProducerRing(size uint32, start uint32) (*fakeRing, *addrRing) {
	k := &fakeRing{prod: start, cons: start}
	r := &addrRing{addrs: make([]uint64, size)}
	r.initProducer(unsafe.Pointer(&k.prod), unsafe.Pointer(&k.cons), unsafe.Pointer(&k.flags), size)
	return k, r
}

func newConsumerRing(size uint32, start uint32) (*fakeRing, *addrRing) {
	k := &fakeRing{prod: start, cons: start}
	r := &addrRing{addrs: make([]uint64, size)}
	r.initConsumer(unsafe.Pointer(&k.prod), unsafe.Pointer(&k.cons), unsafe.Pointer(&k.flags), size)
	return k, r
}

// TestProducerRingNeverOverruns drives a producer ring against a fake
// kernel consumer with random batch sizes, starting near uint32 wrap
// around, and checks it never claims more room than the kernel freed and
// that entries arrive in order.
func TestProducerRingNeverOverruns(t *testing.T) {
	const size = 16
	rng := rand.New(rand.NewPCG(1, 2))
	k, r := newProducerRing(size, ^uint32(0)-40)
	var next, expect uint64
	for range 10000 {
		want := uint32(rng.IntN(size + 4))
		n := r.free(want)
		if n > want || r.cachedProd+n-k.cons > size {
			t.Fatalf("free(%d) = %d with %d entries outstanding", want, n, r.cachedProd-k.cons)
		}
		for i := range n {
			*r.at(r.cachedProd + i) = next
			next++
		}
		r.submit(n)
		if k.prod != r.cachedProd {
			t.Fatalf("producer index %d, cached %d", k.prod, r.cachedProd)
		}
		// The kernel consumes a random number of what is there.
		for c := rng.IntN(int(k.prod-k.cons) + 1); c > 0; c-- {
			if got := r.addrs[k.cons&(size-1)]; got != expect {
				t.Fatalf("kernel read %d, want %d", got, expect)
			}
			expect++
			k.cons++
		}
	}
	if expect == 0 {
		t.Fatal("nothing flowed")
	}
}

// TestConsumerRingSeesEverything: a consumer ring fed by a fake kernel
// producer sees every entry once, in order, across index wrap-around, and
// reloads the producer index only when its cached view is empty.
func TestConsumerRingSeesEverything(t *testing.T) {
	const size = 8
	rng := rand.New(rand.NewPCG(3, 4))
	k, r := newConsumerRing(size, ^uint32(0)-20)
	var next, expect uint64
	for range 10000 {
		for p := rng.IntN(int(size-(k.prod-k.cons)) + 1); p > 0; p-- {
			r.addrs[k.prod&(size-1)] = next
			next++
			k.prod++
		}
		cachedBefore := r.cachedProd
		n := r.avail(uint32(rng.IntN(size + 2)))
		if cachedBefore != r.cachedCons && r.cachedProd != cachedBefore {
			t.Fatalf("producer index reloaded while the cached view still had entries")
		}
		for i := range n {
			if got := *r.at(r.cachedCons + i); got != expect {
				t.Fatalf("read %d, want %d", got, expect)
			}
			expect++
		}
		r.release(n)
		if k.cons != r.cachedCons {
			t.Fatalf("consumer index %d, cached %d", k.cons, r.cachedCons)
		}
	}
	if expect == 0 {
		t.Fatal("nothing flowed")
	}
}

func TestRingWakeupAndPending(t *testing.T) {
	k, r := newProducerRing(8, 0)
	if r.needWakeup() {
		t.Error("needWakeup with flags 0")
	}
	k.flags = needWakeupFlag
	if !r.needWakeup() {
		t.Error("needWakeup missed XDP_RING_NEED_WAKEUP")
	}
	r.submit(r.free(3))
	if !r.pending() {
		t.Error("pending false with 3 unconsumed entries")
	}
	k.cons = 3
	if r.pending() {
		t.Error("pending true after the kernel consumed all")
	}
}

func TestOptionsDefaultsAndValidation(t *testing.T) {
	o, err := Options{}.withDefaults(4096)
	if err != nil {
		t.Fatal(err)
	}
	if o.RxRingSize != DefaultRingSize || o.TxRingSize != DefaultRingSize || o.FrameSize != DefaultFrameSize || o.Logger == nil {
		t.Errorf("defaults = %+v", o)
	}
	for _, bad := range []Options{
		{RxRingSize: 1000}, {TxRingSize: 4}, {RxRingSize: 1 << 17},
		{FrameSize: 1024}, {FrameSize: 3000}, {FrameSize: 8192},
		{Attach: AttachGeneric + 1}, {Copy: ZeroCopyOnly + 1},
	} {
		if _, err := bad.withDefaults(4096); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestModeString(t *testing.T) {
	if s := (Mode{Attach: AttachNative}).String(); s != "native/copy" {
		t.Errorf("got %q", s)
	}
	if s := (Mode{Attach: AttachGeneric, ZeroCopy: true}).String(); s != "generic/zero-copy" {
		t.Errorf("got %q", s)
	}
}
