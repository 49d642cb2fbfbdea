//go:build !linux

package afpacket

import "github.com/fibd/fibd/dataplane/pktio"

// Port is unavailable off Linux; Open always fails.
type Port struct{}

// Open returns ErrNotSupported off Linux.
func Open(ifname string, cfg Config) (*Port, error) { return nil, ErrNotSupported }

func (p *Port) BatchSize() int { return pktio.BatchSize }
func (p *Port) ReadBatch(bufs [][]byte, meta []pktio.RxMeta) (int, error) {
	return 0, ErrNotSupported
}
func (p *Port) WriteBatch(bufs [][]byte) (int, error) { return 0, ErrNotSupported }
func (p *Port) Close() error                          { return nil }
func (p *Port) Stats() Stats                          { return Stats{} }

// OpenGroup returns ErrNotSupported off Linux.
func OpenGroup(ifname string, n int, cfg Config) ([]*Port, error) { return nil, ErrNotSupported }
