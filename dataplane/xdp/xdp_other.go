//go:build !linux

package xdp

import "github.com/fibd/fibd/dataplane/pktio"

// Socket is unavailable off Linux; every method reports ErrNotSupported.
type Socket struct{}

var _ pktio.PacketIO = (*Socket)(nil)

// Open returns ErrNotSupported: AF_XDP is Linux-only.
func Open(ifname string, queue int, opts Options) (*Socket, error) { return nil, ErrNotSupported }

// OpenAll returns ErrNotSupported.
func OpenAll(ifname string, opts Options) ([]*Socket, error) { return nil, ErrNotSupported }

// RxQueues returns ErrNotSupported.
func RxQueues(ifname string) (int, error) { return 0, ErrNotSupported }

func (s *Socket) BatchSize() int { return pktio.BatchSize }
func (s *Socket) ReadBatch(bufs [][]byte, meta []pktio.RxMeta) (int, error) {
	return 0, ErrNotSupported
}
func (s *Socket) WriteBatch(bufs [][]byte) (int, error) { return 0, ErrNotSupported }
func (s *Socket) Close() error                          { return nil }
func (s *Socket) Mode() Mode                            { return Mode{} }
func (s *Socket) Stats() Stats                          { return Stats{} }
func (s *Socket) Interface() (string, int)              { return "", 0 }

// FastPath is unavailable off Linux.
type FastPath struct{}

// NewFastPath returns ErrNotSupported.
func NewFastPath() (*FastPath, error)  { return nil, ErrNotSupported }
func (s *Socket) FastPathActive() bool { return false }
