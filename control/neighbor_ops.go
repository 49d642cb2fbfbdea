package control

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/fibd/fibd/fib/adj"
)

// WatchBuffer is how many neighbour events a watcher may fall behind
// before it is dropped with ErrLimit: the table's goroutine never blocks on
// a slow client, and memory per watcher stays bounded.
const WatchBuffer = 1 << 16

// neighborKey validates a neighbour address on a named port and returns
// its key; the FIB is the port's.
func (s *Server) neighborKey(port string, a netip.Addr) (adj.Key, error) {
	id, fibID, err := s.portFIB("port", port)
	if err != nil {
		return adj.Key{}, err
	}
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return adj.Key{}, fieldErr("address", a.String(), "not an IP address")
	case a.Zone() != "":
		return adj.Key{}, fieldErr("address", a.String(), "give the port, not a zone")
	case a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || (a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255})):
		return adj.Key{}, fieldErr("address", a.String(), "not a unicast address")
	}
	return adj.Key{FIB: fibID, Port: id, Addr: a}, nil
}

// AddNeighbor installs a static neighbour on a port (its FIB is the
// port's). ErrLimit when the FIB's static-neighbour limit is reached.
func (s *Server) AddNeighbor(port string, a netip.Addr, mac adj.MAC) error {
	k, err := s.neighborKey(port, a)
	if err != nil {
		return err
	}
	if mac == (adj.MAC{}) || mac[0]&1 != 0 {
		return fieldErr("mac", mac.String(), "not a unicast MAC address")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit := s.mu.nbrLimits[k.FIB]; limit > 0 {
		n := 0
		exists := false
		s.nb.List(k.FIB, func(in NeighborInfo) bool {
			if in.Static {
				n++
				exists = exists || in.Key == k
			}
			return true
		})
		if !exists && n >= limit {
			return fmt.Errorf("%w: fib %d holds at most %d static neighbours", ErrLimit, k.FIB, limit)
		}
	}
	if err := s.nb.AddStatic(k, mac); err != nil {
		return err
	}
	s.log.Info("static neighbour added", "port", port, "address", a, "mac", mac)
	return s.saveStateLocked()
}

// DeleteNeighbor removes a static neighbour.
func (s *Server) DeleteNeighbor(port string, a netip.Addr) error {
	k, err := s.neighborKey(port, a)
	if err != nil {
		return err
	}
	if err := s.nb.DeleteStatic(k); err != nil {
		return err
	}
	s.log.Info("static neighbour deleted", "port", port, "address", a)
	return s.saveState()
}

// Neighbors calls fn for the neighbours of the selected FIBs (nil: all)
// and port (empty: all), by FIB, port and address.
func (s *Server) Neighbors(fibID *adj.FIBID, port string, fn func(NeighborInfo) bool) error {
	var pid adj.PortID
	if port != "" {
		var err error
		if pid, err = s.PortID(port); err != nil {
			return err
		}
	}
	var ids []adj.FIBID
	if fibID != nil {
		if _, err := s.fib(*fibID); err != nil {
			return err
		}
		ids = []adj.FIBID{*fibID}
	} else {
		for _, f := range s.reg.List() {
			ids = append(ids, f.ID())
		}
	}
	for _, id := range ids {
		var list []NeighborInfo
		s.nb.List(id, func(n NeighborInfo) bool {
			if pid == adj.NoPort || n.Key.Port == pid {
				list = append(list, n)
			}
			return true
		})
		slices.SortFunc(list, func(a, b NeighborInfo) int {
			if a.Key.Port != b.Key.Port {
				return int(a.Key.Port) - int(b.Key.Port)
			}
			return a.Key.Addr.Compare(b.Key.Addr)
		})
		for _, n := range list {
			if !fn(n) {
				return nil
			}
		}
	}
	return nil
}

// WatchNeighbors calls fn with neighbour events of the selected FIB (nil:
// all) until ctx ends or fn returns an error. With initial, the current
// neighbours come first as NeighborAdded events, listed after the
// subscription is in place so that no change is lost in between (a change
// may then be seen twice, never missed). fn runs on the caller's goroutine
// with the events queued so far; a caller that falls WatchBuffer events
// behind gets ErrLimit.
func (s *Server) WatchNeighbors(ctx context.Context, fibID *adj.FIBID, initial bool, fn func([]NeighborEvent) error) error {
	if fibID != nil {
		if _, err := s.fib(*fibID); err != nil {
			return err
		}
	}
	ch := make(chan NeighborEvent, WatchBuffer)
	overflow := make(chan struct{})
	var dropped atomic.Bool
	fellBehind := func() {
		if dropped.CompareAndSwap(false, true) {
			close(overflow)
		}
	}
	cancel := s.nb.Subscribe(func(ev NeighborEvent) {
		if dropped.Load() || (fibID != nil && ev.Neighbor.Key.FIB != *fibID) {
			return
		}
		select {
		case ch <- ev:
		default:
			fellBehind()
		}
	}, fellBehind)
	defer cancel()
	if initial {
		var evs []NeighborEvent
		_ = s.Neighbors(fibID, "", func(n NeighborInfo) bool {
			evs = append(evs, NeighborEvent{Type: NeighborAdded, Neighbor: n})
			return true
		})
		for len(evs) > 0 {
			n := min(len(evs), 256)
			if err := fn(evs[:n]); err != nil {
				return err
			}
			evs = evs[n:]
		}
	}
	batch := make([]NeighborEvent, 0, 256)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-overflow:
			return fmt.Errorf("%w: neighbour watcher fell %d events behind; list and watch again", ErrLimit, WatchBuffer)
		case ev := <-ch:
			batch = append(batch[:0], ev)
		drain:
			for len(batch) < cap(batch) {
				select {
				case ev := <-ch:
					batch = append(batch, ev)
				default:
					break drain
				}
			}
			if err := fn(batch); err != nil {
				return err
			}
		}
	}
}
