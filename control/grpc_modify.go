package control

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
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

// ModifyRoutes serves a session (sessions.go): the first request opens
// it, then batches follow. A receiving goroutine decodes requests into a
// channel of ReadAhead; this goroutine converts each batch, applies it to
// its FIB in one fib.FIB.ApplyWith (atomic) if the session owns its
// source there, and acknowledges it with its seq, in order. A refused
// batch is acknowledged with every refused entry and changes nothing; the
// stream goes on. When the stream ends, for whatever reason — the client
// closed it, or keepalive found the peer dead —, the session closes: where
// it still owned its source, its disconnect policy applies.
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
	ended := func() error {
		if err := <-recvErr; err != io.EOF {
			return err
		}
		return nil
	}

	first, ok := <-reqs
	if !ok {
		return ended()
	}
	if first.GetSession() == nil {
		return toStatus(fieldErr("session", "", "the first request of a ModifyRoutes stream opens a session: give its source, FIBs and policy"))
	}
	// Ownership changes arrive from other sessions' goroutines; only the
	// latest state matters.
	notes := make(chan SessionState, 1)
	notify := func(st SessionState) {
		for {
			select {
			case notes <- st:
				return
			default:
				select {
				case <-notes:
				default:
				}
			}
		}
	}
	sess, st, err := g.s.OpenSession(sessionFromPB(first.GetSession()), notify)
	if err != nil {
		return toStatus(err)
	}
	defer sess.Close()

	var b batchConverter
	if err := g.batch(stream, sess, &b, first, &st, nil); err != nil {
		return err
	}
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				return ended()
			}
			var stp *SessionState
			var sessErr error
			if ps := req.GetSession(); ps != nil {
				var st SessionState
				if st, sessErr = changeSession(sess, ps); sessErr == nil {
					stp = &st
				}
			}
			if err := g.batch(stream, sess, &b, req, stp, sessErr); err != nil {
				return err
			}
		case st := <-notes:
			if err := stream.Send(&fibdpb.ModifyRoutesResponse{Epoch: g.s.Epoch(), Session: sessionStateToPB(st)}); err != nil {
				return err
			}
		}
	}
}

func sessionFromPB(p *fibdpb.SessionParams) SessionParams {
	out := SessionParams{Source: p.GetSource(), Flush: p.GetOnDisconnect() == fibdpb.DisconnectPolicy_DISCONNECT_POLICY_FLUSH,
		ElectionID: p.GetElectionId(), IdempotentDeletes: p.GetIdempotentDeletes()}
	for _, id := range p.GetFibIds() {
		out.FIBs = append(out.FIBs, adj.FIBID(id))
	}
	return out
}

// changeSession applies session parameters sent after the first request:
// only the election ID may change.
func changeSession(sess *Session, p *fibdpb.SessionParams) (SessionState, error) {
	want := sessionFromPB(p)
	have := sess.Params()
	if want.Source != have.Source || want.Flush != have.Flush || want.IdempotentDeletes != have.IdempotentDeletes ||
		!slices.Equal(want.FIBs, have.FIBs) {
		return SessionState{}, fieldErr("session", "", "only election_id can change in an open session")
	}
	return sess.SetElectionID(want.ElectionID)
}

func sessionStateToPB(st SessionState) *fibdpb.SessionState {
	out := &fibdpb.SessionState{SessionId: st.ID}
	for _, f := range st.FIBs {
		out.Fibs = append(out.Fibs, &fibdpb.FibOwnership{FibId: uint32(f.FIB), Owner: f.Owner,
			OwnerSessionId: f.OwnerSession, OwnerElectionId: f.OwnerElected})
	}
	return out
}

// batch handles one request of a session and acknowledges it: a resync
// BEGIN (which takes effect even if the ops are refused: nothing is
// removed until END), the ops, then a resync END (only if the ops were
// applied).
func (g *GRPCService) batch(stream fibdpb.FibdService_ModifyRoutesServer, sess *Session, b *batchConverter,
	req *fibdpb.ModifyRoutesRequest, st *SessionState, sessErr error) error {
	resp := &fibdpb.ModifyRoutesResponse{Epoch: g.s.Epoch(), Seq: req.GetSeq()}
	if st != nil {
		resp.Session = sessionStateToPB(*st)
	}
	defer b.release()
	if g.beforeApply != nil {
		g.beforeApply()
	}
	errs := g.apply(sess, b, req, resp, sessErr)
	resp.Errors = errs
	resp.Ok = len(errs) == 0
	if resp.Ok {
		g.s.counters.batches.Add(1)
		g.s.counters.groupOps.Add(uint64(resp.Groups))
	} else {
		g.s.counters.batchesRefused.Add(1)
	}
	return stream.Send(resp)
}

func (g *GRPCService) apply(sess *Session, b *batchConverter, req *fibdpb.ModifyRoutesRequest,
	resp *fibdpb.ModifyRoutesResponse, sessErr error) []*fibdpb.EntryError {
	if sessErr != nil {
		return batchErrors(sessErr)
	}
	mark := req.GetResync()
	if len(req.GetOps())+len(req.GetGroups()) == 0 && mark == fibdpb.ResyncMark_RESYNC_MARK_UNSPECIFIED {
		return nil // a session-only request
	}
	id := adj.FIBID(req.GetFibId())
	changes, errs := b.convert(g, req, sess.Params().Source)
	if errs != nil {
		return errs
	}
	if mark == fibdpb.ResyncMark_RESYNC_MARK_BEGIN {
		if err := sess.BeginResync(id); err != nil {
			return batchErrors(err)
		}
	}
	if len(changes) > 0 {
		var out []fib.Outcome
		if req.GetWantResults() {
			out = b.outcomes(len(changes))
		}
		res, err := sess.Apply(id, changes, out)
		if errors.Is(err, ErrNotSaved) {
			resp.StateError, err = err.Error(), nil
		}
		if err != nil {
			return entryErrors(err, req, b.origin)
		}
		resp.Added, resp.Updated, resp.Deleted = uint32(res.Added), uint32(res.Updated), uint32(res.Deleted)
		resp.Absent, resp.Unresolved, resp.Groups = uint32(res.Absent), uint32(res.Unresolved), uint32(res.Groups)
		resp.FibVersion = res.Version
		if out != nil {
			resp.Results = make([]fibdpb.EntryResult, len(req.GetOps()))
			for i, o := range out {
				if at := b.origin[i]; at >= 0 {
					resp.Results[at] = entryResults[o]
				}
			}
		}
	}
	if mark == fibdpb.ResyncMark_RESYNC_MARK_END {
		n, err := sess.EndResync(id)
		if errors.Is(err, ErrNotSaved) {
			resp.StateError, err = err.Error(), nil
		}
		if err != nil {
			return batchErrors(err)
		}
		resp.Removed = uint64(n)
	}
	return nil
}

// batchErrors describes a batch refused as a whole (index -1).
func batchErrors(err error) []*fibdpb.EntryError {
	e := &fibdpb.EntryError{Index: -1, Code: int32(codeOf(err)), Message: err.Error()}
	var fe *FieldError
	if errors.As(err, &fe) {
		e.Field = fe.Field
	}
	return []*fibdpb.EntryError{e}
}

// entryErrors describes a refused batch: every entry a *fib.BatchError
// names, or the batch as a whole.
func entryErrors(err error, req *fibdpb.ModifyRoutesRequest, origin []int) []*fibdpb.EntryError {
	var be *fib.BatchError
	if !errors.As(err, &be) {
		return batchErrors(err)
	}
	failed := be.Failed
	if len(failed) == 0 {
		failed = []fib.EntryFailure{{Index: be.Index, Err: be.Err}}
	}
	out := make([]*fibdpb.EntryError, len(failed))
	for i, f := range failed {
		at := f.Index
		if f.Index < len(origin) {
			at = origin[f.Index]
		}
		e := &fibdpb.EntryError{Index: int32(at), Code: int32(codeOf(f.Err)), Message: f.Err.Error()}
		if at >= 0 {
			e.Prefix, e.Field = req.GetOps()[at].GetPrefix(), "ops["+strconv.Itoa(at)+"]"
		} else {
			e.Field = "groups[" + strconv.Itoa(-2-at) + "]"
		}
		out[i] = e
	}
	return out
}

// batchConverter turns batches into fib changes, reusing its buffers from
// one batch to the next: one stream converts hundreds of thousands of
// routes a second.
type batchConverter struct {
	changes []fib.Change
	paths   [][]fib.Path
	out     []fib.Outcome
	// origin[i] is where changes[i] came from: its index in ops, or -2-k
	// for groups[k].
	origin []int
	// groupPaths shares one path slice per group a batch's routes name
	// (fib interns a path set once per slice).
	groupPaths map[uint32][]fib.Path
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
	fib.OutcomeAbsent:  fibdpb.EntryResult_ENTRY_RESULT_ABSENT,
}

func (b *batchConverter) release() {
	clear(b.changes) // drop references to this batch's paths
	b.changes = b.changes[:0]
	b.paths = b.paths[:0]
	b.origin = b.origin[:0]
	clear(b.groupPaths)
}

// convert checks a batch as a whole and converts each entry. Each path
// set becomes one []fib.Path shared by every route that names it, which
// lets fib intern it once per batch.
//
// A problem of the batch as a whole is one error with index -1; problems of
// entries are reported for every entry that has one.
func (b *batchConverter) convert(g *GRPCService, req *fibdpb.ModifyRoutesRequest, source string) ([]fib.Change, []*fibdpb.EntryError) {
	batchErr := batchErrors
	ops := req.GetOps()
	if len(ops) > MaxBatch {
		return nil, []*fibdpb.EntryError{{Index: -1, Code: int32(codes.ResourceExhausted), Field: "ops",
			Message: fmt.Sprintf("batch of %d entries; at most %d", len(ops), MaxBatch)}}
	}
	if _, err := g.s.fib(adj.FIBID(req.GetFibId())); err != nil {
		e := batchErr(err)
		e[0].Field = "fib_id"
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
		b.changes = make([]fib.Change, 0, len(ops)+len(req.GetGroups()))
	}
	var errs []*fibdpb.EntryError
	// Group sets first, then the routes (which may name them), then group
	// deletes (after the routes that let go of them).
	var dels []fib.Change
	var delIdx []int
	for k, gop := range req.GetGroups() {
		c, err := g.groupChange(fmt.Sprintf("groups[%d]", k), gop, source)
		if err != nil {
			e := batchErrors(err)[0]
			e.Index = int32(-2 - k)
			errs = append(errs, e)
			continue
		}
		if c.Op == fib.OpGroupDelete {
			dels, delIdx = append(dels, c), append(delIdx, -2-k)
			continue
		}
		b.changes = append(b.changes, c)
		b.origin = append(b.origin, -2-k)
	}
	for i, op := range ops {
		c, e := b.convertOp(i, op, source, pref)
		if e != nil {
			errs = append(errs, e)
			continue
		}
		b.changes = append(b.changes, c)
		b.origin = append(b.origin, i)
	}
	b.changes = append(b.changes, dels...)
	b.origin = append(b.origin, delIdx...)
	if errs != nil {
		return nil, errs
	}
	return b.changes, nil
}

// groupChange converts a group op of a batch (or of SetNextHopGroup).
func (g *GRPCService) groupChange(field string, op *fibdpb.NextHopGroupOp, source string) (fib.Change, error) {
	grp := fib.Group{ID: op.GetId(), Source: source, Backup: op.GetBackupId()}
	if grp.ID == 0 {
		return fib.Change{}, fieldErr(field+".id", "0", "group IDs start at 1")
	}
	switch op.GetOp() {
	case fibdpb.GroupOpKind_GROUP_OP_KIND_DELETE:
		return fib.Change{Op: fib.OpGroupDelete, Group: grp}, nil
	case fibdpb.GroupOpKind_GROUP_OP_KIND_SET:
	default:
		return fib.Change{}, fieldErr(field+".op", op.GetOp().String(), "want SET or DELETE")
	}
	if len(op.GetPaths()) == 0 {
		return fib.Change{}, fieldErr(field+".paths", "", "a group needs at least one path")
	}
	for j, p := range op.GetPaths() {
		path, err := g.pathFromPB(fmt.Sprintf("%s.paths[%d]", field, j), p, nil)
		if err != nil {
			return fib.Change{}, err
		}
		grp.Paths = append(grp.Paths, path)
	}
	return fib.Change{Op: fib.OpGroupSet, Group: grp}, nil
}

// convertOp converts entry i.
func (b *batchConverter) convertOp(i int, op *fibdpb.RouteOp, source string, pref fib.Preference) (fib.Change, *fibdpb.EntryError) {
	c := fib.Change{Route: fib.Route{Source: source, Preference: pref}}
	switch op.GetOp() {
	case fibdpb.RouteOpKind_ROUTE_OP_KIND_ADD:
		c.Op = fib.OpAdd
	case fibdpb.RouteOpKind_ROUTE_OP_KIND_REPLACE:
		c.Op = fib.OpReplace
	case fibdpb.RouteOpKind_ROUTE_OP_KIND_DELETE:
		c.Op = fib.OpDelete
	default:
		return fib.Change{}, opErr(i, op, "op", op.GetOp().String(), "unknown operation")
	}
	p, err := netip.ParsePrefix(op.GetPrefix())
	if err != nil {
		return fib.Change{}, opErr(i, op, "prefix", op.GetPrefix(), "%v", err)
	}
	if p.Masked() != p || p.Addr().Is4In6() || p.Addr().Zone() != "" {
		// The careful parser says exactly what is wrong.
		if _, err := ParsePrefix("", op.GetPrefix()); err != nil {
			return fib.Change{}, opErr(i, op, "prefix", op.GetPrefix(), "%v", err.(*FieldError).Err)
		}
		p, _ = ParsePrefix("", op.GetPrefix())
	}
	c.Route.Prefix = p
	if c.Op != fib.OpDelete && op.GetGroupId() != 0 {
		if b.groupPaths == nil {
			b.groupPaths = map[uint32][]fib.Path{}
		}
		gp, ok := b.groupPaths[op.GetGroupId()]
		if !ok {
			gp = []fib.Path{{Kind: fib.PathGroup, Group: op.GetGroupId()}}
			b.groupPaths[op.GetGroupId()] = gp
		}
		c.Route.Paths = gp
		if v := op.GetPreference(); v != 0 {
			if c.Route.Preference, err = parsePreference("", v, pref); err != nil {
				return fib.Change{}, opErr(i, op, "preference", strconv.FormatUint(uint64(v), 10), "must be in 1-255")
			}
		}
		return c, nil
	}
	if c.Op != fib.OpDelete {
		ps := op.GetPathSet()
		if int(ps) >= len(b.paths) {
			return fib.Change{}, opErr(i, op, "path_set", strconv.FormatUint(uint64(ps), 10),
				"no such path set (the batch has %d)", len(b.paths))
		}
		c.Route.Paths = b.paths[ps]
		if v := op.GetPreference(); v != 0 {
			if c.Route.Preference, err = parsePreference("", v, pref); err != nil {
				return fib.Change{}, opErr(i, op, "preference", strconv.FormatUint(uint64(v), 10), "must be in 1-255")
			}
		}
	}
	return c, nil
}

func opErr(i int, op *fibdpb.RouteOp, field, value, format string, args ...any) *fibdpb.EntryError {
	f := "ops[" + strconv.Itoa(i) + "]." + field
	return &fibdpb.EntryError{Index: int32(i), Prefix: op.GetPrefix(), Code: int32(codes.InvalidArgument), Field: f,
		Message: (&FieldError{Field: f, Value: value, Err: fmt.Errorf(format, args...)}).Error()}
}
