//go:build !linux

package fwdbench

import (
	"context"
	"log/slog"
)

// Run returns ErrNotSupported off Linux.
func Run(ctx context.Context, opt Options) (*Result, error) { return nil, ErrNotSupported }

// Bare returns ErrNotSupported off Linux.
func Bare(ctx context.Context, env *Env) error { return ErrNotSupported }

// BareXDP returns ErrNotSupported off Linux.
func BareXDP(ctx context.Context, env *Env) error { return ErrNotSupported }

// ForIO returns ErrNotSupported off Linux.
func ForIO(io string, log *slog.Logger) (Options, error) { return Options{}, ErrNotSupported }

// RunFastPath returns ErrNotSupported off Linux.
func RunFastPath(ctx context.Context, o FastPathOptions) (*FastPathResult, error) {
	return nil, ErrNotSupported
}
