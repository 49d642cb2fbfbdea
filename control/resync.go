package control

import (
	"fmt"

	"github.com/fibd/fibd/fib/adj"
)

// BeginResync starts a mark-and-sweep resync of source in a FIB (see
// fib.FIB.BeginResync): the client pushes its whole table again and
// EndResync removes what it did not push. Beginning again restarts it.
func (s *Server) BeginResync(id adj.FIBID, source string) error {
	if err := checkSource("source", source); err != nil {
		return err
	}
	f, err := s.fib(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if err := f.BeginResync(source); err != nil {
		s.mu.Unlock()
		return err
	}
	s.mu.resync[resyncKey{id, source}] = true
	s.mu.Unlock()
	s.log.Info("resync begun", "fib", id, "source", source)
	return nil
}

// EndResync removes, in one batch, the routes of source that were not
// pushed since BeginResync, and returns how many.
func (s *Server) EndResync(id adj.FIBID, source string) (int, error) {
	if err := checkSource("source", source); err != nil {
		return 0, err
	}
	f, err := s.fib(id)
	if err != nil {
		return 0, err
	}
	k := resyncKey{id, source}
	s.mu.Lock()
	if !s.mu.resync[k] {
		s.mu.Unlock()
		return 0, fmt.Errorf("%w: source %q in fib %d", ErrNoResync, source, id)
	}
	delete(s.mu.resync, k)
	s.mu.Unlock()
	n, err := f.EndResync(source)
	if err != nil {
		return n, err
	}
	s.log.Info("resync ended", "fib", id, "source", source, "removed", n)
	if source == SourceStatic && n > 0 {
		return n, s.saveState()
	}
	return n, nil
}

// FlushSource removes every route of source in a FIB, as a client that
// asked for DISCONNECT_POLICY_FLUSH gets when its stream ends. It is a
// resync in which nothing was pushed; a resync of the source in progress
// goes on (and finds nothing left to sweep).
func (s *Server) FlushSource(id adj.FIBID, source string) (int, error) {
	if err := checkSource("source", source); err != nil {
		return 0, err
	}
	f, err := s.fib(id)
	if err != nil {
		return 0, err
	}
	if err := f.BeginResync(source); err != nil {
		return 0, err
	}
	n, err := f.EndResync(source)
	if err != nil {
		return n, err
	}
	s.log.Info("source flushed", "fib", id, "source", source, "removed", n)
	if source == SourceStatic && n > 0 {
		return n, s.saveState()
	}
	return n, nil
}
