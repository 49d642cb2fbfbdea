package control

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"google.golang.org/grpc/codes"

	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// MaxBatch bounds the entries of one ModifyRoutes batch, and so the work
// and memory one batch can cost.
const MaxBatch = 1 << 16

// ReadAhead is how many decoded batches a ModifyRoutes stream may hold
// besides the one being applied. Past that the receiving goroutine stops
// reading, gRPC's flow-control window (ServerOptions) fills and the
// client's Send blocks: a fast client cannot grow fibd's memory beyond
// about (ReadAhead + 2) batches plus the window per stream. Two keep the
// applier busy while the next batch is decoded.
const ReadAhead = 2

// ModifyRoutes applies a stream of batches. A receiving goroutine decodes
// batches into a channel of ReadAhead; this goroutine converts each, applies
// it to its FIB in one fib.FIB.Apply (atomic), and acknowledges it with its
// seq, in order. A refused batch is acknowledged with the error naming the
// entry and changes nothing; the stream goes on. With
// DISCONNECT_POLICY_FLUSH the source's routes in the batch's FIB are
// removed when the stream ends.
func (g *GRPCService) ModifyRoutes(stream fibdpb.FibdService_ModifyRoutesServer) error {
	ctx := stream.Context()
	reqs := make(chan *fibdpb.ModifyRoutesRequest, ReadAhead)
	recvErr := make(chan error, 1)
	go func() {
		defer close(reqs)
		for {
			req, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case reqs <- req:
			case <-ctx.Done():
				recvErr <- ctx.Err()
				return
			}
		}
	}()

	flush := map[resyncKey]bool{}
	defer func() {
		for k := range flush {
			if _, err := g.s.FlushSource(k.fib, k.source); err != nil && !errors.Is(err, fib.ErrNoSuchFIB) {
				g.s.log.Warn("flush on disconnect", "fib", k.fib, "source", k.source, "err", err)
			}
		}
	}()

	var b batchConverter
	for req := range reqs {
		if req.GetOnDisconnect() == fibdpb.DisconnectPolicy_DISCONNECT_POLICY_FLUSH && checkSource("source", req.GetSource()) == nil {
			flush[resyncKey{adj.FIBID(req.GetFibId()), req.GetSource()}] = true
		}
		resp := &fibdpb.ModifyRoutesResponse{Epoch: g.s.Epoch(), Seq: req.GetSeq()}
		if g.beforeApply != nil {
			g.beforeApply()
		}
		changes, eerr := b.convert(g, req)
		if eerr == nil {
			var out []fib.Outcome
			if req.GetWantResults() {
				out = b.outcomes(len(changes))
			}
			res, err := g.s.ApplyOutcomes(adj.FIBID(req.GetFibId()), changes, out)
			if err != nil {
				eerr = entryError(err, req)
			} else {
				resp.Ok = true
				resp.Added, resp.Updated, resp.Deleted = uint32(res.Added), uint32(res.Updated), uint32(res.Deleted)
				resp.FibVersion = res.Version
				if out != nil {
					resp.Results = make([]fibdpb.EntryResult, len(out))
					for i, o := range out {
						resp.Results[i] = entryResults[o]
					}
				}
			}
		}
		resp.Error = eerr
		b.release()
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	if err := <-recvErr; err != io.EOF {
		return err
	}
	return nil
}

// entryError describes a refused batch. A *fib.BatchError names its entry;
// anything else concerns the whole batch (index -1).
func entryError(err error, req *fibdpb.ModifyRoutesRequest) *fibdpb.EntryError {
	e := &fibdpb.EntryError{Index: -1, Code: int32(codeOf(err)), Message: err.Error()}
	var be *fib.BatchError
	if errors.As(err, &be) {
		e.Index = int32(be.Index)
		e.Prefix = req.GetOps()[be.Index].GetPrefix()
		e.Field = "ops[" + strconv.Itoa(be.Index) + "]"
		e.Code = int32(codeOf(be.Err))
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		e.Field = fe.Field
	}
	return e
}

// batchConverter turns batches into fib changes, reusing its buffers from
// one batch to the next: one stream converts hundreds of thousands of
// routes a second.
type batchConverter struct {
	changes []fib.Change
	paths   [][]fib.Path
	out     []fib.Outcome
}

func (b *batchConverter) outcomes(n int) []fib.Outcome {
	if cap(b.out) < n {
		b.out = make([]fib.Outcome, n)
	}
	return b.out[:n]
}

var entryResults = [...]fibdpb.EntryResult{
	fib.OutcomeAdded:   fibdpb.EntryResult_ENTRY_RESULT_ADDED,
	fib.OutcomeUpdated: fibdpb.EntryResult_ENTRY_RESULT_UPDATED,
	fib.OutcomeDeleted: fibdpb.EntryResult_ENTRY_RESULT_DELETED,
}

func (b *batchConverter) release() {
	clear(b.changes) // drop references to this batch's paths
	b.changes = b.changes[:0]
	b.paths = b.paths[:0]
}

// convert checks a batch as a whole and converts each entry. Each path
// set becomes one []fib.Path shared by every route that names it, which
// lets fib intern it once per batch.
func (b *batchConverter) convert(g *GRPCService, req *fibdpb.ModifyRoutesRequest) ([]fib.Change, *fibdpb.EntryError) {
	batchErr := func(err error) *fibdpb.EntryError { return entryError(err, req) }
	ops := req.GetOps()
	if len(ops) > MaxBatch {
		return nil, &fibdpb.EntryError{Index: -1, Code: int32(codes.InvalidArgument), Field: "ops",
			Message: fmt.Sprintf("batch of %d entries; at most %d", len(ops), MaxBatch)}
	}
	source := req.GetSource()
	if err := checkSource("source", source); err != nil {
		return nil, batchErr(err)
	}
	if _, err := g.s.fib(adj.FIBID(req.GetFibId())); err != nil {
		e := batchErr(err)
		e.Field = "fib_id"
		return nil, e
	}
	pref, err := parsePreference("preference", req.GetPreference(), DefaultPreference(source))
	if err != nil {
		return nil, batchErr(err)
	}
	for i, ps := range req.GetPathSets() {
		if len(ps.GetPaths()) == 0 {
			return nil, batchErr(fieldErr(fmt.Sprintf("path_sets[%d]", i), "", "empty path set"))
		}
		paths := make([]fib.Path, len(ps.GetPaths()))
		for j, p := range ps.GetPaths() {
			if paths[j], err = g.pathFromPB(fmt.Sprintf("path_sets[%d].paths[%d]", i, j), p, nil); err != nil {
				return nil, batchErr(err)
			}
		}
		b.paths = append(b.paths, paths)
	}
	if cap(b.changes) < len(ops) {
		b.changes = make([]fib.Change, 0, len(ops))
	}
	for i, op := range ops {
		c := fib.Change{Route: fib.Route{Source: source, Preference: pref}}
		switch op.GetOp() {
		case fibdpb.RouteOpKind_ROUTE_OP_KIND_ADD:
			c.Op = fib.OpAdd
		case fibdpb.RouteOpKind_ROUTE_OP_KIND_REPLACE:
			c.Op = fib.OpReplace
		case fibdpb.RouteOpKind_ROUTE_OP_KIND_DELETE:
			c.Op = fib.OpDelete
		default:
			return nil, opErr(i, op, "op", op.GetOp().String(), "unknown operation")
		}
		p, err := netip.ParsePrefix(op.GetPrefix())
		if err != nil {
			return nil, opErr(i, op, "prefix", op.GetPrefix(), "%v", err)
		}
		if p.Masked() != p || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			// The careful parser says exactly what is wrong.
			if _, err := ParsePrefix("", op.GetPrefix()); err != nil {
				return nil, opErr(i, op, "prefix", op.GetPrefix(), "%v", err.(*FieldError).Err)
			}
			p, _ = ParsePrefix("", op.GetPrefix())
		}
		c.Route.Prefix = p
		if c.Op != fib.OpDelete {
			ps := op.GetPathSet()
			if int(ps) >= len(b.paths) {
				return nil, opErr(i, op, "path_set", strconv.FormatUint(uint64(ps), 10),
					"no such path set (the batch has %d)", len(b.paths))
			}
			c.Route.Paths = b.paths[ps]
			if v := op.GetPreference(); v != 0 {
				if c.Route.Preference, err = parsePreference("", v, pref); err != nil {
					return nil, opErr(i, op, "preference", strconv.FormatUint(uint64(v), 10), "must be in 1-255")
				}
			}
		}
		b.changes = append(b.changes, c)
	}
	return b.changes, nil
}

func opErr(i int, op *fibdpb.RouteOp, field, value, format string, args ...any) *fibdpb.EntryError {
	f := "ops[" + strconv.Itoa(i) + "]." + field
	return &fibdpb.EntryError{Index: int32(i), Prefix: op.GetPrefix(), Code: int32(codes.InvalidArgument), Field: f,
		Message: (&FieldError{Field: f, Value: value, Err: fmt.Errorf(format, args...)}).Error()}
}
