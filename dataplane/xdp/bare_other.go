//go:build !linux

package xdp

import (
	"context"
	"net"
)

// BareConfig describes the bare AF_XDP forwarding loop (Linux only).
type BareConfig struct {
	In, Out string
	NextHop net.HardwareAddr
	Options Options
	Ready   func()
	Done    func(in, out Stats)
}

// BareForward returns ErrNotSupported off Linux.
func BareForward(ctx context.Context, in, out string) error { return ErrNotSupported }

// Run returns ErrNotSupported off Linux.
func (c BareConfig) Run(ctx context.Context) error { return ErrNotSupported }
