package control_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/fibdpb"
)

// lookup returns how FIB id resolves addr.
func (e *env) lookup(id uint32, addr string) fibdpb.Resolution {
	e.t.Helper()
	resp, err := e.c.LookupRoute(e.ctx, &fibdpb.LookupRouteRequest{FibId: id, Address: addr})
	e.must(err)
	return resp.GetResolution()
}

// push sends one batch on a session's stream and returns its
// acknowledgement, skipping fibd's own messages (seq 0).
func push(t *testing.T, s fibdpb.FibdService_ModifyRoutesClient, req *fibdpb.ModifyRoutesRequest) *fibdpb.ModifyRoutesResponse {
	t.Helper()
	if req.PathSets == nil {
		req.PathSets = twoGateways()
	}
	if err := s.Send(req); err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetSeq() != 0 {
			return resp
		}
	}
}

// note waits (bounded) for fibd's next unsolicited session message.
func note(t *testing.T, s fibdpb.FibdService_ModifyRoutesClient) *fibdpb.SessionState {
	t.Helper()
	got := make(chan *fibdpb.ModifyRoutesResponse, 1)
	go func() {
		resp, err := s.Recv()
		if err != nil {
			got <- nil
			return
		}
		got <- resp
	}()
	select {
	case resp := <-got:
		if resp == nil || resp.GetSeq() != 0 || resp.GetSession() == nil {
			t.Fatalf("want a session message, got %v", resp)
		}
		return resp.GetSession()
	case <-time.After(5 * time.Second):
		t.Fatal("no session message")
	}
	return nil
}

func owner(st *fibdpb.SessionState, fib uint32) bool {
	for _, f := range st.GetFibs() {
		if f.GetFibId() == fib {
			return f.GetOwner()
		}
	}
	return false
}

func flush(p *fibdpb.SessionParams) *fibdpb.SessionParams {
	p.OnDisconnect = fibdpb.DisconnectPolicy_DISCONNECT_POLICY_FLUSH
	return p
}

// waitEnded closes a session's sending side and waits for fibd to end it.
func waitEnded(t *testing.T, s fibdpb.FibdService_ModifyRoutesClient) {
	t.Helper()
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := s.Recv(); err != nil {
			return
		}
	}
}

// TestDeadSessionNeverWipesItsSuccessor is the restart of a daemon: its
// old session (FLUSH) is still open when the new one pushes; the old one's
// end must not remove what the new one pushed.
func TestDeadSessionNeverWipesItsSuccessor(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	s1, st1 := e.session(flush(params("bgp", 10)))
	if !owner(st1, 10) {
		t.Fatalf("first session does not own bgp: %v", st1)
	}
	if r := push(t, s1, &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10, Ops: []*fibdpb.RouteOp{addOp("203.0.113.0/24", 0)}}); !r.GetOk() {
		t.Fatal(r)
	}
	s2, st2 := e.session(flush(params("bgp", 10)))
	if !owner(st2, 10) {
		t.Fatalf("the newer session does not own bgp: %v", st2)
	}
	if st := note(t, s1); owner(st, 10) {
		t.Fatalf("the old session was not told it lost bgp: %v", st)
	}
	if r := push(t, s2, &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10, Ops: []*fibdpb.RouteOp{addOp("198.51.100.0/24", 0)}}); !r.GetOk() {
		t.Fatal(r)
	}
	// The old session can no longer write.
	r := push(t, s1, &fibdpb.ModifyRoutesRequest{Seq: 2, FibId: 10, Ops: []*fibdpb.RouteOp{addOp("198.18.0.0/24", 0)}})
	if r.GetOk() || len(r.GetErrors()) != 1 || codes.Code(r.GetErrors()[0].GetCode()) != codes.FailedPrecondition {
		t.Fatalf("a superseded session's batch: %v, want FailedPrecondition", r)
	}
	waitEnded(t, s1)
	time.Sleep(50 * time.Millisecond)
	if got := e.lookup(10, "198.51.100.7"); got != fibdpb.Resolution_RESOLUTION_GATEWAY {
		t.Fatalf("198.51.100.7 in fib 10: %v after the old session ended; its successor's route is gone", got)
	}
	if got := e.lookup(10, "203.0.113.7"); got != fibdpb.Resolution_RESOLUTION_GATEWAY {
		t.Fatalf("203.0.113.7: %v; the superseded session's end flushed the source", got)
	}
	// The owner's end does flush.
	waitEnded(t, s2)
	deadline := time.Now().Add(2 * time.Second)
	for e.lookup(10, "198.51.100.7") != fibdpb.Resolution_RESOLUTION_MISS && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := e.lookup(10, "198.51.100.7"); got != fibdpb.Resolution_RESOLUTION_MISS {
		t.Fatalf("the owner's FLUSH left %v", got)
	}
}

// TestElectionDecidesTheOwner: the highest election ID owns the source, a
// backup's writes are refused, raising the ID takes over, and when the
// owner ends the best remaining session is promoted and told.
func TestElectionDecidesTheOwner(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	elect := func(id uint64) *fibdpb.SessionParams {
		p := flush(params("bgp", 10))
		p.ElectionId = id
		return p
	}
	a, sta := e.session(elect(5))
	b, stb := e.session(elect(3))
	if !owner(sta, 10) || owner(stb, 10) || stb.GetFibs()[0].GetOwnerElectionId() != 5 {
		t.Fatalf("election 5 vs 3: %v / %v", sta, stb)
	}
	r := push(t, b, &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10, Ops: []*fibdpb.RouteOp{addOp("198.51.100.0/24", 0)}})
	if r.GetOk() || codes.Code(r.GetErrors()[0].GetCode()) != codes.FailedPrecondition || r.GetErrors()[0].GetIndex() != -1 ||
		!strings.Contains(r.GetErrors()[0].GetMessage(), "election ID 5") {
		t.Fatalf("backup's batch: %v", r)
	}
	if r := push(t, a, &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10, Ops: []*fibdpb.RouteOp{addOp("203.0.113.0/24", 0)}}); !r.GetOk() {
		t.Fatal(r)
	}
	c, stc := e.session(elect(1))
	if owner(stc, 10) {
		t.Fatal("election 1 took over from 5")
	}
	// Lowering is refused; raising above the owner takes over.
	p := elect(2)
	if r := push(t, b, &fibdpb.ModifyRoutesRequest{Seq: 2, Session: p}); r.GetOk() || r.GetErrors()[0].GetField() != "session.election_id" {
		t.Fatalf("lowering the election ID: %v", r)
	}
	p = elect(7)
	r = push(t, b, &fibdpb.ModifyRoutesRequest{Seq: 3, Session: p})
	if !r.GetOk() || !owner(r.GetSession(), 10) {
		t.Fatalf("raising to 7: %v", r)
	}
	if st := note(t, a); owner(st, 10) || st.GetFibs()[0].GetOwnerElectionId() != 7 {
		t.Fatalf("the old owner's notice: %v", st)
	}
	// The old owner's end (FLUSH) changes nothing: it no longer owns bgp.
	waitEnded(t, a)
	time.Sleep(50 * time.Millisecond)
	if got := e.lookup(10, "203.0.113.7"); got != fibdpb.Resolution_RESOLUTION_GATEWAY {
		t.Fatalf("a former owner's end flushed: %v", got)
	}
	// The owner's end flushes and promotes the backup, which is told.
	waitEnded(t, b)
	if st := note(t, c); !owner(st, 10) {
		t.Fatalf("the backup was not promoted: %v", st)
	}
	if got := e.lookup(10, "203.0.113.7"); got != fibdpb.Resolution_RESOLUTION_MISS {
		t.Fatalf("the owner's FLUSH left %v", got)
	}
	if r := push(t, c, &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10, Ops: []*fibdpb.RouteOp{addOp("198.51.100.0/24", 0)}}); !r.GetOk() {
		t.Fatalf("the promoted session's batch: %v", r)
	}
}

// TestSessionRules: the first request opens a session; a batch goes to
// one of its FIBs; the parameters other than election_id are fixed; a
// unary change of a source a session owns is refused.
func TestSessionRules(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	e.fibWithPort(20, "eth2", 0, "192.0.2.1/24")
	stream, err := e.c.ModifyRoutes(e.ctx)
	e.must(err)
	e.must(stream.Send(&fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10, PathSets: twoGateways(), Ops: []*fibdpb.RouteOp{addOp("198.51.100.0/24", 0)}}))
	if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "session") {
		t.Fatalf("a stream without a session: %v", err)
	}
	for _, tc := range []struct {
		name  string
		p     *fibdpb.SessionParams
		field string
	}{
		{"no FIBs", params("bgp"), "session.fib_ids"},
		{"unknown FIB", params("bgp", 10, 99), "session.fib_ids[1]"},
		{"twice", params("bgp", 10, 10), "session.fib_ids[1]"},
		{"reserved source", params("connected", 10), "session.source"},
	} {
		stream, err := e.c.ModifyRoutes(e.ctx)
		e.must(err)
		e.must(stream.Send(&fibdpb.ModifyRoutesRequest{Seq: 1, Session: tc.p}))
		if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want InvalidArgument naming %s", tc.name, err, tc.field)
		}
	}
	s, _ := e.session(params("bgp", 10))
	r := push(t, s, &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 20, Ops: []*fibdpb.RouteOp{addOp("198.51.100.0/24", 0)}})
	if r.GetOk() || r.GetErrors()[0].GetField() != "fib_id" || codes.Code(r.GetErrors()[0].GetCode()) != codes.InvalidArgument {
		t.Fatalf("a batch for a FIB outside the session: %v", r)
	}
	r = push(t, s, &fibdpb.ModifyRoutesRequest{Seq: 2, Session: flush(params("bgp", 10))})
	if r.GetOk() || r.GetErrors()[0].GetField() != "session" {
		t.Fatalf("changing the policy mid-session: %v", r)
	}
	_, err = e.c.AddRoute(e.ctx, &fibdpb.AddRouteRequest{Route: &fibdpb.Route{FibId: 10, Prefix: "203.0.113.0/24", Source: "bgp",
		Paths: []*fibdpb.Path{via("192.0.2.2")}}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "session") {
		t.Fatalf("AddRoute of an owned source: %v", err)
	}
	if _, err := e.c.BeginResync(e.ctx, &fibdpb.BeginResyncRequest{FibId: 10, Source: "bgp"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("BeginResync of an owned source: %v", err)
	}
	// FIB 20 is not the session's: bgp there is free.
	e.addRoute(20, "203.0.113.0/24", "bgp", via("192.0.2.2"))
	// Too many entries is a limit.
	big := &fibdpb.ModifyRoutesRequest{Seq: 3, FibId: 10}
	for range control.MaxBatch + 1 {
		big.Ops = append(big.Ops, &fibdpb.RouteOp{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_DELETE, Prefix: "198.51.100.0/24"})
	}
	if r := push(t, s, big); r.GetOk() || codes.Code(r.GetErrors()[0].GetCode()) != codes.ResourceExhausted {
		t.Fatalf("a batch past MaxBatch: %v, want ResourceExhausted", r)
	}
	waitEnded(t, s)
	time.Sleep(20 * time.Millisecond)
	e.addRoute(10, "203.0.113.0/24", "bgp", via("192.0.2.2")) // no owner now
}

// TestEveryRefusedEntryIsReported: a batch with several bad entries names
// each one, found by the adapter or by fib, and changes nothing.
func TestEveryRefusedEntryIsReported(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	s, _ := e.session(params("bgp", 10))
	req := func(seq uint64) *fibdpb.ModifyRoutesRequest {
		r := &fibdpb.ModifyRoutesRequest{Seq: seq, FibId: 10}
		for _, p := range nets(0, 100) {
			r.Ops = append(r.Ops, addOp(p, 0))
		}
		return r
	}
	before := e.fingerprint()
	bad := req(1)
	bad.Ops[3].Prefix = "198.18.3.1/24"
	bad.Ops[40].PathSet = 9
	bad.Ops[77].Prefix = "nonsense"
	r := push(t, s, bad)
	if r.GetOk() || len(r.GetErrors()) != 3 || r.GetErrors()[0].GetField() != "ops[3].prefix" ||
		r.GetErrors()[1].GetField() != "ops[40].path_set" || r.GetErrors()[2].GetField() != "ops[77].prefix" {
		t.Fatalf("adapter refusals: %v", r.GetErrors())
	}
	bad = req(2)
	bad.Ops[5] = &fibdpb.RouteOp{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_DELETE, Prefix: "203.0.113.0/24"}
	bad.Ops[50].Prefix = "2001:db8:50::/48" // an IPv4 gateway
	bad.Ops[99] = &fibdpb.RouteOp{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_REPLACE, Prefix: "203.0.113.0/25"}
	r = push(t, s, bad)
	want := []struct {
		index int32
		code  codes.Code
	}{{5, codes.NotFound}, {50, codes.InvalidArgument}, {99, codes.NotFound}}
	if r.GetOk() || len(r.GetErrors()) != len(want) {
		t.Fatalf("fib refusals: %v", r.GetErrors())
	}
	for i, w := range want {
		if ee := r.GetErrors()[i]; ee.GetIndex() != w.index || codes.Code(ee.GetCode()) != w.code || ee.GetPrefix() == "" || ee.GetMessage() == "" {
			t.Fatalf("refusal %d: %v, want entry %d %v", i, ee, w.index, w.code)
		}
	}
	if e.fingerprint() != before {
		t.Fatal("a refused batch changed state")
	}
	if r := push(t, s, req(3)); !r.GetOk() || r.GetAdded() != 100 {
		t.Fatalf("the good batch: %v", r)
	}
}

// TestIdempotentDeletes: a session that asks for them deletes what is not
// there as a no-op, reported as ABSENT, and its batch applies.
func TestIdempotentDeletes(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	p := params("bgp", 10)
	p.IdempotentDeletes = true
	s, _ := e.session(p)
	del := func(prefix string) *fibdpb.RouteOp {
		return &fibdpb.RouteOp{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_DELETE, Prefix: prefix}
	}
	r := push(t, s, &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10, WantResults: true,
		Ops: []*fibdpb.RouteOp{del("203.0.113.0/24"), addOp("198.51.100.0/24", 0), del("198.51.100.0/24"), del("198.51.100.0/24")}})
	want := "[ENTRY_RESULT_ABSENT ENTRY_RESULT_ADDED ENTRY_RESULT_DELETED ENTRY_RESULT_ABSENT]"
	if !r.GetOk() || r.GetAbsent() != 2 || r.GetAdded() != 1 || r.GetDeleted() != 1 || fmtResults(r) != want {
		t.Fatalf("idempotent deletes: %v, want %s", r, want)
	}
}

func fmtResults(r *fibdpb.ModifyRoutesResponse) string {
	var s []string
	for _, x := range r.GetResults() {
		s = append(s, x.String())
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestResyncInTheSession: BEGIN, the table again (less one route), END:
// exactly the route not pushed goes, in order with the batches.
func TestResyncInTheSession(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	s, _ := e.session(params("bgp", 10))
	all := &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10}
	for _, p := range nets(0, 50) {
		all.Ops = append(all.Ops, addOp(p, 0))
	}
	if r := push(t, s, all); !r.GetOk() {
		t.Fatal(r)
	}
	again := &fibdpb.ModifyRoutesRequest{Seq: 2, FibId: 10, Resync: fibdpb.ResyncMark_RESYNC_MARK_BEGIN, Ops: all.Ops[1:]}
	if r := push(t, s, again); !r.GetOk() {
		t.Fatal(r)
	}
	r := push(t, s, &fibdpb.ModifyRoutesRequest{Seq: 3, FibId: 10, Resync: fibdpb.ResyncMark_RESYNC_MARK_END})
	if !r.GetOk() || r.GetRemoved() != 1 {
		t.Fatalf("END: %v, want 1 removed", r)
	}
	if got := e.lookup(10, "198.18.0.1"); got != fibdpb.Resolution_RESOLUTION_MISS {
		t.Fatalf("the route not pushed again: %v", got)
	}
	if got := e.lookup(10, "198.18.1.1"); got != fibdpb.Resolution_RESOLUTION_GATEWAY {
		t.Fatalf("a route pushed again: %v", got)
	}
}

// TestEndResyncSweepsWithItsOwnMark: a BeginResync that comes while an
// EndResync is between its bookkeeping and its sweep must not make that
// sweep use the new mark (which would remove every route).
func TestEndResyncSweepsWithItsOwnMark(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	for _, p := range nets(0, 20) {
		e.addRoute(10, p, "loader", via("192.0.2.2"))
	}
	_, err := e.c.BeginResync(e.ctx, &fibdpb.BeginResyncRequest{FibId: 10, Source: "loader"})
	e.must(err)
	for _, p := range nets(0, 20) {
		e.addRoute(10, p, "loader", via("192.0.2.2"))
	}
	began := make(chan error, 1)
	control.SetBeforeSweep(e.srv, func() {
		go func() { began <- e.srv.BeginResync(10, "loader") }()
		time.Sleep(50 * time.Millisecond) // let it run, if it can
	})
	resp, err := e.c.EndResync(e.ctx, &fibdpb.EndResyncRequest{FibId: 10, Source: "loader"})
	e.must(err)
	control.SetBeforeSweep(e.srv, nil)
	e.must(<-began)
	if resp.GetRemoved() != 0 || len(e.routes(&fibdpb.ListRoutesRequest{FibId: u32(10), Source: "loader"})) != 20 {
		t.Fatalf("EndResync removed %d routes; every one was pushed again", resp.GetRemoved())
	}
}

// TestAppliedButNotSavedIsNotAnError: a change whose state file write
// fails was applied; the answer says so (OK, state_error) instead of an
// error status that would claim nothing changed.
func TestAppliedButNotSavedIsNotAnError(t *testing.T) {
	e := newEnv(t, control.Limits{})
	dir := t.TempDir() + "/state"
	e.must(os.MkdirAll(dir, 0o700))
	e.must(e.srv.EnableState(dir + "/state.json"))
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	e.must(os.RemoveAll(dir)) // saving now fails
	resp, err := e.c.AddRoute(e.ctx, &fibdpb.AddRouteRequest{Route: &fibdpb.Route{FibId: 10, Prefix: "203.0.113.0/24",
		Source: "static", Paths: []*fibdpb.Path{via("192.0.2.2")}}})
	if err != nil {
		t.Fatalf("AddRoute that applied but could not be saved: %v, want OK with state_error", err)
	}
	if resp.GetStateError() == "" {
		t.Fatal("state_error empty although the save failed")
	}
	if got := e.lookup(10, "203.0.113.1"); got != fibdpb.Resolution_RESOLUTION_GATEWAY {
		t.Fatalf("the route is not there: %v", got)
	}
	cr, err := e.c.CreateFib(e.ctx, &fibdpb.CreateFibRequest{FibId: 30})
	if err != nil || cr.GetStateError() == "" {
		t.Fatalf("CreateFib: %v, %v", cr, err)
	}
}
