//go:build !linux

package link

// Manager is unavailable off Linux.
type Manager struct{}

// Prepared is unavailable off Linux.
type Prepared struct{ Report Report }

// Open returns ErrNotSupported off Linux.
func Open() (*Manager, error) { return nil, ErrNotSupported }

func (m *Manager) Close()                                           {}
func (m *Manager) ByName(name string) (Info, error)                 { return Info{}, ErrNotSupported }
func (m *Manager) Watch(done <-chan struct{}, fn func(Event)) error { return ErrNotSupported }
func (m *Manager) Prepare(name string, opt PrepareOptions) (*Prepared, error) {
	return nil, ErrNotSupported
}
func (p *Prepared) Release() error { return ErrNotSupported }
