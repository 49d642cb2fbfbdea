package fpm

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/fibd/fibd/control/feed"
	"github.com/fibd/fibd/control/fibdpb"
)

// session is one zebra connection's state: zebra's nexthop objects, which
// of them exist as fibd groups in which FIB (and how many routes there
// use each), and which group each route uses. Only the connection's
// reading goroutine touches it.
type session struct {
	l     *Listener
	conn  net.Conn
	w     sink
	fb    *feedback
	ports map[string]uint32
	bank  uint32

	nh map[uint32]*NexthopMsg
	// mat[fib][id] counts the routes of fib using zebra nexthop id, which
	// exists there as fibd group bank<<28|id.
	mat    map[uint32]map[uint32]int
	routes map[routeKey]uint32

	endOnce sync.Once
}

// sink is where a session's changes go: a *feed.Writer (a fake in the
// fuzz test).
type sink interface {
	Route(feed.Route)
	Group(feed.Group)
	EndResync(fib uint32)
	Begin()
	Commit()
}

type routeKey struct {
	fib    uint32
	prefix netip.Prefix
}

// pending is what a route's offload notification needs.
type pending struct {
	seq uint32
	r   RouteMsg
}

func (s *session) endResync() {
	s.endOnce.Do(func() {
		for _, f := range s.l.fibs {
			s.w.EndResync(f)
		}
		s.l.stats.resyncs.Add(1)
		s.l.cfg.Log.Info("fpm resync closed: zebra quiet", "quiet", s.l.cfg.QuietPeriod.String())
	})
}

func (s *session) handle(m *Message) {
	if m.Ignored != "" {
		s.l.ignore(m.Ignored)
		return
	}
	switch {
	case m.Nexthop != nil:
		s.l.stats.nexthops.Add(1)
		s.l.cfg.Log.Debug("fpm nexthop", "type", m.Type, "id", m.Nexthop.ID, "gateway", m.Nexthop.Gateway.String(),
			"group", fmt.Sprint(m.Nexthop.Group))
		if m.Type == rtmNewNexthop {
			s.setNexthop(m.Nexthop)
		} else {
			s.deleteNexthop(m.Nexthop.ID)
		}
	case m.Route != nil:
		s.route(m)
	}
}

func (s *session) route(m *Message) {
	r := m.Route
	s.l.cfg.Log.Debug("fpm route", "type", m.Type, "prefix", r.Dst.String(), "table", r.Table, "proto", r.Protocol,
		"rtype", r.Type, "nhid", r.NHID, "gateway", r.Gateway.String())
	if r.Protocol == rtprotKernel {
		s.l.ignore("kernel route")
		return
	}
	fib, ok := s.l.cfg.Tables[r.Table]
	if !ok {
		s.l.ignore(fmt.Sprintf("table %d (mapped to no FIB)", r.Table))
		return
	}
	key := routeKey{fib, r.Dst}
	if m.Type == rtmDelRoute {
		s.l.stats.deletes.Add(1)
		s.unuse(key)
		s.w.Route(feed.Route{FIB: fib, Prefix: r.Dst, Delete: true})
		return
	}
	switch r.Type {
	case rtnUnicast, rtnBlackhole, rtnUnreachable, rtnProhibit:
	default:
		s.l.ignore(fmt.Sprintf("route type %d", r.Type))
		return
	}
	s.l.stats.routes.Add(1)
	fr := feed.Route{FIB: fib, Prefix: r.Dst, Tag: &pending{seq: m.Seq, r: *r}}
	group, paths, err := s.forwarding(fib, r)
	if err != nil {
		// What zebra wants here cannot be forwarded, so what forwarded
		// before is wrong too: withdraw it and say so.
		s.l.stats.unsupported.Add(1)
		s.l.cfg.Log.Warn("fpm route not installed", "prefix", r.Dst.String(), "table", r.Table, "reason", err)
		s.unuse(key)
		s.w.Route(feed.Route{FIB: fib, Prefix: r.Dst, Delete: true})
		s.fb.send(m.Seq, r, false)
		return
	}
	s.unuse(key)
	if group != 0 {
		s.use(key, group)
		fr.Group = s.bank<<bankShift | group
	} else {
		fr.Paths = paths
	}
	s.w.Route(fr)
}

// forwarding is where r forwards in fib: a zebra nexthop (made a fibd
// group in fib if it is not one yet) or paths of its own.
func (s *session) forwarding(fib uint32, r *RouteMsg) (uint32, []*fibdpb.Path, error) {
	if r.Unsupported != "" {
		return 0, nil, fmt.Errorf("%s", r.Unsupported)
	}
	switch r.Type {
	case rtnBlackhole:
		return 0, []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_BLACKHOLE}}, nil
	case rtnUnreachable:
		return 0, []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_UNREACHABLE}}, nil
	case rtnProhibit:
		return 0, []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_PROHIBIT}}, nil
	}
	if r.NHID != 0 {
		if err := s.materialise(fib, r.NHID); err != nil {
			return 0, nil, err
		}
		return r.NHID, nil, nil
	}
	if len(r.Multipath) > 0 {
		var paths []*fibdpb.Path
		for _, h := range r.Multipath {
			p, err := s.path(fib, h.Gateway, h.OIF, h.Weight)
			if err != nil {
				return 0, nil, err
			}
			paths = append(paths, p)
		}
		return 0, paths, nil
	}
	if !r.Gateway.IsValid() && r.OIF == 0 {
		return 0, nil, fmt.Errorf("no next hop")
	}
	p, err := s.path(fib, r.Gateway, r.OIF, 1)
	if err != nil {
		return 0, nil, err
	}
	return 0, []*fibdpb.Path{p}, nil
}

// path is a gateway (on its port when zebra's interface is one of fib's
// fibd ports; else fibd resolves it through its connected routes) or,
// with no gateway, the attached subnet of a port.
func (s *session) path(fib uint32, gw netip.Addr, oif, weight uint32) (*fibdpb.Path, error) {
	port := ""
	if oif != 0 {
		if name, ok := s.l.cfg.InterfaceName(oif); ok {
			if f, bound := s.ports[name]; bound && f == fib {
				port = name
			}
		}
	}
	w := weight
	if w == 1 {
		w = 0
	}
	if gw.IsValid() {
		return &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: gw.String(), Port: port, Weight: w}, nil
	}
	if port == "" {
		return nil, fmt.Errorf("interface %d is not a fibd port of fib %d", oif, fib)
	}
	return &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_ATTACHED, Port: port, Weight: w}, nil
}

// groupPaths flattens zebra nexthop id for fib: a group's members' paths
// with the members' weights (fibd's groups hold paths, not groups).
func (s *session) groupPaths(fib, id uint32) ([]*fibdpb.Path, error) {
	nh, ok := s.nh[id]
	if !ok {
		return nil, fmt.Errorf("unknown nexthop %d", id)
	}
	if nh.Unsupported != "" {
		return nil, fmt.Errorf("nexthop %d: %s", id, nh.Unsupported)
	}
	if len(nh.Group) == 0 {
		p, err := s.single(fib, nh, 1)
		if err != nil {
			return nil, err
		}
		return []*fibdpb.Path{p}, nil
	}
	var paths []*fibdpb.Path
	for _, m := range nh.Group {
		mnh, ok := s.nh[m.ID]
		if !ok {
			return nil, fmt.Errorf("nexthop group %d: unknown member %d", id, m.ID)
		}
		if mnh.Unsupported != "" || len(mnh.Group) > 0 {
			return nil, fmt.Errorf("nexthop group %d: member %d cannot be forwarded", id, m.ID)
		}
		p, err := s.single(fib, mnh, m.Weight)
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func (s *session) single(fib uint32, nh *NexthopMsg, weight uint32) (*fibdpb.Path, error) {
	if nh.Blackhole {
		return &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_BLACKHOLE}, nil
	}
	return s.path(fib, nh.Gateway, nh.OIF, weight)
}

// materialise makes zebra nexthop id a group in fib, unless it is one.
func (s *session) materialise(fib, id uint32) error {
	if id >= 1<<bankShift {
		return fmt.Errorf("nexthop %d is above zebra's own range (1<<28)", id)
	}
	m := s.mat[fib]
	if _, ok := m[id]; ok {
		return nil
	}
	paths, err := s.groupPaths(fib, id)
	if err != nil {
		return err
	}
	if m == nil {
		m = map[uint32]int{}
		s.mat[fib] = m
	}
	m[id] = 0
	s.w.Group(feed.Group{FIB: fib, ID: s.bank<<bankShift | id, Paths: paths})
	return nil
}

func (s *session) use(k routeKey, id uint32) {
	s.routes[k] = id
	s.mat[k.fib][id]++
}

// unuse forgets k's group; a group zebra deleted goes once unused.
func (s *session) unuse(k routeKey) {
	id, ok := s.routes[k]
	if !ok {
		return
	}
	delete(s.routes, k)
	m := s.mat[k.fib]
	m[id]--
	if _, alive := s.nh[id]; !alive && m[id] <= 0 {
		delete(m, id)
		s.w.Group(feed.Group{FIB: k.fib, ID: s.bank<<bankShift | id, Delete: true})
	}
}

// setNexthop stores a nexthop and re-sets, in every FIB, the groups it
// is or is a member of: one group change re-points all their routes.
func (s *session) setNexthop(nh *NexthopMsg) {
	s.nh[nh.ID] = nh
	for fib, m := range s.mat {
		for id := range m {
			if id != nh.ID && !s.hasMember(id, nh.ID) {
				continue
			}
			paths, err := s.groupPaths(fib, id)
			if err != nil {
				s.l.cfg.Log.Warn("fpm nexthop not updated", "id", id, "fib", fib, "reason", err)
				continue
			}
			s.w.Group(feed.Group{FIB: fib, ID: s.bank<<bankShift | id, Paths: paths})
		}
	}
}

func (s *session) hasMember(group, member uint32) bool {
	for _, m := range s.nh[group].GetGroup() {
		if m.ID == member {
			return true
		}
	}
	return false
}

// GetGroup is nil-safe.
func (nh *NexthopMsg) GetGroup() []Member {
	if nh == nil {
		return nil
	}
	return nh.Group
}

// deleteNexthop forgets a nexthop; its fibd groups go where no route uses
// them (zebra deletes a nexthop after moving its routes away).
func (s *session) deleteNexthop(id uint32) {
	delete(s.nh, id)
	for fib, m := range s.mat {
		if n, ok := m[id]; ok && n <= 0 {
			delete(m, id)
			s.w.Group(feed.Group{FIB: fib, ID: s.bank<<bankShift | id, Delete: true})
		}
	}
}

// done is the Writer's answer for a route: tell zebra.
func (s *session) done(r *feed.Route, err error) {
	if p, ok := r.Tag.(*pending); ok && s.fb != nil {
		s.fb.send(p.seq, &p.r, err == nil)
	}
}

// feedback writes offload notifications to zebra from a goroutine of its
// own, so a zebra slow to read never holds up the writer; past maxQueued
// bytes waiting, notifications are dropped (and counted).
type feedback struct {
	conn          net.Conn
	mu            sync.Mutex
	buf           []byte
	wake          chan struct{}
	quit          chan struct{}
	sent, dropped *atomic.Uint64
	wg            sync.WaitGroup
}

const maxQueued = 16 << 20

func newFeedback(c net.Conn, sent, dropped *atomic.Uint64) *feedback {
	f := &feedback{conn: c, wake: make(chan struct{}, 1), quit: make(chan struct{}), sent: sent, dropped: dropped}
	f.wg.Go(f.run)
	return f
}

func (f *feedback) send(seq uint32, r *RouteMsg, ok bool) {
	if f == nil {
		return
	}
	f.mu.Lock()
	if len(f.buf) > maxQueued {
		f.mu.Unlock()
		f.dropped.Add(1)
		return
	}
	f.buf = appendFeedback(f.buf, seq, r, ok)
	f.mu.Unlock()
	f.sent.Add(1)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *feedback) run() {
	var out []byte
	for {
		select {
		case <-f.wake:
		case <-f.quit:
			return
		}
		f.mu.Lock()
		out, f.buf = f.buf, out[:0]
		f.mu.Unlock()
		if len(out) > 0 {
			if _, err := f.conn.Write(out); err != nil {
				return
			}
		}
	}
}

// close ends the notifications; it closes the connection first, so a
// write blocked on a zebra that stopped reading returns.
func (f *feedback) close() {
	f.conn.Close()
	close(f.quit)
	f.wg.Wait()
}
