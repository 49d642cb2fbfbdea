package netnstest

import (
	"errors"
	"fmt"
	"sync"
)

// TB is the part of testing.TB the helpers use, so that code outside tests
// (the forwarding benchmark behind fibbench) can build the same namespaces
// through a Scope. Every testing.TB satisfies it.
type TB interface {
	Helper()
	Name() string
	Cleanup(func())
	Fatalf(format string, args ...any)
	Skip(args ...any)
}

// ErrSkipped is what Scope.Run returns when a helper skipped (no root, no
// iproute2).
var ErrSkipped = errors.New("netnstest: skipped")

// Scope is a TB for non-test code. Cleanups registered with it run, last
// first, when Close is called; Fatalf and Skip abort the function given to
// Run, which returns them as errors. Use it as
//
//	s := netnstest.NewScope()
//	defer s.Close()
//	err := s.Run(func() { ns := netnstest.New(s, "src"); … })
type Scope struct {
	mu       sync.Mutex
	cleanups []func()
}

// NewScope returns an empty Scope.
func NewScope() *Scope { return &Scope{} }

type scopeAbort struct{ err error }

// Helper implements TB.
func (s *Scope) Helper() {}

// Name implements TB.
func (s *Scope) Name() string { return "netnstest.Scope" }

// Cleanup implements TB.
func (s *Scope) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

// Fatalf implements TB: it aborts the enclosing Run with the message.
func (s *Scope) Fatalf(format string, args ...any) {
	panic(scopeAbort{fmt.Errorf(format, args...)})
}

// Skip implements TB: it aborts the enclosing Run with ErrSkipped.
func (s *Scope) Skip(args ...any) {
	panic(scopeAbort{fmt.Errorf("%w: %s", ErrSkipped, fmt.Sprint(args...))})
}

// Run calls fn and turns a Fatalf or Skip inside it into an error. It must
// be called on the goroutine that calls the helpers.
func (s *Scope) Run(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(scopeAbort)
			if !ok {
				panic(r)
			}
			err = a.err
		}
	}()
	fn()
	return nil
}

// Close runs the registered cleanups, last registered first.
func (s *Scope) Close() {
	s.mu.Lock()
	c := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}
