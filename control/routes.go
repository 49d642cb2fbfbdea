package control

import (
	"fmt"
	"net/netip"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// checkSource refuses the names fib uses for interface addresses: their
// routes come and go with AddAddress/DeleteAddress only.
func checkSource(field, source string) error {
	switch source {
	case "":
		return fieldErr(field, source, "a route needs a source")
	case fib.SourceConnected, fib.SourceLocal:
		return &FieldError{Field: field, Value: source,
			Err: fmt.Errorf("%w: %q routes belong to interface addresses", ErrReservedSource, source)}
	}
	if err := fib.CheckSourceName(source); err != nil {
		return &FieldError{Field: field, Value: source, Err: err}
	}
	return nil
}

// Apply applies a batch of route changes to one FIB atomically (see
// fib.FIB.Apply): all of it or, with a *fib.BatchError naming the entry,
// none. Routes of the "static" source are saved in the state file before
// Apply returns.
func (s *Server) Apply(id adj.FIBID, changes []fib.Change) (fib.Result, error) {
	return s.ApplyOutcomes(id, changes, nil)
}

// ApplyOutcomes is Apply that, when out is not nil, also stores in out[i]
// what entry i did (see fib.FIB.ApplyOutcomes).
func (s *Server) ApplyOutcomes(id adj.FIBID, changes []fib.Change, out []fib.Outcome) (fib.Result, error) {
	f, err := s.fib(id)
	if err != nil {
		return fib.Result{}, err
	}
	static := false
	last := ""
	for i := range changes {
		src := changes[i].Route.Source
		if src == last {
			continue // the bulk case: one source per batch
		}
		if err := checkSource("source", src); err != nil {
			return fib.Result{}, &fib.BatchError{Index: i, Change: changes[i], Err: err}
		}
		if err := s.checkUnowned(id, src); err != nil {
			return fib.Result{}, &fib.BatchError{Index: i, Change: changes[i], Err: err}
		}
		last = src
		static = static || src == SourceStatic
	}
	var res fib.Result
	if out != nil {
		res, err = f.ApplyOutcomes(changes, out)
	} else {
		res, err = f.Apply(changes)
	}
	if err != nil {
		return res, err
	}
	s.checkLimitWarnings(f)
	if static {
		return res, s.saveState()
	}
	return res, nil
}

// AddRoute installs a route (upsert) as a batch of one.
func (s *Server) AddRoute(id adj.FIBID, r fib.Route) (fib.Result, error) {
	return s.one(id, fib.OpAdd, r)
}

// ReplaceRoute updates the source's existing route (fib.ErrNotFound if
// there is none).
func (s *Server) ReplaceRoute(id adj.FIBID, r fib.Route) (fib.Result, error) {
	return s.one(id, fib.OpReplace, r)
}

// DeleteRoute removes the source's route for p.
func (s *Server) DeleteRoute(id adj.FIBID, p netip.Prefix, source string) (fib.Result, error) {
	return s.one(id, fib.OpDelete, fib.Route{Prefix: p, Source: source})
}

func (s *Server) one(id adj.FIBID, op fib.Op, r fib.Route) (fib.Result, error) {
	res, err := s.Apply(id, []fib.Change{{Op: op, Route: r}})
	if be, ok := err.(*fib.BatchError); ok {
		return res, be.Err // one entry: the index says nothing
	}
	return res, err
}

// RouteFilter selects routes for Routes.
type RouteFilter struct {
	FIB      *adj.FIBID // nil: every FIB
	Family   int        // 4, 6 or 0 for both
	Within   netip.Prefix
	Source   string
	BestOnly bool
}

// RouteEntry is a route as listed.
type RouteEntry struct {
	FIB adj.FIBID
	fib.RouteInfo
}

// Routes calls fn for every selected route, by FIB then address, until fn
// returns false.
func (s *Server) Routes(flt RouteFilter, fn func(RouteEntry) bool) error {
	var list []*fib.FIB
	if flt.FIB != nil {
		f, err := s.fib(*flt.FIB)
		if err != nil {
			return err
		}
		list = []*fib.FIB{f}
	} else {
		list = s.reg.List()
	}
	for _, f := range list {
		more := true
		f.Routes(fib.Filter{Family: flt.Family, Within: flt.Within, Source: flt.Source}, func(ri fib.RouteInfo) bool {
			if flt.BestOnly && !ri.Best {
				return true
			}
			more = fn(RouteEntry{FIB: f.ID(), RouteInfo: ri})
			return more
		})
		if !more {
			break
		}
	}
	return nil
}
