package control

import (
	"errors"
	"fmt"
)

// Control-level sentinel errors. The dataplane and neighbour adapters return
// the ones that concern them (wrapped with %w); the gRPC adapter maps them,
// with fib's, to status codes (see codeOf).
var (
	// ErrInvalidArgument marks a request field with a bad value; it comes
	// wrapped in a *FieldError that names the field.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrPortNotFound: no port has that name or ID.
	ErrPortNotFound = errors.New("no such port")
	// ErrPortExists: the port is already bound to that FIB.
	ErrPortExists = errors.New("port already bound")
	// ErrNeighborNotFound: no static neighbour with that key.
	ErrNeighborNotFound = errors.New("no such neighbour")
	// ErrLimit: a configured limit (static neighbours) is reached. Route
	// limits come from fib as fib.ErrLimit.
	ErrLimit = errors.New("limit reached")
	// ErrNoResync: EndResync without a BeginResync for that source and FIB.
	ErrNoResync = errors.New("no resync in progress")
	// ErrReservedSource: the source name belongs to fibd itself.
	ErrReservedSource = errors.New("reserved source name")
	// ErrUnsupported: the dataplane cannot do what was asked.
	ErrUnsupported = errors.New("not supported by this dataplane")
)

// FieldError is an invalid request field: which one, the value given and
// why it is wrong. It wraps ErrInvalidArgument and the cause.
type FieldError struct {
	Field string // e.g. "route.prefix", "ops[3].prefix"
	Value string
	Err   error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("invalid %s %q: %v", e.Field, e.Value, e.Err)
}

// Unwrap returns both ErrInvalidArgument and the cause, so errors.Is finds
// either.
func (e *FieldError) Unwrap() []error { return []error{ErrInvalidArgument, e.Err} }

func fieldErr(field, value string, format string, args ...any) error {
	return &FieldError{Field: field, Value: value, Err: fmt.Errorf(format, args...)}
}

func errAs(err error, target any) bool { return errors.As(err, target) }
func errIs(err, target error) bool     { return errors.Is(err, target) }
