//go:build !linux

package fwdbench

import "context"

// Run returns ErrNotSupported off Linux.
func Run(ctx context.Context, opt Options) (*Result, error) { return nil, ErrNotSupported }

// Bare returns ErrNotSupported off Linux.
func Bare(ctx context.Context, env *Env) error { return ErrNotSupported }
