package isolation

import (
	"context"
	"net/netip"
	"sync"

	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/fibdpb"
)

// neighKey names a neighbour in fibd's API terms.
type neighKey struct {
	fib  uint32
	port string
	addr netip.Addr
}

// neighWatch follows fibd's neighbour events (WatchNeighbors) and counts,
// for the neighbours it was given, how often each went FAILED and how
// often it was removed.
type neighWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	failed map[neighKey]int
	gone   map[neighKey]int
	err    error
}

func watchNeighbors(ctx context.Context, c *client.Conn, keys ...neighKey) (*neighWatch, error) {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.WatchNeighbors(ctx, &fibdpb.WatchNeighborsRequest{})
	if err != nil {
		cancel()
		return nil, err
	}
	want := map[neighKey]bool{}
	for _, k := range keys {
		want[k] = true
	}
	w := &neighWatch{cancel: cancel, done: make(chan struct{}), failed: map[neighKey]int{}, gone: map[neighKey]int{}}
	go func() {
		defer close(w.done)
		for {
			resp, err := stream.Recv()
			if err != nil {
				if ctx.Err() == nil {
					w.mu.Lock()
					w.err = err
					w.mu.Unlock()
				}
				return
			}
			for _, ev := range resp.GetEvents() {
				n := ev.GetNeighbor()
				a, _ := netip.ParseAddr(n.GetAddress())
				k := neighKey{n.GetFibId(), n.GetPort(), a}
				if !want[k] {
					continue
				}
				w.mu.Lock()
				if n.GetNudState() == fibdpb.NeighborState_NEIGHBOR_STATE_FAILED {
					w.failed[k]++
				}
				if ev.GetType() == fibdpb.NeighborEventType_NEIGHBOR_EVENT_TYPE_REMOVED {
					w.gone[k]++
				}
				w.mu.Unlock()
			}
		}
	}()
	return w, nil
}

// stop ends the watch and returns the FAILED and removal counts summed
// over the neighbours, and an error if the watch broke early (then the
// counts are a lower bound).
func (w *neighWatch) stop() (failed, removed int, err error) {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range w.failed {
		failed += n
	}
	for _, n := range w.gone {
		removed += n
	}
	return failed, removed, w.err
}
