package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/fibd/fibd/control/fibdpb"
)

// Route is one route to load: a prefix and the index of its path set, or
// the next-hop group it uses (Group, when not 0, wins).
type Route struct {
	Prefix  netip.Prefix
	PathSet uint32
	Group   uint32
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
	InFlight int
	// The session's parameters (fibdpb.SessionParams): the disconnect
	// policy, the election ID, idempotent deletes.
	OnDisconnect      fibdpb.DisconnectPolicy
	ElectionID        uint64
	IdempotentDeletes bool
	// Resync makes the load a resync of the source in the FIB: the routes
	// of the source that the load does not push are removed at its end.
	Resync bool
	// Progress, when set, is called from the acknowledging goroutine with
	// the number of routes acknowledged so far.
	Progress func(acked int)
	// Groups are next-hop group ops sent with the first batch (fibd
	// applies a batch's groups before its routes), for routes that use a
	// group.
	Groups []*fibdpb.NextHopGroupOp
}

// LoadResult summarises a load.
type LoadResult struct {
	Routes                  int
	Added, Updated, Deleted int
	// Removed counts the routes a resync removed.
	Removed  int
	Batches  int
	Duration time.Duration // first send to last acknowledgement
	Epoch    uint64
	// Session is the session's ID in fibd.
	Session uint64
}

// ErrNotOwner is returned when the load's session does not own its source
// in the FIB (another session, with a higher election ID or newer, does).
var ErrNotOwner = errors.New("the session does not own the source in the FIB")

// BatchError is a batch fibd refused. Route is the index in the loaded
// slice of the first bad entry, -1 if the batch as a whole was refused;
// Entries are every refused entry.
type BatchError struct {
	Seq     uint64
	Route   int
	Entries []*fibdpb.EntryError
}

func (e *BatchError) Error() string {
	more := ""
	if len(e.Entries) > 1 {
		more = fmt.Sprintf(" (and %d more refused entries)", len(e.Entries)-1)
	}
	if e.Route >= 0 {
		return fmt.Sprintf("route %d (%s): %s%s", e.Route, e.Entries[0].GetPrefix(), e.Entries[0].GetMessage(), more)
	}
	return fmt.Sprintf("batch %d: %s", e.Seq, e.first().GetMessage())
}

// Code is the gRPC code of the first refused entry.
func (e *BatchError) Code() codes.Code { return codes.Code(e.first().GetCode()) }

func (e *BatchError) first() *fibdpb.EntryError {
	if len(e.Entries) == 0 {
		return &fibdpb.EntryError{}
	}
	return e.Entries[0]
}

// Load adds routes to a FIB through one ModifyRoutes session, in batches,
// keeping up to InFlight batches unacknowledged, and stops at the first
// refused batch (earlier batches stay applied). The session ends with the
// load. Batches are numbered from 1 (seq 0 is fibd's own messages).
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
	batches := max(1, (len(routes)+o.Batch-1)/o.Batch)
	nb := batches // acknowledgements to wait for
	if o.Resync {
		nb++ // the END, in a request of its own
	}
	res := LoadResult{Routes: len(routes), Batches: nb}
	slots := make(chan struct{}, o.InFlight)
	var wg sync.WaitGroup
	var ackErr error
	wg.Go(func() {
		acked := 0
		for n := 0; n < nb; {
			resp, err := stream.Recv()
			if err != nil {
				ackErr = err
				cancel()
				return
			}
			res.Epoch = resp.GetEpoch()
			if st := resp.GetSession(); st != nil {
				res.Session = st.GetSessionId()
				for _, f := range st.GetFibs() {
					if f.GetFibId() == o.FIB && !f.GetOwner() {
						ackErr = fmt.Errorf("%w: session %d (election ID %d) owns %q in fib %d", ErrNotOwner,
							f.GetOwnerSessionId(), f.GetOwnerElectionId(), o.Source, o.FIB)
						cancel()
						return
					}
				}
			}
			if resp.GetSeq() == 0 {
				continue // fibd's own message about the session
			}
			n++
			<-slots
			if !resp.GetOk() {
				errs := resp.GetErrors()
				be := &BatchError{Seq: resp.GetSeq(), Route: -1, Entries: errs}
				if len(errs) > 0 && errs[0].GetIndex() >= 0 {
					be.Route = int(resp.GetSeq()-1)*o.Batch + int(errs[0].GetIndex())
				}
				ackErr = be
				cancel()
				return
			}
			res.Added += int(resp.GetAdded())
			res.Updated += int(resp.GetUpdated())
			res.Deleted += int(resp.GetDeleted())
			res.Removed += int(resp.GetRemoved())
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
	session := &fibdpb.SessionParams{Source: o.Source, FibIds: []uint32{o.FIB}, OnDisconnect: o.OnDisconnect,
		ElectionId: o.ElectionID, IdempotentDeletes: o.IdempotentDeletes}
	req := &fibdpb.ModifyRoutesRequest{FibId: o.FIB, Preference: o.Preference, PathSets: pathSets}
	var sendErr error
	for seq := 0; seq < batches && sendErr == nil; seq++ {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			sendErr = ctx.Err()
			continue
		}
		part := routes[min(len(routes), seq*o.Batch):min(len(routes), (seq+1)*o.Batch)]
		for i, r := range part {
			ops[i] = fibdpb.RouteOp{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_ADD, Prefix: r.Prefix.String(), PathSet: r.PathSet, GroupId: r.Group}
		}
		req.Seq, req.Ops, req.Session, req.Resync = uint64(seq+1), ptrs[:len(part)], nil, fibdpb.ResyncMark_RESYNC_MARK_UNSPECIFIED
		req.Groups = nil
		if seq == 0 {
			req.Session, req.Groups = session, o.Groups
			if o.Resync {
				req.Resync = fibdpb.ResyncMark_RESYNC_MARK_BEGIN
			}
		}
		sendErr = stream.Send(req)
	}
	if sendErr == nil && o.Resync {
		select {
		case slots <- struct{}{}:
			end := &fibdpb.ModifyRoutesRequest{Seq: uint64(batches + 1), FibId: o.FIB, Resync: fibdpb.ResyncMark_RESYNC_MARK_END}
			sendErr = stream.Send(end)
		case <-ctx.Done():
			sendErr = ctx.Err()
		}
	}
	if sendErr == nil {
		sendErr = stream.CloseSend()
	}
	wg.Wait()
	res.Duration = time.Since(start)
	if ackErr != nil {
		return res, ackErr
	}
	if sendErr == nil {
		// fibd ends the stream once the session has closed (its policy
		// applied, its source free): wait for it, so what the caller does
		// next never meets the session still owning the source.
		for {
			if _, err := stream.Recv(); err != nil {
				if err != io.EOF {
					return res, err
				}
				break
			}
		}
	}
	if sendErr != nil && !errors.Is(sendErr, io.EOF) {
		return res, sendErr
	}
	return res, nil
}
