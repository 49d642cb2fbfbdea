package xdp

import (
	"sync/atomic"
	"unsafe"
)

// An AF_XDP ring is a single-producer single-consumer queue shared with the
// kernel through mmap: a producer index, a consumer index, a flags word and
// a power-of-two array of entries. Both indices run freely over uint32 and
// are masked on access. Each side keeps a cached copy of the other side's
// index and reloads it only when the cache says there is not enough room
// (producer) or nothing left (consumer), so a busy ring costs one shared
// cache-line read and one write per batch rather than per entry (the
// technique of libxdp's xsk.h and gVisor's pkg/xdp).

// needWakeupFlag is XDP_RING_NEED_WAKEUP in a ring's flags word.
const needWakeupFlag = 1

// desc is struct xdp_desc: an RX or TX ring entry.
type desc struct {
	Addr    uint64
	Len     uint32
	Options uint32
}

// ring holds the indices shared by every ring kind. It is not safe for
// concurrent use: exactly one goroutine drives each ring.
type ring struct {
	producer *uint32
	consumer *uint32
	flags    *uint32
	mask     uint32
	size     uint32
	// cachedProd and cachedCons are this side's view. On a producer ring
	// cachedCons is kept as consumer+size, so free = cachedCons-cachedProd.
	cachedProd uint32
	cachedCons uint32
}

// initProducer sets up r as a ring this process produces into.
func (r *ring) initProducer(prod, cons, flags unsafe.Pointer, size uint32) {
	r.producer, r.consumer, r.flags = (*uint32)(prod), (*uint32)(cons), (*uint32)(flags)
	r.size, r.mask = size, size-1
	r.cachedProd = atomic.LoadUint32(r.producer)
	r.cachedCons = atomic.LoadUint32(r.consumer) + size
}

// initConsumer sets up r as a ring this process consumes from.
func (r *ring) initConsumer(prod, cons, flags unsafe.Pointer, size uint32) {
	r.producer, r.consumer, r.flags = (*uint32)(prod), (*uint32)(cons), (*uint32)(flags)
	r.size, r.mask = size, size-1
	r.cachedProd = atomic.LoadUint32(r.producer)
	r.cachedCons = atomic.LoadUint32(r.consumer)
}

// free returns how many entries can be produced, at most want, re-reading
// the kernel's consumer index only when the cached view falls short.
func (r *ring) free(want uint32) uint32 {
	n := r.cachedCons - r.cachedProd
	if n < want {
		r.cachedCons = atomic.LoadUint32(r.consumer) + r.size
		n = r.cachedCons - r.cachedProd
	}
	return min(n, want)
}

// submit publishes n produced entries to the kernel. The atomic store
// orders the entry writes before the index, pairing with the kernel's
// smp_load_acquire of the producer.
func (r *ring) submit(n uint32) {
	r.cachedProd += n
	atomic.StoreUint32(r.producer, r.cachedProd)
}

// avail returns how many entries can be consumed, at most want, re-reading
// the kernel's producer index only when the cached view is exhausted.
func (r *ring) avail(want uint32) uint32 {
	n := r.cachedProd - r.cachedCons
	if n == 0 {
		r.cachedProd = atomic.LoadUint32(r.producer)
		n = r.cachedProd - r.cachedCons
	}
	return min(n, want)
}

// release hands n consumed entries back to the kernel.
func (r *ring) release(n uint32) {
	r.cachedCons += n
	atomic.StoreUint32(r.consumer, r.cachedCons)
}

// pending reports whether the kernel has not yet consumed everything this
// process produced (TX ring: frames still to be sent).
func (r *ring) pending() bool {
	return atomic.LoadUint32(r.consumer) != r.cachedProd
}

// needWakeup reports whether the kernel asked for a system call to make
// progress on this ring (XDP_USE_NEED_WAKEUP).
func (r *ring) needWakeup() bool {
	return atomic.LoadUint32(r.flags)&needWakeupFlag != 0
}

// descRing is an RX or TX ring.
type descRing struct {
	ring
	descs []desc
}

// at returns the entry for the free-running index i.
func (r *descRing) at(i uint32) *desc { return &r.descs[i&r.mask] }

// addrRing is a fill or completion ring: entries are UMEM offsets.
type addrRing struct {
	ring
	addrs []uint64
}

func (r *addrRing) at(i uint32) *uint64 { return &r.addrs[i&r.mask] }
