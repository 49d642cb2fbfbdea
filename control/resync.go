package control

import (
	"fmt"

	"github.com/fibd/fibd/fib/adj"
)

// BeginResync starts a mark-and-sweep resync of source in a FIB (see
// fib.FIB.BeginResync): the client pushes its whole table again and
// EndResync removes what it did not push. Beginning again restarts it. A
// source a live session owns is resynced in the session's stream
// (ErrOwned here).
func (s *Server) BeginResync(id adj.FIBID, source string) error {
	if err := checkSource("source", source); err != nil {
		return err
	}
	if _, err := s.fib(id); err != nil {
		return err
	}
	if err := s.checkUnowned(id, source); err != nil {
		return err
	}
	return s.beginResync(id, source)
}

// EndResync removes, in one batch, the routes of source that were not
// pushed since BeginResync, and returns how many.
func (s *Server) EndResync(id adj.FIBID, source string) (int, error) {
	if err := checkSource("source", source); err != nil {
		return 0, err
	}
	if _, err := s.fib(id); err != nil {
		return 0, err
	}
	if err := s.checkUnowned(id, source); err != nil {
		return 0, err
	}
	return s.endResync(id, source)
}

// beginResync, endResync and flushSource serialise on resyncMu, held
// through the sweep: an EndResync must sweep with the mark its own
// BeginResync set, never with one a concurrent BeginResync set after the
// bookkeeping said the resync was over (which would remove every route
// not pushed since that second mark).
func (s *Server) beginResync(id adj.FIBID, source string) error {
	f, err := s.fib(id)
	if err != nil {
		return err
	}
	s.resyncMu.Lock()
	defer s.resyncMu.Unlock()
	if err := f.BeginResync(source); err != nil {
		return err
	}
	s.mu.Lock()
	s.mu.resync[resyncKey{id, source}] = true
	s.mu.Unlock()
	s.log.Info("resync begun", "fib", id, "source", source)
	return nil
}

func (s *Server) endResync(id adj.FIBID, source string) (int, error) {
	f, err := s.fib(id)
	if err != nil {
		return 0, err
	}
	k := resyncKey{id, source}
	s.resyncMu.Lock()
	s.mu.Lock()
	if !s.mu.resync[k] {
		s.mu.Unlock()
		s.resyncMu.Unlock()
		return 0, fmt.Errorf("%w: source %q in fib %d", ErrNoResync, source, id)
	}
	delete(s.mu.resync, k)
	s.mu.Unlock()
	if s.beforeSweep != nil {
		s.beforeSweep()
	}
	n, err := f.EndResync(source)
	s.resyncMu.Unlock()
	if err != nil {
		return n, err
	}
	s.counters.resyncs.Add(1)
	s.log.Info("resync ended", "fib", id, "source", source, "removed", n)
	if source == SourceStatic && n > 0 {
		return n, s.saveState()
	}
	return n, nil
}

// flushSource removes every route of source in a FIB, as a session that
// asked for DISCONNECT_POLICY_FLUSH gets when it ends while owning it. It
// is a resync in which nothing was pushed; one in progress ends with it.
func (s *Server) flushSource(id adj.FIBID, source string) (int, error) {
	f, err := s.fib(id)
	if err != nil {
		return 0, err
	}
	s.resyncMu.Lock()
	s.mu.Lock()
	delete(s.mu.resync, resyncKey{id, source})
	s.mu.Unlock()
	err = f.BeginResync(source)
	var n int
	if err == nil {
		n, err = f.EndResync(source)
	}
	s.resyncMu.Unlock()
	if err != nil {
		return n, err
	}
	s.counters.flushes.Add(1)
	if source == SourceStatic && n > 0 {
		return n, s.saveState()
	}
	return n, nil
}
