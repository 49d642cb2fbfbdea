package xdp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/fibd/fibd/dataplane"
)

// BareConfig describes a bare AF_XDP forwarding loop: every frame received
// on In is rewritten (MACs, TTL / hop limit) and sent out of Out, with no
// parsing beyond that and no lookup. It is the reference a real forwarding
// engine on this backend is measured against: the same sockets and copies,
// none of the routing work.
type BareConfig struct {
	In, Out string
	// NextHop is the destination MAC of every forwarded frame; nil reads
	// it from the kernel's IPv4 neighbour table for Out (the first
	// resolved entry), which the caller fills beforehand, e.g. with
	// `ip neigh replace … nud permanent` or a ping.
	NextHop net.HardwareAddr
	// Options for the sockets on both interfaces. PassNonIP is always set:
	// the router's kernel keeps answering ARP on both sides.
	Options Options
	// Ready, if set, is called once every socket is open and the loops
	// run: from then on frames arriving on In are forwarded, so a
	// benchmark can start its generator.
	Ready func()
	// Done, if set, receives the summed counters of the In and Out sockets
	// when the loop stops.
	Done func(in, out Stats)
}

// BareForward runs the bare loop from in to out until ctx is done, in the
// calling thread's network namespace (call it on a thread locked into the
// router namespace). It returns nil when ctx ends it.
func BareForward(ctx context.Context, in, out string) error {
	return BareConfig{In: in, Out: out}.Run(ctx)
}

// Run is BareForward with the configuration c.
func (c BareConfig) Run(ctx context.Context) error {
	nextHop := c.NextHop
	if nextHop == nil {
		var err error
		if nextHop, err = neighbourMAC(c.Out); err != nil {
			return err
		}
	}
	outIfi, err := net.InterfaceByName(c.Out)
	if err != nil {
		return fmt.Errorf("xdp: bare loop: %w", err)
	}
	var dst, src [6]byte
	if copy(dst[:], nextHop) != 6 || copy(src[:], outIfi.HardwareAddr) != 6 {
		return fmt.Errorf("%w: bare loop needs Ethernet addresses (next hop %v, %s %v)", ErrBadOptions, nextHop, c.Out, outIfi.HardwareAddr)
	}
	o := c.Options
	o.PassNonIP = true
	ins, err := OpenAll(c.In, o)
	if err != nil {
		return err
	}
	outs, err := OpenAll(c.Out, o)
	if err != nil {
		closeAll(ins)
		return err
	}
	// Several RX queues may feed one TX socket; WriteBatch takes one
	// caller at a time.
	txs := make([]*lockedTx, len(outs))
	for i, s := range outs {
		txs[i] = &lockedTx{s: s}
	}
	errc := make(chan error, len(ins))
	var wg sync.WaitGroup
	for i, rx := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- bareLoop(rx, txs[i%len(txs)], &dst, &src)
		}()
	}
	if c.Ready != nil {
		c.Ready()
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	closeAll(ins) // unblocks every ReadBatch
	wg.Wait()
	if c.Done != nil {
		c.Done(sumStats(ins), sumStats(outs))
	}
	closeAll(outs)
	return err
}

type lockedTx struct {
	mu sync.Mutex
	s  *Socket
}

// bareLoop is one RX queue's loop. It allocates its buffers once.
func bareLoop(rx *Socket, tx *lockedTx, dst, src *[6]byte) error {
	bufs := make([][]byte, dataplane.BatchSize)
	for i := range bufs {
		bufs[i] = make([]byte, dataplane.MaxFrame)
	}
	meta := make([]dataplane.RxMeta, dataplane.BatchSize)
	out := make([][]byte, 0, dataplane.BatchSize)
	for {
		n, err := rx.ReadBatch(bufs, meta)
		if err != nil {
			if errors.Is(err, dataplane.ErrClosed) {
				return nil
			}
			return err
		}
		out = out[:0]
		for i := range n {
			f := bufs[i][:meta[i].Len]
			if bareRewrite(f, dst, src) {
				out = append(out, f)
			}
		}
		if len(out) == 0 {
			continue
		}
		tx.mu.Lock()
		_, err = tx.s.WriteBatch(out)
		tx.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

func closeAll(socks []*Socket) {
	for _, s := range socks {
		s.Close()
	}
}

func sumStats(socks []*Socket) Stats {
	var t Stats
	for _, s := range socks {
		st := s.Stats()
		t.RxPackets += st.RxPackets
		t.RxBytes += st.RxBytes
		t.TxPackets += st.TxPackets
		t.TxBytes += st.TxBytes
		t.TxRingFull += st.TxRingFull
		t.RxKicks += st.RxKicks
		t.TxKicks += st.TxKicks
		t.Polls += st.Polls
		t.KickErrors += st.KickErrors
		t.RxDropped += st.RxDropped
	}
	return t
}

// neighbourMAC returns the hardware address of the first resolved IPv4
// neighbour on ifname in the calling thread's namespace
// (/proc/thread-self/net/arp: /proc/self/net would show the namespace of
// the process's main thread).
func neighbourMAC(ifname string) (net.HardwareAddr, error) {
	f, err := os.Open("/proc/thread-self/net/arp")
	if err != nil {
		return nil, fmt.Errorf("xdp: bare loop: read neighbours: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// IP address, HW type, Flags, HW address, Mask, Device.
		fl := strings.Fields(sc.Text())
		if len(fl) < 6 || fl[5] != ifname {
			continue
		}
		flags, err := strconv.ParseUint(fl[2], 0, 32)
		if err != nil || flags&0x2 == 0 { // ATF_COM: resolved
			continue
		}
		mac, err := net.ParseMAC(fl[3])
		if err == nil && len(mac) == 6 && mac.String() != "00:00:00:00:00:00" {
			return mac, nil
		}
	}
	return nil, fmt.Errorf("%w: bare loop: no resolved IPv4 neighbour on %s to forward to (add one with ip neigh replace … nud permanent)", ErrBadOptions, ifname)
}
