package pktiotest

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/fibd/fibd/dataplane/pktio"
)

// Host is an in-memory pktio.HostIO: packets a test sends with Send come
// out of ReadBatch as if a program in the FIB's namespace had sent them;
// packets the engine writes are captured (Received, the first 4096 since
// the last call); Sync is recorded
// (Addrs). Block makes WritePacket wait, as a host that stopped reading
// would, to fill the engine's punt queue.
type Host struct {
	ns string

	mu      sync.Mutex
	cond    *sync.Cond
	out     [][]byte // sent by the test, for ReadBatch
	got     [][]byte // written by the engine
	addrs   []netip.Prefix
	mtu     int
	syncs   int
	blocked bool
	closed  bool
}

// hostCapture bounds what Received holds: a fuzz run punts millions.
const hostCapture = 4096

// NewHost returns a Host whose Namespace is ns.
func NewHost(ns string) *Host {
	h := &Host{ns: ns}
	h.cond = sync.NewCond(&h.mu)
	return h
}

// Send queues an IP packet for ReadBatch.
func (h *Host) Send(pkt []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.out = append(h.out, slices.Clone(pkt))
	h.cond.Broadcast()
}

// ReadBatch implements pktio.HostIO.
func (h *Host) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.out) == 0 && !h.closed {
		h.cond.Wait()
	}
	if h.closed {
		return 0, pktio.ErrClosed
	}
	n := 0
	for n < len(bufs) && n < len(sizes) && len(h.out) > 0 {
		sizes[n] = copy(bufs[n], h.out[0])
		h.out = h.out[1:]
		n++
	}
	return n, nil
}

// WritePacket implements pktio.HostIO.
func (h *Host) WritePacket(pkt []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.blocked && !h.closed {
		h.cond.Wait()
	}
	if h.closed {
		return pktio.ErrClosed
	}
	if len(h.got) < hostCapture {
		h.got = append(h.got, slices.Clone(pkt))
	}
	return nil
}

// WriteBatch implements pktio.HostIO: WritePacket for each.
func (h *Host) WriteBatch(pkts [][]byte) (int, error) {
	for i, p := range pkts {
		if err := h.WritePacket(p); err != nil {
			return i, err
		}
	}
	return len(pkts), nil
}

// Received returns and forgets what the engine wrote.
func (h *Host) Received() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	got := h.got
	h.got = nil
	return got
}

// Block makes WritePacket wait until Block(false) or Close.
func (h *Host) Block(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.blocked = on
	h.cond.Broadcast()
}

// Sync implements pktio.HostIO.
func (h *Host) Sync(addrs []netip.Prefix, mtu int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addrs, h.mtu = slices.Clone(addrs), mtu
	h.syncs++
	return nil
}

// Addrs returns what the last Sync set, and how many Syncs there were.
func (h *Host) Addrs() (addrs []netip.Prefix, mtu, syncs int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.addrs), h.mtu, h.syncs
}

// Namespace implements pktio.HostIO.
func (h *Host) Namespace() string { return h.ns }

// Close implements pktio.HostIO.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.cond.Broadcast()
	return nil
}
