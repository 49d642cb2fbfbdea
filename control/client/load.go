package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/fibd/fibd/control/fibdpb"
)

// Route is one route to load: a prefix and the index of its path set.
type Route struct {
	Prefix  netip.Prefix
	PathSet uint32
}

// LoadOptions tune Load. Zero values take the defaults.
type LoadOptions struct {
	FIB        uint32
	Source     string
	Preference uint32
	// Batch is the routes per ModifyRoutes batch; default 4096.
	Batch int
	// InFlight is how many batches may be unacknowledged; default 8. The
	// server reads ahead only a few (control.ReadAhead), so more mostly
	// sits in gRPC's windows.
	InFlight     int
	OnDisconnect fibdpb.DisconnectPolicy
	// Progress, when set, is called from the acknowledging goroutine with
	// the number of routes acknowledged so far.
	Progress func(acked int)
}

// LoadResult summarises a load.
type LoadResult struct {
	Routes                  int
	Added, Updated, Deleted int
	Batches                 int
	Duration                time.Duration // first send to last acknowledgement
	Epoch                   uint64
}

// BatchError is a batch fibd refused. Route is the index in the loaded
// slice of the bad entry, -1 if the batch as a whole was refused.
type BatchError struct {
	Seq   uint64
	Route int
	Entry *fibdpb.EntryError
}

func (e *BatchError) Error() string {
	if e.Route >= 0 {
		return fmt.Sprintf("route %d (%s): %s", e.Route, e.Entry.GetPrefix(), e.Entry.GetMessage())
	}
	return fmt.Sprintf("batch %d: %s", e.Seq, e.Entry.GetMessage())
}

// Load adds routes to a FIB through one ModifyRoutes stream, in batches,
// keeping up to InFlight batches unacknowledged, and stops at the first
// refused batch (earlier batches stay applied).
func Load(ctx context.Context, c fibdpb.FibdServiceClient, pathSets []*fibdpb.PathSet, routes []Route, o LoadOptions) (LoadResult, error) {
	if o.Batch <= 0 {
		o.Batch = 4096
	}
	if o.InFlight <= 0 {
		o.InFlight = 8
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.ModifyRoutes(ctx)
	if err != nil {
		return LoadResult{}, err
	}
	nb := (len(routes) + o.Batch - 1) / o.Batch
	res := LoadResult{Routes: len(routes), Batches: nb}
	slots := make(chan struct{}, o.InFlight)
	var wg sync.WaitGroup
	var ackErr error
	wg.Go(func() {
		acked := 0
		for range nb {
			resp, err := stream.Recv()
			if err != nil {
				ackErr = err
				cancel()
				return
			}
			<-slots
			res.Epoch = resp.GetEpoch()
			if !resp.GetOk() {
				e := resp.GetError()
				be := &BatchError{Seq: resp.GetSeq(), Route: -1, Entry: e}
				if e.GetIndex() >= 0 {
					be.Route = int(resp.GetSeq())*o.Batch + int(e.GetIndex())
				}
				ackErr = be
				cancel()
				return
			}
			res.Added += int(resp.GetAdded())
			res.Updated += int(resp.GetUpdated())
			res.Deleted += int(resp.GetDeleted())
			acked = min(len(routes), acked+o.Batch)
			if o.Progress != nil {
				o.Progress(acked)
			}
		}
	})

	start := time.Now()
	// Messages are reused: SendMsg has encoded a message when it returns.
	ops := make([]fibdpb.RouteOp, o.Batch)
	ptrs := make([]*fibdpb.RouteOp, o.Batch)
	for i := range ops {
		ptrs[i] = &ops[i]
	}
	req := &fibdpb.ModifyRoutesRequest{FibId: o.FIB, Source: o.Source, Preference: o.Preference,
		PathSets: pathSets, OnDisconnect: o.OnDisconnect}
	var sendErr error
	for seq := 0; seq < nb && sendErr == nil; seq++ {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			sendErr = ctx.Err()
			continue
		}
		part := routes[seq*o.Batch : min(len(routes), (seq+1)*o.Batch)]
		for i, r := range part {
			ops[i] = fibdpb.RouteOp{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_ADD, Prefix: r.Prefix.String(), PathSet: r.PathSet}
		}
		req.Seq, req.Ops = uint64(seq), ptrs[:len(part)]
		sendErr = stream.Send(req)
	}
	if sendErr == nil {
		sendErr = stream.CloseSend()
	}
	wg.Wait()
	res.Duration = time.Since(start)
	if ackErr != nil {
		return res, ackErr
	}
	if sendErr != nil && !errors.Is(sendErr, io.EOF) {
		return res, sendErr
	}
	return res, nil
}
