package control

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// Sessions: a routing daemon's ModifyRoutes stream is a session that owns
// its source in its FIBs. Ownership is per (FIB, source) and decided by
// election, as gRIBI's SINGLE_PRIMARY does: a session whose election ID is
// at least the owner's takes over (with every election ID 0 the newest
// session wins, which is what a restarted daemon needs); the others are
// backups whose writes are refused. Only the owner's end applies its
// disconnect policy, so a dead session's flush can never wipe what its
// successor pushed; and when the owner ends, the best remaining session
// (highest election ID, then newest) is promoted and told.
//
// Unlike gRIBI, a backup does not have to announce a higher election ID to
// take over from an owner that is gone: it is promoted at once, so a hot
// standby takes over without a round trip; and the policy and resync are
// per session and in order with its batches, not per request.

// Errors of sessions.
var (
	// ErrNotOwner: the session does not own its source in the FIB (another
	// session with a higher or equal election ID, and newer, does).
	ErrNotOwner = errors.New("session does not own the source")
	// ErrOwned: a unary request touched a source that a live session owns.
	ErrOwned = errors.New("source owned by a live session")
)

// SessionParams declare a session; see fibdpb.SessionParams.
type SessionParams struct {
	Source            string
	FIBs              []adj.FIBID
	Flush             bool // DISCONNECT_POLICY_FLUSH
	ElectionID        uint64
	IdempotentDeletes bool
}

// Ownership is one FIB's owner as a session sees it.
type Ownership struct {
	FIB          adj.FIBID
	Owner        bool
	OwnerSession uint64
	OwnerElected uint64
}

// SessionState is what a session is told: which FIBs it owns its source in.
type SessionState struct {
	ID   uint64
	FIBs []Ownership
}

// Session is one open session.
type Session struct {
	s      *Server
	id     uint64
	p      SessionParams
	notify func(SessionState)
	// election is guarded by the Server's session mutex.
	election uint64
	closed   bool
	// A "static" session's deferred state saves (saveSoon).
	saveMu sync.Mutex
	dirty  bool
	saved  time.Time
}

// ownership is the contention for one (FIB, source): its owner and every
// live session that wants it. mu serialises the owner's writes with
// changes of owner, so no batch of a session that just lost ownership is
// applied after its successor took over.
type ownership struct {
	mu    sync.RWMutex
	owner *Session
	cands []*Session // in opening order
}

// ID returns the session's ID, unique in this fibd instance.
func (ss *Session) ID() uint64 { return ss.id }

// Params returns the session's parameters.
func (ss *Session) Params() SessionParams { return ss.p }

// OpenSession opens a session. notify, called without locks held from
// another session's goroutine, tells it its ownership changed; it must not
// block.
func (s *Server) OpenSession(p SessionParams, notify func(SessionState)) (*Session, SessionState, error) {
	if err := checkSource("session.source", p.Source); err != nil {
		return nil, SessionState{}, err
	}
	if len(p.FIBs) == 0 {
		return nil, SessionState{}, fieldErr("session.fib_ids", "", "a session writes to at least one FIB")
	}
	seen := map[adj.FIBID]bool{}
	for i, id := range p.FIBs {
		if seen[id] {
			return nil, SessionState{}, fieldErr(fmt.Sprintf("session.fib_ids[%d]", i), fmt.Sprint(id), "listed twice")
		}
		seen[id] = true
		if _, err := s.fib(id); err != nil {
			return nil, SessionState{}, &FieldError{Field: fmt.Sprintf("session.fib_ids[%d]", i), Value: fmt.Sprint(id), Err: err}
		}
	}
	s.sess.Lock()
	s.sess.next++
	ss := &Session{s: s, id: s.sess.next, p: p, notify: notify, election: p.ElectionID}
	ss.p.FIBs = slices.Clone(p.FIBs)
	var told []*Session
	for _, id := range ss.p.FIBs {
		o := s.contentionLocked(id, p.Source)
		o.cands = append(o.cands, ss)
		if prev := s.electLocked(o); prev != nil && prev != ss {
			told = append(told, prev)
		}
	}
	st := ss.stateLocked()
	s.sess.Unlock()
	s.tell(told)
	s.log.Info("session opened", "session", ss.id, "source", p.Source, "fibs", p.FIBs, "flush", p.Flush,
		"election_id", p.ElectionID, "owner", owned(st))
	return ss, st, nil
}

func owned(st SessionState) []adj.FIBID {
	var out []adj.FIBID
	for _, f := range st.FIBs {
		if f.Owner {
			out = append(out, f.FIB)
		}
	}
	return out
}

// contentionLocked returns the ownership record of (fib, source).
func (s *Server) contentionLocked(id adj.FIBID, source string) *ownership {
	k := resyncKey{id, source}
	o := s.sess.owners[k]
	if o == nil {
		o = &ownership{}
		s.sess.owners[k] = o
	}
	return o
}

// electLocked makes the best candidate the owner — the highest election
// ID, and of those the newest — and returns the previous owner when it
// changed (nil otherwise).
func (s *Server) electLocked(o *ownership) (previous *Session) {
	var best *Session
	for _, c := range o.cands {
		if best == nil || c.election >= best.election {
			best = c
		}
	}
	if best == o.owner {
		return nil
	}
	o.mu.Lock()
	previous, o.owner = o.owner, best
	o.mu.Unlock()
	if previous == nil {
		// Nobody to tell but the new owner, which the caller tells.
		return best
	}
	return previous
}

// tell sends each session its new state.
func (s *Server) tell(sessions []*Session) {
	for _, ss := range sessions {
		s.sess.Lock()
		closed := ss.closed
		st := ss.stateLocked()
		s.sess.Unlock()
		if !closed && ss.notify != nil {
			ss.notify(st)
		}
	}
}

func (ss *Session) stateLocked() SessionState {
	st := SessionState{ID: ss.id}
	for _, id := range ss.p.FIBs {
		o := ss.s.sess.owners[resyncKey{id, ss.p.Source}]
		ow := Ownership{FIB: id}
		if o != nil && o.owner != nil {
			ow.Owner = o.owner == ss
			ow.OwnerSession, ow.OwnerElected = o.owner.id, o.owner.election
		}
		st.FIBs = append(st.FIBs, ow)
	}
	return st
}

// State returns the session's current state.
func (ss *Session) State() SessionState {
	ss.s.sess.Lock()
	defer ss.s.sess.Unlock()
	return ss.stateLocked()
}

// SetElectionID raises the session's election ID (lowering it is refused)
// and holds an election in each of its FIBs.
func (ss *Session) SetElectionID(id uint64) (SessionState, error) {
	s := ss.s
	s.sess.Lock()
	if id < ss.election {
		cur := ss.election
		s.sess.Unlock()
		return SessionState{}, fieldErr("session.election_id", fmt.Sprint(id), "lower than the session's %d: an election ID only rises", cur)
	}
	ss.election = id
	var told []*Session
	for _, fid := range ss.p.FIBs {
		if prev := s.electLocked(s.contentionLocked(fid, ss.p.Source)); prev != nil && prev != ss {
			told = append(told, prev)
		}
	}
	st := ss.stateLocked()
	s.sess.Unlock()
	s.tell(told)
	return st, nil
}

// Apply applies a batch to one of the session's FIBs if the session owns
// its source there; every change must be of the session's source.
func (ss *Session) Apply(id adj.FIBID, changes []fib.Change, out []fib.Outcome) (fib.Result, error) {
	var res fib.Result
	err := ss.asOwner(id, func(f *fib.FIB) error {
		var err error
		res, err = f.ApplyWith(changes, out, fib.ApplyOptions{IdempotentDeletes: ss.p.IdempotentDeletes})
		if err == nil {
			ss.s.checkLimitWarnings(f)
		}
		return err
	})
	if err == nil && ss.p.Source == SourceStatic && res.Added+res.Updated+res.Deleted > 0 {
		err = ss.saveSoon()
	}
	return res, err
}

// staticSaveEvery bounds how often a session of the "static" source (a
// table loaded as configuration) rewrites the state file: each save writes
// the whole file, so saving after every batch of a big table is quadratic.
// The session's end saves what is left.
const staticSaveEvery = time.Second

// saveSoon saves the state file if the last save of this session is
// staticSaveEvery old, and otherwise marks it to be saved later.
func (ss *Session) saveSoon() error {
	ss.saveMu.Lock()
	defer ss.saveMu.Unlock()
	ss.dirty = true
	if time.Since(ss.saved) < staticSaveEvery {
		return nil
	}
	ss.saved, ss.dirty = time.Now(), false
	return ss.s.saveState()
}

// saveIfDirty saves what saveSoon left unsaved.
func (ss *Session) saveIfDirty() {
	ss.saveMu.Lock()
	defer ss.saveMu.Unlock()
	if ss.dirty {
		ss.dirty = false
		if err := ss.s.saveState(); err != nil {
			ss.s.log.Warn("saving the state file at the end of a static session", "session", ss.id, "err", err)
		}
	}
}

// BeginResync starts a resync of the session's source in FIB id.
func (ss *Session) BeginResync(id adj.FIBID) error {
	return ss.asOwner(id, func(*fib.FIB) error { return ss.s.beginResync(id, ss.p.Source) })
}

// EndResync ends it, removing what was not pushed since BeginResync.
func (ss *Session) EndResync(id adj.FIBID) (n int, err error) {
	err = ss.asOwner(id, func(*fib.FIB) error { n, err = ss.s.endResync(id, ss.p.Source); return err })
	return n, err
}

// asOwner runs fn while the session owns its source in FIB id, holding the
// ownership's read lock so no change of owner happens meanwhile.
func (ss *Session) asOwner(id adj.FIBID, fn func(*fib.FIB) error) error {
	if !slices.Contains(ss.p.FIBs, id) {
		return fieldErr("fib_id", fmt.Sprint(id), "not one of the session's FIBs %v", ss.p.FIBs)
	}
	f, err := ss.s.fib(id)
	if err != nil {
		return err
	}
	ss.s.sess.Lock()
	o := ss.s.sess.owners[resyncKey{id, ss.p.Source}]
	ss.s.sess.Unlock()
	if o == nil {
		return fmt.Errorf("%w: session %d is closed", ErrNotOwner, ss.id)
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.owner != ss {
		if o.owner == nil {
			return fmt.Errorf("%w %q in fib %d: no session does", ErrNotOwner, ss.p.Source, id)
		}
		return fmt.Errorf("%w %q in fib %d: session %d (election ID %d) does; this one has %d",
			ErrNotOwner, ss.p.Source, id, o.owner.id, o.owner.election, ss.election)
	}
	return fn(f)
}

// Close ends the session. Where it owned its source, its disconnect policy
// applies (FLUSH removes the source's routes) and the best remaining
// session is promoted; where it did not, nothing changes.
func (ss *Session) Close() {
	s := ss.s
	s.sess.Lock()
	if ss.closed {
		s.sess.Unlock()
		return
	}
	ss.closed = true
	type handover struct {
		fib adj.FIBID
		o   *ownership
	}
	var was []handover
	for _, id := range ss.p.FIBs {
		k := resyncKey{id, ss.p.Source}
		o := s.sess.owners[k]
		if o == nil {
			continue
		}
		o.cands = slices.DeleteFunc(o.cands, func(c *Session) bool { return c == ss })
		if o.owner == ss {
			was = append(was, handover{id, o})
		}
	}
	s.sess.Unlock()
	var told []*Session
	for _, h := range was {
		// The policy applies while the session still owns the source:
		// nobody else writes it meanwhile.
		h.o.mu.Lock()
		if ss.p.Flush {
			n, err := s.flushSource(h.fib, ss.p.Source)
			if err != nil && !errors.Is(err, fib.ErrNoSuchFIB) {
				s.log.Warn("flush on disconnect", "session", ss.id, "fib", h.fib, "source", ss.p.Source, "err", err)
			} else {
				s.log.Info("session ended: its routes flushed", "session", ss.id, "fib", h.fib, "source", ss.p.Source, "removed", n)
			}
		}
		h.o.owner = nil
		h.o.mu.Unlock()
		s.sess.Lock()
		if next := s.electLocked(h.o); next != nil {
			told = append(told, next)
		}
		if len(h.o.cands) == 0 && h.o.owner == nil {
			delete(s.sess.owners, resyncKey{h.fib, ss.p.Source})
		}
		s.sess.Unlock()
	}
	s.sess.Lock()
	for _, id := range ss.p.FIBs {
		k := resyncKey{id, ss.p.Source}
		if o := s.sess.owners[k]; o != nil && len(o.cands) == 0 && o.owner == nil {
			delete(s.sess.owners, k)
		}
	}
	s.sess.Unlock()
	s.tell(told)
	ss.saveIfDirty()
	s.log.Info("session closed", "session", ss.id, "source", ss.p.Source, "owned", len(was))
}

// checkUnowned refuses a unary change of a source that a live session owns
// in FIB id: the session's routes are the session's.
func (s *Server) checkUnowned(id adj.FIBID, source string) error {
	s.sess.Lock()
	defer s.sess.Unlock()
	if o := s.sess.owners[resyncKey{id, source}]; o != nil && o.owner != nil {
		return fmt.Errorf("%w: %q in fib %d belongs to session %d", ErrOwned, source, id, o.owner.id)
	}
	return nil
}

// SessionCounts returns the open sessions per source.
func (s *Server) SessionCounts() map[string]int {
	s.sess.Lock()
	defer s.sess.Unlock()
	seen := map[*Session]bool{}
	out := map[string]int{}
	for _, o := range s.sess.owners {
		for _, c := range o.cands {
			if !seen[c] {
				seen[c] = true
				out[c.p.Source]++
			}
		}
	}
	return out
}
