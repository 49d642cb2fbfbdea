package fpm

import (
	"net/netip"
	"testing"

	"github.com/fibd/fibd/control/feed"
)

// FuzzParseFrame: no payload makes the parser read out of bounds or
// panic, and what it accepts is self-consistent.
func FuzzParseFrame(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s[frameHeaderLen:])
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		msgs, err := ParseFrame(p, nil)
		if err != nil {
			return
		}
		for _, m := range msgs {
			if r := m.Route; r != nil {
				if r.Dst.Masked() != r.Dst || r.Dst.Bits() != int(r.DstLen) {
					t.Fatalf("route %v with dst_len %d", r.Dst, r.DstLen)
				}
				for _, h := range r.Multipath {
					if h.Weight < 1 || h.Weight > 256 {
						t.Fatalf("weight %d", h.Weight)
					}
				}
			}
			if nh := m.Nexthop; nh != nil && nh.ID == 0 {
				t.Fatal("nexthop without an ID accepted")
			}
		}
	})
}

func seeds() [][]byte {
	return [][]byte{
		frame(newNexthop(1, 1, gw2, 5), newGroup(2, 3, []uint32{1, 2}, []uint8{1, 4})),
		frame(newRouteNH(3, pA, 10, 3), newRouteNH(4, p6, 300, 1), delRoute(5, pB, 10)),
		frame(newRouteMultipath(6, pD, 20, []netip.Addr{gw2, gw3}, []uint8{1, 2}), newRouteType(7, pC, 10, rtnProhibit)),
		frame(delNexthop(8, 1), newRouteVia(9, pB, 20, gw3, 6)),
	}
}

// fakeSink checks, as fibd would, that the session only ever names
// groups it has set in the route's FIB and not deleted.
type fakeSink struct {
	t      *testing.T
	groups map[[2]uint32]bool
}

func (k *fakeSink) Route(r feed.Route) {
	if r.Group != 0 && !k.groups[[2]uint32{r.FIB, r.Group}] {
		k.t.Fatalf("route %s in fib %d uses group %d, which the session has not set there", r.Prefix, r.FIB, r.Group)
	}
	if !r.Delete && r.Group == 0 && len(r.Paths) == 0 {
		k.t.Fatalf("route %s without a next hop", r.Prefix)
	}
}

func (k *fakeSink) Group(g feed.Group) {
	key := [2]uint32{g.FIB, g.ID}
	if g.Delete {
		if !k.groups[key] {
			k.t.Fatalf("group %d deleted in fib %d but never set", g.ID, g.FIB)
		}
		delete(k.groups, key)
		return
	}
	if len(g.Paths) == 0 {
		k.t.Fatalf("group %d set without paths", g.ID)
	}
	k.groups[key] = true
}

func (k *fakeSink) EndResync(uint32) {}
func (k *fakeSink) Begin()           {}
func (k *fakeSink) Commit()          {}

// FuzzSessionFrames is the whole per-frame path after the socket: frames
// parsed and applied to one session's state. Whatever zebra sends, the
// session never names a group it has not set, never deletes one a route
// still uses (a route's group stays set while the route has it), and
// keeps its reference counts non-negative.
func FuzzSessionFrames(f *testing.F) {
	var all []byte
	for _, s := range seeds() {
		all = append(all, s[frameHeaderLen:]...)
	}
	f.Add(all)
	f.Fuzz(func(t *testing.T, p []byte) {
		l, err := New(nil, Config{Tables: map[uint32]uint32{10: 10, 20: 20, 300: 20}})
		if err != nil {
			t.Fatal(err)
		}
		l.cfg.InterfaceName = func(i uint32) (string, bool) { return map[uint32]string{5: "eth1", 6: "eth2"}[i], i == 5 || i == 6 }
		k := &fakeSink{t: t, groups: map[[2]uint32]bool{}}
		s := &session{l: l, w: k, ports: map[string]uint32{"eth1": 10, "eth2": 20}, bank: 3,
			nh: map[uint32]*NexthopMsg{}, mat: map[uint32]map[uint32]int{}, routes: map[routeKey]uint32{}}
		// Split the input into frames of up to 256 bytes of messages.
		for len(p) > 0 {
			n := min(len(p), 256)
			msgs, err := ParseFrame(p[:n], nil)
			p = p[n:]
			if err != nil {
				continue
			}
			for i := range msgs {
				s.handle(&msgs[i])
			}
		}
		for k2, id := range s.routes {
			if s.mat[k2.fib][id] <= 0 {
				t.Fatalf("route %v uses group %d with count %d", k2, id, s.mat[k2.fib][id])
			}
			if !k.groups[[2]uint32{k2.fib, s.bank<<bankShift | id}] {
				t.Fatalf("route %v uses group %d, deleted", k2, id)
			}
		}
		for fib, m := range s.mat {
			for id, n := range m {
				if n < 0 {
					t.Fatalf("fib %d group %d count %d", fib, id, n)
				}
			}
		}
	})
}
