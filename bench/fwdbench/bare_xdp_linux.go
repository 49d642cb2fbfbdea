package fwdbench

import (
	"context"
	"errors"
	"sync"

	"github.com/fibd/fibd/dataplane/pktio"
	"github.com/fibd/fibd/dataplane/xdp"
)

// BareXDP is the bare loop on AF_XDP: every frame from In gets its MACs and
// TTL rewritten (bareRewrite) and leaves by Out, with no parse beyond that
// and no lookup — the floor for a dataplane on AF_XDP, as Bare is on
// AF_PACKET: the same sockets and copies, none of the routing work. It
// runs in the calling thread's namespace and calls env.Ready once its
// sockets are open.
func BareXDP(ctx context.Context, env *Env) error {
	return bareXDP(ctx, env.In, env.Out, env.NextHopMAC, env.OutMAC, xdp.Options{}, env.Ready)
}

func bareXDP(ctx context.Context, in, out string, nextHop, outMAC [6]byte, o xdp.Options, ready func()) error {
	var l2 [12]byte
	copy(l2[0:6], nextHop[:])
	copy(l2[6:12], outMAC[:])
	// The router's kernel keeps answering ARP on both sides.
	o.PassNonIP = true
	ins, err := xdp.OpenAll(in, o)
	if err != nil {
		return err
	}
	outs, err := xdp.OpenAll(out, o)
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
			errc <- bareXDPLoop(rx, txs[i%len(txs)], &l2)
		}()
	}
	if ready != nil {
		ready()
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	closeAll(ins) // unblocks every ReadBatch
	wg.Wait()
	closeAll(outs)
	return err
}

type lockedTx struct {
	mu sync.Mutex
	s  *xdp.Socket
}

// bareXDPLoop is one RX queue's loop. It allocates its buffers once.
func bareXDPLoop(rx *xdp.Socket, tx *lockedTx, l2 *[12]byte) error {
	bufs := make([][]byte, pktio.BatchSize)
	for i := range bufs {
		bufs[i] = make([]byte, pktio.MaxFrame)
	}
	meta := make([]pktio.RxMeta, pktio.BatchSize)
	out := make([][]byte, 0, pktio.BatchSize)
	for {
		n, err := rx.ReadBatch(bufs, meta)
		if err != nil {
			if errors.Is(err, pktio.ErrClosed) {
				return nil
			}
			return err
		}
		out = out[:0]
		for i := range n {
			f := bufs[i][:meta[i].Len]
			if bareRewrite(f, l2) {
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

func closeAll(socks []*xdp.Socket) {
	for _, s := range socks {
		s.Close()
	}
}
