package fib

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; the control plane maps
// them to gRPC status codes.
var (
	ErrNoSuchFIB      = errors.New("no such FIB")
	ErrFIBExists      = errors.New("FIB already exists")
	ErrFIBInUse       = errors.New("FIB in use")
	ErrDefaultFIB     = errors.New("the default FIB cannot be deleted")
	ErrInvalidPrefix  = errors.New("invalid prefix")
	ErrInvalidRoute   = errors.New("invalid route")
	ErrNotFound       = errors.New("route not found")
	ErrLimit          = errors.New("route limit reached")
	ErrUnresolved     = errors.New("gateway not on a connected subnet")
	ErrPortNotBound   = errors.New("port not bound to this FIB")
	ErrAddressExists  = errors.New("address already configured")
	ErrNoSuchAddress  = errors.New("no such address")
	ErrAddressInvalid = errors.New("invalid interface address")
	// ErrNoSuchGroup: a route or a group names a next-hop group that does
	// not exist.
	ErrNoSuchGroup = errors.New("no such next-hop group")
	// ErrGroupInUse: a next-hop group that routes or other groups use
	// cannot be deleted.
	ErrGroupInUse = errors.New("next-hop group in use")
	// ErrGroupOwned: only the source that made a group changes it.
	ErrGroupOwned = errors.New("next-hop group of another source")
	// ErrRecursionLoop: a recursive next hop resolves through itself, or
	// deeper than MaxRecursion.
	ErrRecursionLoop = errors.New("recursive next hop loops or is too deep")
)

// Op is what a batch entry does.
type Op uint8

const (
	// OpAdd installs the route, or updates the route this source already
	// has for the prefix (upsert).
	OpAdd Op = iota + 1
	// OpReplace updates the route this source has for the prefix; it fails
	// with ErrNotFound if there is none.
	OpReplace
	// OpDelete removes this source's route for the prefix; it fails with
	// ErrNotFound if there is none. Only Prefix and Source are read.
	OpDelete
	// OpGroupSet creates next-hop group Group.ID, or replaces its paths:
	// every route that uses it is re-pointed at once. Group ops come
	// before the batch's route ops.
	OpGroupSet
	// OpGroupDelete deletes next-hop group Group.ID; it fails with
	// ErrGroupInUse while routes or groups use it.
	OpGroupDelete
)

func (o Op) String() string {
	switch o {
	case OpAdd:
		return "add"
	case OpReplace:
		return "replace"
	case OpDelete:
		return "delete"
	case OpGroupSet:
		return "group set"
	case OpGroupDelete:
		return "group delete"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Change is one entry of a batch.
type Change struct {
	Op    Op
	Route Route
	// Group is the group of OpGroupSet and OpGroupDelete (its Source is
	// the batch's).
	Group Group
}

// BatchError says which entry of a batch was refused and why. The batch
// changed nothing.
//
// Index, Change and Err describe the first refused entry; Failed lists
// every refused entry in order (the first among them), each judged as if
// the refused entries before it were left out — so a batch that adds and
// then deletes a bad route reports both.
type BatchError struct {
	Index  int // position of the entry in the batch
	Change Change
	Err    error
	Failed []EntryFailure
}

// EntryFailure is one refused entry of a batch.
type EntryFailure struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string {
	more := ""
	if n := len(e.Failed); n > 1 {
		more = fmt.Sprintf(" (and %d more refused entries)", n-1)
	}
	return fmt.Sprintf("batch entry %d (%v %v source %q): %v%s",
		e.Index, e.Change.Op, e.Change.Route.Prefix, e.Change.Route.Source, e.Err, more)
}

func (e *BatchError) Unwrap() error { return e.Err }
