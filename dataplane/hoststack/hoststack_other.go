//go:build !linux

package hoststack

import (
	"errors"
	"net/netip"
)

// ErrUnsupported: host stacks need Linux network namespaces.
var ErrUnsupported = errors.New("hoststack: host stacks need Linux")

// RunDir is where namespaces would be mounted.
const RunDir = "/run/netns"

// Config says which host stack to open.
type Config struct {
	Namespace Namespace
	Device    string
}

// Host is unavailable off Linux.
type Host struct{}

// Open fails off Linux.
func Open(Config) (*Host, error) { return nil, ErrUnsupported }

func (*Host) Reused() bool                           { return false }
func (*Host) ReadBatch([][]byte, []int) (int, error) { return 0, ErrUnsupported }
func (*Host) WritePacket([]byte) error               { return ErrUnsupported }
func (*Host) Sync([]netip.Prefix, int) error         { return ErrUnsupported }
func (*Host) Namespace() string                      { return "" }
func (*Host) Close() error                           { return nil }
func (ns Namespace) Path() string                    { return RunDir + "/" + string(ns) }
func (ns Namespace) Do(func() error) error           { return ErrUnsupported }
func (ns Namespace) Remove() error                   { return nil }
func List(string) ([]Namespace, error)               { return nil, nil }
