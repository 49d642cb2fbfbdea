// Package feed is what the routing-daemon feeds (feed/fpm for FRR's zebra,
// feed/gobgp for gobgpd) share: a Writer that turns a daemon's stream of
// route and next-hop changes into batches of one fibd ModifyRoutes
// session, as any client of the public API would.
//
// The Writer sends one batch at a time and gathers everything the daemon
// sends while that batch is in flight into the next one, so batches grow
// with the load (one route when the daemon trickles, tens of thousands
// during a table dump) without a timer. One batch in flight also makes a
// refusal simple to recover from: fibd refuses a whole batch and names
// every bad entry, and the Writer resends the rest before anything newer,
// so the daemon's order is kept.
package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/control/fibdpb"
)

// Route is one route change.
type Route struct {
	FIB    uint32
	Prefix netip.Prefix
	Delete bool
	// Paths, or Group when not 0, are where the route forwards.
	Paths []*fibdpb.Path
	Group uint32
	// Preference, when not 0, is the route's own (else Options.Preference).
	Preference uint32
	// Tag is the caller's, handed back to Options.Done.
	Tag any
}

// Group is one next-hop group change.
type Group struct {
	FIB    uint32
	ID     uint32
	Paths  []*fibdpb.Path
	Delete bool
}

// Options configure a Writer.
type Options struct {
	Source string
	FIBs   []uint32
	// Preference of the routes; 0 is the source's default (20).
	Preference uint32
	// MaxBatch bounds the entries of one batch; default 16384.
	MaxBatch int
	// Done, if set, is called from the Writer's goroutine for every route
	// once fibd applied it (err nil) or refused it.
	Done func(r *Route, err error)
	// Logf logs what the Writer drops; default: nothing.
	Logf func(format string, args ...any)
}

// Stats count what a Writer did.
type Stats struct {
	Batches, Applied, Refused, Removed uint64
}

// ErrClosed is returned by a Writer after Close.
var ErrClosed = errors.New("feed: writer closed")

// Writer is one ModifyRoutes session fed by one daemon connection.
type Writer struct {
	o      Options
	stream fibdpb.FibdService_ModifyRoutesClient
	cancel context.CancelFunc

	mu      sync.Mutex
	wake    chan struct{} // signalled when queue grows or the writer closes
	queue   []item
	closing bool
	busy    bool // a batch is in flight
	idle    *sync.Cond

	acks chan *fibdpb.ModifyRoutesResponse
	done chan struct{} // closed when the session ended
	err  atomic.Pointer[error]

	// staged holds what is queued between Begin and Commit; unit numbers
	// the queue's atomic units.
	staged  []item
	staging bool
	unit    uint64

	seq   uint64
	stats struct{ batches, applied, refused, removed atomic.Uint64 }
}

type itemKind uint8

const (
	itemRoute itemKind = iota
	itemGroup
	itemBegin
	itemEnd
)

type item struct {
	unit  uint64 // items of one unit go in one batch (per FIB)
	kind  itemKind
	fib   uint32
	route Route
	group Group
}

// Open starts the session. It returns once fibd has acknowledged it and
// the session owns its source in every FIB.
func Open(ctx context.Context, c fibdpb.FibdServiceClient, o Options) (*Writer, error) {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 16384
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.ModifyRoutes(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	w := &Writer{o: o, stream: stream, cancel: cancel, wake: make(chan struct{}, 1),
		acks: make(chan *fibdpb.ModifyRoutesResponse, 4), done: make(chan struct{})}
	w.idle = sync.NewCond(&w.mu)
	w.seq = 1
	open := &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: firstFIB(o.FIBs), Session: &fibdpb.SessionParams{
		Source: o.Source, FibIds: o.FIBs, OnDisconnect: fibdpb.DisconnectPolicy_DISCONNECT_POLICY_PRESERVE,
		IdempotentDeletes: true}}
	if err := stream.Send(open); err != nil {
		cancel()
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := ownership(resp.GetSession(), o.Source); err != nil {
		cancel()
		return nil, err
	}
	if !resp.GetOk() {
		cancel()
		return nil, fmt.Errorf("feed: fibd refused the session: %s", entryErrors(resp.GetErrors()))
	}
	go w.receive()
	go w.run()
	return w, nil
}

func firstFIB(ids []uint32) uint32 {
	if len(ids) == 0 {
		return 0
	}
	return ids[0]
}

func ownership(st *fibdpb.SessionState, source string) error {
	for _, f := range st.GetFibs() {
		if !f.GetOwner() {
			return fmt.Errorf("feed: session %d (election ID %d) owns source %q in fib %d",
				f.GetOwnerSessionId(), f.GetOwnerElectionId(), source, f.GetFibId())
		}
	}
	return nil
}

// receive reads acknowledgements, so a dead stream is noticed even while
// the daemon is quiet.
func (w *Writer) receive() {
	for {
		resp, err := w.stream.Recv()
		if err == io.EOF {
			err = ErrClosed // fibd closed the session after CloseSend
		}
		if err != nil {
			w.fail(err)
			return
		}
		if resp.GetSeq() == 0 {
			// fibd's own message: only a loss of ownership matters.
			if err := ownership(resp.GetSession(), w.o.Source); err != nil {
				w.fail(err)
				return
			}
			continue
		}
		select {
		case w.acks <- resp:
		case <-w.done:
			return
		}
	}
}

func (w *Writer) fail(err error) {
	if w.err.CompareAndSwap(nil, &err) {
		close(w.done)
		w.cancel()
		w.mu.Lock()
		w.idle.Broadcast()
		w.mu.Unlock()
	}
}

// Err is why the session ended, nil while it runs.
func (w *Writer) Err() error {
	if p := w.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Done is closed when the session has ended (Err says why).
func (w *Writer) Done() <-chan struct{} { return w.done }

// Stats returns the counters.
func (w *Writer) Stats() Stats {
	return Stats{Batches: w.stats.batches.Load(), Applied: w.stats.applied.Load(),
		Refused: w.stats.refused.Load(), Removed: w.stats.removed.Load()}
}

func (w *Writer) push(it item) {
	w.mu.Lock()
	if w.staging {
		w.staged = append(w.staged, it)
		w.mu.Unlock()
		return
	}
	w.unit++
	it.unit = w.unit
	w.queue = append(w.queue, it)
	w.mu.Unlock()
	w.signal()
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Begin starts a unit: what is queued until Commit goes to fibd in one
// batch per FIB, so fibd applies it atomically — a daemon's delete and
// re-add of a prefix (FRR 8.4's update) never shows as a missing route.
func (w *Writer) Begin() {
	w.mu.Lock()
	w.staging = true
	w.mu.Unlock()
}

// Commit queues the unit Begin started.
func (w *Writer) Commit() {
	w.mu.Lock()
	w.staging = false
	w.unit++
	for i := range w.staged {
		w.staged[i].unit = w.unit
	}
	w.queue = append(w.queue, w.staged...)
	w.staged = w.staged[:0]
	w.mu.Unlock()
	w.signal()
}

// Route queues a route change.
func (w *Writer) Route(r Route) { w.push(item{kind: itemRoute, fib: r.FIB, route: r}) }

// Group queues a next-hop group change.
func (w *Writer) Group(g Group) { w.push(item{kind: itemGroup, fib: g.FIB, group: g}) }

// BeginResync queues the start of a mark-and-sweep resync of the source
// in fib: what is not pushed again before EndResync is removed then.
func (w *Writer) BeginResync(fib uint32) { w.push(item{kind: itemBegin, fib: fib}) }

// EndResync queues the end of fib's resync.
func (w *Writer) EndResync(fib uint32) { w.push(item{kind: itemEnd, fib: fib}) }

// Sync waits until everything queued so far has been acknowledged.
func (w *Writer) Sync(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.idle.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for (len(w.queue) > 0 || w.busy) && w.Err() == nil && ctx.Err() == nil {
		w.idle.Wait()
	}
	if err := w.Err(); err != nil {
		return err
	}
	return ctx.Err()
}

// Close sends what is queued, ends the session (its routes stay: the
// disconnect policy is PRESERVE, for the daemon's next session to resync)
// and waits for fibd to close it.
func (w *Writer) Close() error {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
	w.signal()
	<-w.done
	if err := w.Err(); err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	return nil
}

// Abort ends the session at once, dropping what is queued.
func (w *Writer) Abort() { w.fail(ErrClosed) }

func (w *Writer) run() {
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && !w.closing {
			w.busy = false
			w.idle.Broadcast()
			w.mu.Unlock()
			select {
			case <-w.wake:
			case <-w.done:
				return
			}
			w.mu.Lock()
		}
		if len(w.queue) == 0 {
			w.busy = false
			w.idle.Broadcast()
			w.mu.Unlock()
			w.closeSend()
			return
		}
		b := w.take()
		w.busy = true
		w.mu.Unlock()
		if err := w.apply(b); err != nil {
			w.fail(err)
			return
		}
	}
}

func (w *Writer) closeSend() {
	if err := w.stream.CloseSend(); err != nil {
		w.fail(err)
		return
	}
	// fibd ends the stream once the session is closed; receive sees EOF.
	<-w.done
}

// batch is the items of one request, all of one FIB.
type batch struct {
	fib    uint32
	resync fibdpb.ResyncMark
	routes []Route
	groups []Group
}

// take removes the next batch's items from the head of the queue: the
// longest run of one FIB's items that fibd can apply as one atomic batch
// with the daemon's meaning kept. fibd applies a batch's group sets before
// its routes and its group deletes after them, so a set of, or a route
// using, a group this batch deletes starts a new batch. A batch ends at
// MaxBatch entries only between units.
func (w *Writer) take() *batch {
	b := &batch{fib: w.queue[0].fib}
	var deleted map[uint32]bool
	n := 0
loop:
	for ; n < len(w.queue); n++ {
		it := &w.queue[n]
		if it.fib != b.fib {
			break
		}
		if n > 0 && it.unit != w.queue[n-1].unit && len(b.routes)+len(b.groups) >= w.o.MaxBatch {
			break
		}
		switch it.kind {
		case itemBegin:
			if n > 0 {
				break loop
			}
			b.resync = fibdpb.ResyncMark_RESYNC_MARK_BEGIN
		case itemEnd:
			if b.resync == fibdpb.ResyncMark_RESYNC_MARK_BEGIN {
				break loop
			}
			b.resync = fibdpb.ResyncMark_RESYNC_MARK_END
			n++
			break loop
		case itemGroup:
			if deleted[it.group.ID] {
				break loop
			}
			if it.group.Delete {
				if deleted == nil {
					deleted = map[uint32]bool{}
				}
				deleted[it.group.ID] = true
			}
			b.groups = append(b.groups, it.group)
		case itemRoute:
			if it.route.Group != 0 && deleted[it.route.Group] {
				break loop
			}
			b.routes = append(b.routes, it.route)
		}
	}
	w.queue = w.queue[n:]
	if len(w.queue) == 0 {
		w.queue = nil // let a dump's backing array go
	}
	return b
}

// apply sends b and, while fibd refuses entries of it, resends the rest.
func (w *Writer) apply(b *batch) error {
	for {
		w.seq++
		req := b.request(w.seq, w.o.Preference)
		if err := w.stream.Send(req); err != nil {
			return err
		}
		var resp *fibdpb.ModifyRoutesResponse
		select {
		case resp = <-w.acks:
		case <-w.done:
			return w.Err()
		}
		w.stats.batches.Add(1)
		if resp.GetOk() {
			w.stats.applied.Add(uint64(len(b.routes)))
			w.stats.removed.Add(resp.GetRemoved())
			if w.o.Done != nil {
				for i := range b.routes {
					w.o.Done(&b.routes[i], nil)
				}
			}
			return nil
		}
		bad := map[int]error{}
		badGroups := map[int]bool{}
		for _, e := range resp.GetErrors() {
			i := int(e.GetIndex())
			err := status.Error(codes.Code(e.GetCode()), e.GetMessage())
			switch {
			case i >= 0 && i < len(b.routes):
				bad[i] = err
			case i <= -2 && -2-i < len(b.groups):
				badGroups[-2-i] = true
				w.o.Logf("fibd refused next-hop group %d in fib %d: %s", b.groups[-2-i].ID, b.fib, e.GetMessage())
			default:
				return fmt.Errorf("feed: fibd refused batch %d: %s", req.Seq, e.GetMessage())
			}
		}
		if len(bad) == 0 && len(badGroups) == 0 {
			return fmt.Errorf("feed: fibd refused batch %d without naming an entry", req.Seq)
		}
		keep := b.routes[:0]
		for i, r := range b.routes {
			if err, ok := bad[i]; ok {
				w.stats.refused.Add(1)
				w.o.Logf("fibd refused %s in fib %d: %v", r.Prefix, b.fib, err)
				if w.o.Done != nil {
					w.o.Done(&r, err)
				}
				continue
			}
			keep = append(keep, r)
		}
		b.routes = keep
		gkeep := b.groups[:0]
		for i, g := range b.groups {
			if !badGroups[i] {
				gkeep = append(gkeep, g)
			}
		}
		b.groups = gkeep
	}
}

// request encodes b, naming each distinct set of paths once.
func (b *batch) request(seq uint64, pref uint32) *fibdpb.ModifyRoutesRequest {
	req := &fibdpb.ModifyRoutesRequest{Seq: seq, FibId: b.fib, Preference: pref, Resync: b.resync}
	sets := map[string]uint32{}
	var key strings.Builder
	req.Ops = make([]*fibdpb.RouteOp, 0, len(b.routes))
	for i := range b.routes {
		r := &b.routes[i]
		op := &fibdpb.RouteOp{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_ADD, Prefix: r.Prefix.String(), Preference: r.Preference}
		switch {
		case r.Delete:
			op.Op = fibdpb.RouteOpKind_ROUTE_OP_KIND_DELETE
		case r.Group != 0:
			op.GroupId = r.Group
		default:
			key.Reset()
			for _, p := range r.Paths {
				key.WriteString(strconv.Itoa(int(p.Kind)))
				key.WriteByte('|')
				key.WriteString(p.Gateway)
				key.WriteByte('|')
				key.WriteString(p.Port)
				key.WriteByte('|')
				key.WriteString(strconv.FormatUint(uint64(p.Weight), 10))
				key.WriteByte('|')
				key.WriteString(strconv.FormatUint(uint64(p.FibId), 10))
				key.WriteByte(';')
			}
			idx, ok := sets[key.String()]
			if !ok {
				idx = uint32(len(req.PathSets))
				sets[key.String()] = idx
				req.PathSets = append(req.PathSets, &fibdpb.PathSet{Paths: r.Paths})
			}
			op.PathSet = idx
		}
		req.Ops = append(req.Ops, op)
	}
	for _, g := range b.groups {
		op := &fibdpb.NextHopGroupOp{Op: fibdpb.GroupOpKind_GROUP_OP_KIND_SET, Id: g.ID, Paths: g.Paths}
		if g.Delete {
			op = &fibdpb.NextHopGroupOp{Op: fibdpb.GroupOpKind_GROUP_OP_KIND_DELETE, Id: g.ID}
		}
		req.Groups = append(req.Groups, op)
	}
	return req
}

func entryErrors(es []*fibdpb.EntryError) string {
	var s []string
	for _, e := range es {
		s = append(s, e.GetMessage())
	}
	return strings.Join(s, "; ")
}
