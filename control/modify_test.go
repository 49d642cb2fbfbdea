package control_test

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/fibdpb"
)

func addOp(prefix string, set uint32) *fibdpb.RouteOp {
	return &fibdpb.RouteOp{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_ADD, Prefix: prefix, PathSet: set}
}

// nets returns n /24 prefixes inside 198.18.0.0/15, starting at the
// off-th.
func nets(off, n int) []string {
	out := make([]string, n)
	for i := range out {
		j := off + i
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(j>>8), byte(j), 0}), 24).String()
	}
	return out
}

// session opens a ModifyRoutes session with the given parameters and
// returns its stream after the opening acknowledgement, and the session's
// state.
func (e *env) session(p *fibdpb.SessionParams) (fibdpb.FibdService_ModifyRoutesClient, *fibdpb.SessionState) {
	e.t.Helper()
	stream, err := e.c.ModifyRoutes(e.ctx)
	e.must(err)
	e.must(stream.Send(&fibdpb.ModifyRoutesRequest{Seq: openSeq, Session: p}))
	resp, err := stream.Recv()
	e.must(err)
	if !resp.GetOk() || resp.GetSeq() != openSeq || resp.GetSession() == nil {
		e.t.Fatalf("opening a session: %v", resp)
	}
	return stream, resp.GetSession()
}

// openSeq numbers the requests that open sessions in tests.
const openSeq = 1 << 40

// params are a session's parameters: source, FIBs.
func params(source string, fibs ...uint32) *fibdpb.SessionParams {
	return &fibdpb.SessionParams{Source: source, FibIds: fibs}
}

func twoGateways() []*fibdpb.PathSet {
	return []*fibdpb.PathSet{{Paths: []*fibdpb.Path{via("192.0.2.2")}}, {Paths: []*fibdpb.Path{via("192.0.2.3")}}}
}

func TestModifyRoutesAcksEveryBatchInOrder(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	stream, _ := e.session(params("bgp", 10))
	const batches, per = 20, 100
	for b := range batches {
		req := &fibdpb.ModifyRoutesRequest{Seq: uint64(1000 + b), FibId: 10, PathSets: twoGateways()}
		for i, p := range nets(b*per, per) {
			req.Ops = append(req.Ops, addOp(p, uint32(i%2)))
		}
		e.must(stream.Send(req))
	}
	e.must(stream.CloseSend())
	for b := range batches {
		resp, err := stream.Recv()
		e.must(err)
		if resp.GetSeq() != uint64(1000+b) || !resp.GetOk() || resp.GetAdded() != per || resp.GetEpoch() != e.srv.Epoch() {
			t.Fatalf("ack %d: %v", b, resp)
		}
	}
	if got := len(e.routes(&fibdpb.ListRoutesRequest{FibId: u32(10), Source: "bgp"})); got != batches*per {
		t.Fatalf("%d bgp routes, want %d", got, batches*per)
	}
	if got := e.routes(&fibdpb.ListRoutesRequest{FibId: u32(10), Prefix: "198.18.0.0/24"}); len(got) != 1 || got[0].GetPreference() != 20 {
		t.Fatalf("bgp route %v: want the default preference 20", got)
	}
}

// TestModifyRoutesBatchWithOneBadEntryChangesNothing refuses whole batches
// whose one entry is bad — caught by the adapter (a prefix with host bits),
// or by fib (a delete of a route that is not there, a gateway of the wrong
// family) — names the entry, leaves the FIB exactly as it was, and keeps
// the stream open for the next batch.
func TestModifyRoutesBatchWithOneBadEntryChangesNothing(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	stream, _ := e.session(params("bgp", 10))
	good := nets(0, 100)
	seq := uint64(0)
	send := func(mutate func(req *fibdpb.ModifyRoutesRequest)) *fibdpb.ModifyRoutesResponse {
		t.Helper()
		seq++
		req := &fibdpb.ModifyRoutesRequest{Seq: seq, FibId: 10, PathSets: twoGateways()}
		for _, p := range good {
			req.Ops = append(req.Ops, addOp(p, 0))
		}
		mutate(req)
		e.must(stream.Send(req))
		resp, err := stream.Recv()
		e.must(err)
		if resp.GetSeq() != seq {
			t.Fatalf("ack for seq %d, want %d", resp.GetSeq(), seq)
		}
		return resp
	}
	for _, tc := range []struct {
		name   string
		mutate func(*fibdpb.ModifyRoutesRequest)
		field  string
		code   codes.Code
	}{
		{"host bits", func(r *fibdpb.ModifyRoutesRequest) { r.Ops[57].Prefix = "198.18.57.1/24" }, "ops[57].prefix", codes.InvalidArgument},
		{"unparsable prefix", func(r *fibdpb.ModifyRoutesRequest) { r.Ops[57].Prefix = "198.18.57/24" }, "ops[57].prefix", codes.InvalidArgument},
		{"no such path set", func(r *fibdpb.ModifyRoutesRequest) { r.Ops[57].PathSet = 9 }, "ops[57].path_set", codes.InvalidArgument},
		{"unknown op", func(r *fibdpb.ModifyRoutesRequest) { r.Ops[57].Op = 0 }, "ops[57].op", codes.InvalidArgument},
		{"delete of a missing route", func(r *fibdpb.ModifyRoutesRequest) {
			r.Ops[57] = &fibdpb.RouteOp{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_DELETE, Prefix: "203.0.113.0/24"}
		}, "ops[57]", codes.NotFound},
		{"gateway of the wrong family", func(r *fibdpb.ModifyRoutesRequest) { r.Ops[57].Prefix = "2001:db8:57::/48" }, "ops[57]", codes.InvalidArgument},
		{"gateway inside its own route", func(r *fibdpb.ModifyRoutesRequest) {
			r.PathSets = append(r.PathSets, &fibdpb.PathSet{Paths: []*fibdpb.Path{via("198.18.57.1")}})
			r.Ops[57].PathSet = 2
		}, "ops[57]", codes.InvalidArgument},
		{"no such group", func(r *fibdpb.ModifyRoutesRequest) { r.Ops[57].GroupId = 42 }, "ops[57]", codes.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.fingerprint()
			resp := send(tc.mutate)
			if len(resp.GetErrors()) != 1 {
				t.Fatalf("response %v: want one refused entry", resp)
			}
			ee := resp.GetErrors()[0]
			if resp.GetOk() || ee.GetIndex() != 57 || ee.GetField() != tc.field || codes.Code(ee.GetCode()) != tc.code {
				t.Fatalf("response %v: want entry 57, field %s, code %v", resp, tc.field, tc.code)
			}
			if ee.GetPrefix() == "" || ee.GetMessage() == "" {
				t.Fatalf("error does not name the prefix or say why: %v", ee)
			}
			if after := e.fingerprint(); after != before {
				t.Fatalf("refused batch changed state")
			}
		})
	}
	// Batch-level refusals: index -1.
	for _, tc := range []struct {
		name   string
		mutate func(*fibdpb.ModifyRoutesRequest)
		field  string
	}{
		{"unknown FIB", func(r *fibdpb.ModifyRoutesRequest) { r.FibId = 99 }, "fib_id"},
		{"bad path set", func(r *fibdpb.ModifyRoutesRequest) { r.PathSets[1].Paths[0].Gateway = "x" }, "path_sets[1].paths[0].gateway"},
		{"empty path set", func(r *fibdpb.ModifyRoutesRequest) { r.PathSets[1].Paths = nil }, "path_sets[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.fingerprint()
			resp := send(tc.mutate)
			if resp.GetOk() || len(resp.GetErrors()) != 1 || resp.GetErrors()[0].GetIndex() != -1 || resp.GetErrors()[0].GetField() != tc.field {
				t.Fatalf("response %v: want a batch error on %s", resp, tc.field)
			}
			if after := e.fingerprint(); after != before {
				t.Fatalf("refused batch changed state")
			}
		})
	}
	// The stream still works.
	if resp := send(func(*fibdpb.ModifyRoutesRequest) {}); !resp.GetOk() || resp.GetAdded() != 100 {
		t.Fatalf("good batch after refusals: %v", resp)
	}
}

// TestModifyRoutesFlowControlBoundsReadAhead holds the applier and shows
// that fibd stops reading: the client's Send blocks long before its
// batches are all sent, and fibd holds at most ReadAhead decoded batches
// beside the one it applies.
func TestModifyRoutesFlowControlBoundsReadAhead(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	release := make(chan struct{})
	var entered atomic.Int32
	control.SetBeforeApply(e.svc, func() {
		entered.Add(1)
		<-release
	})
	// Each batch is about 200 KB on the wire; 80 of them are 16 MB,
	// far beyond the windows. The first opens the session.
	const total = 80
	stream, err := e.c.ModifyRoutes(e.ctx)
	e.must(err)
	req := &fibdpb.ModifyRoutesRequest{FibId: 10, PathSets: twoGateways()}
	for _, p := range nets(0, 10000) {
		req.Ops = append(req.Ops, addOp(p, 0))
	}
	var sent atomic.Int32
	done := make(chan error, 1)
	go func() {
		for i := range total {
			req.Seq, req.Session = uint64(i+1), nil
			if i == 0 {
				req.Session = params("bgp", 10)
			}
			if err := stream.Send(req); err != nil {
				done <- err
				return
			}
			sent.Add(1)
		}
		done <- stream.CloseSend()
	}()
	// Wait until sending stalls.
	last, still := int32(-1), 0
	for still < 5 {
		time.Sleep(50 * time.Millisecond)
		if n := sent.Load(); n == last {
			still++
		} else {
			last, still = n, 0
		}
	}
	if n := sent.Load(); n >= total {
		t.Fatalf("client sent all %d batches while fibd applied none: no back-pressure", n)
	}
	if n := entered.Load(); n != 1 {
		t.Fatalf("%d batches entered the applier while it was held, want 1", n)
	}
	t.Logf("client stalled after %d batches (%d MB)", sent.Load(), int(sent.Load())*protoSize(req)>>20)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for range total {
		resp, err := stream.Recv()
		e.must(err)
		if !resp.GetOk() {
			t.Fatalf("batch %d: %v", resp.GetSeq(), resp.GetErrors())
		}
	}
}

func TestModifyRoutesDisconnectPolicy(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	for _, policy := range []fibdpb.DisconnectPolicy{fibdpb.DisconnectPolicy_DISCONNECT_POLICY_PRESERVE, fibdpb.DisconnectPolicy_DISCONNECT_POLICY_FLUSH} {
		source := fmt.Sprintf("daemon-%d", policy)
		p := params(source, 10)
		p.OnDisconnect = policy
		stream, _ := e.session(p)
		// 50 routes on a path set, one on a next-hop group of the session's.
		gid := uint32(10 + policy)
		req := &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10, PathSets: twoGateways(),
			Groups: []*fibdpb.NextHopGroupOp{{Op: fibdpb.GroupOpKind_GROUP_OP_KIND_SET, Id: gid, Paths: []*fibdpb.Path{via("192.0.2.7")}}}}
		for _, p := range nets(0, 50) {
			req.Ops = append(req.Ops, addOp(p, 1))
		}
		req.Ops = append(req.Ops, &fibdpb.RouteOp{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_ADD, Prefix: fmt.Sprintf("203.0.113.%d/32", policy), GroupId: gid})
		e.must(stream.Send(req))
		if resp, err := stream.Recv(); err != nil || !resp.GetOk() {
			t.Fatalf("%v %v", resp, err)
		}
		e.must(stream.CloseSend())
		if _, err := stream.Recv(); err == nil {
			t.Fatal("stream did not end")
		}
		want, wantGroup := 51, true
		if policy == fibdpb.DisconnectPolicy_DISCONNECT_POLICY_FLUSH {
			// FLUSH takes the session's groups with its routes.
			want, wantGroup = 0, false
		}
		defer func() {
			f, _ := e.reg.Get(10)
			if _, ok := f.GetGroup(gid); ok != wantGroup {
				t.Errorf("%v: group %d there %v after disconnect, want %v", policy, gid, ok, wantGroup)
			}
		}()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := len(e.routes(&fibdpb.ListRoutesRequest{FibId: u32(10), Source: source}))
			if got == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%v: %d routes left after disconnect, want %d", policy, got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestModifyRoutesPerSourceLimitIsResourceExhausted(t *testing.T) {
	e := newEnv(t, control.Limits{PerSource: 150})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	stream, _ := e.session(params("bgp", 10))
	for i, n := range []int{100, 100} {
		req := &fibdpb.ModifyRoutesRequest{Seq: uint64(i + 1), FibId: 10, PathSets: twoGateways()}
		for _, p := range nets(i*100, n) {
			req.Ops = append(req.Ops, addOp(p, 0))
		}
		e.must(stream.Send(req))
		resp, err := stream.Recv()
		e.must(err)
		if i == 0 && !resp.GetOk() {
			t.Fatalf("first batch: %v", resp)
		}
		if i == 1 && (resp.GetOk() || len(resp.GetErrors()) != 50 || codes.Code(resp.GetErrors()[0].GetCode()) != codes.ResourceExhausted ||
			resp.GetErrors()[0].GetIndex() != 50) {
			t.Fatalf("second batch: %v, want ResourceExhausted at entry 50", resp)
		}
	}
	// Another source has its own allowance.
	e.addRoute(10, "203.0.113.0/24", "other", via("192.0.2.2"))
}

func TestModifyRoutesPerEntryResults(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 0, "192.0.2.1/24")
	e.addRoute(10, "198.18.0.0/24", "bgp", via("192.0.2.2"))
	e.addRoute(10, "198.18.1.0/24", "bgp", via("192.0.2.2"))
	stream, _ := e.session(params("bgp", 10))
	req := &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10, PathSets: twoGateways(), WantResults: true, Ops: []*fibdpb.RouteOp{
		addOp("198.18.0.0/24", 1), addOp("198.18.2.0/24", 0),
		{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_DELETE, Prefix: "198.18.1.0/24"},
	}}
	e.must(stream.Send(req))
	resp, err := stream.Recv()
	e.must(err)
	want := []fibdpb.EntryResult{fibdpb.EntryResult_ENTRY_RESULT_UPDATED, fibdpb.EntryResult_ENTRY_RESULT_ADDED, fibdpb.EntryResult_ENTRY_RESULT_DELETED}
	if !resp.GetOk() || fmt.Sprint(resp.GetResults()) != fmt.Sprint(want) || resp.GetAdded() != 1 || resp.GetUpdated() != 1 || resp.GetDeleted() != 1 {
		t.Fatalf("response %v, want results %v", resp, want)
	}
	// Without want_results the acknowledgement stays small.
	req.WantResults, req.Seq, req.Ops = false, 2, req.Ops[:2]
	e.must(stream.Send(req))
	if resp, err = stream.Recv(); err != nil || !resp.GetOk() || len(resp.GetResults()) != 0 {
		t.Fatalf("response %v %v", resp, err)
	}
}
