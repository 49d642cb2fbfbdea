package link

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Manager looks up, watches and prepares interfaces in one network
// namespace. It is safe for concurrent use.
type Manager struct {
	ns netns.NsHandle
	h  *netlink.Handle
}

// Open returns a Manager for the calling OS thread's network namespace.
func Open() (*Manager, error) {
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("link: current network namespace: %w", err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("link: netlink handle: %w", err)
	}
	return &Manager{ns: ns, h: h}, nil
}

// Close releases the netlink socket and the namespace handle.
func (m *Manager) Close() {
	m.h.Close()
	m.ns.Close()
}

// ByName returns the interface's current Info, or an error wrapping
// ErrNotFound.
func (m *Manager) ByName(name string) (Info, error) {
	l, err := m.linkByName(name)
	if err != nil {
		return Info{}, err
	}
	return infoOf(l.Attrs()), nil
}

func (m *Manager) linkByName(name string) (netlink.Link, error) {
	l, err := m.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		return nil, fmt.Errorf("link: %s: %w", name, err)
	}
	return l, nil
}

func infoOf(a *netlink.LinkAttrs) Info {
	i := Info{
		Name:    a.Name,
		Index:   a.Index,
		MTU:     a.MTU,
		AdminUp: a.Flags&net.FlagUp != 0,
		Oper:    a.OperState.String(),
	}
	if len(a.HardwareAddr) == 6 {
		i.MAC = [6]byte(a.HardwareAddr)
	}
	// Drivers without carrier reporting (loopback, some virtual devices)
	// say "unknown"; IFF_RUNNING is then the kernel's own verdict.
	i.OperUp = a.OperState == netlink.OperUp ||
		(a.OperState == netlink.OperUnknown && a.RawFlags&unix.IFF_RUNNING != 0)
	return i
}

// Watch delivers interface events to fn, one at a time on one goroutine,
// until done is closed; then it returns nil. It first reports every
// existing interface as Added, so a caller that waits for its port's Added
// event knows the subscription is live. It returns an error if the
// subscription cannot be made or the kernel ends it (e.g. the netlink
// socket overran: the caller should re-read state and watch again).
func (m *Manager) Watch(done <-chan struct{}, fn func(Event)) error {
	// Generous buffering: netlink drops messages (ENOBUFS) when the
	// socket overruns, which ends the subscription.
	ch := make(chan netlink.LinkUpdate, 256)
	errc := make(chan error, 1)
	ns := m.ns
	err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{
		Namespace:    &ns,
		ListExisting: true,
		ErrorCallback: func(err error) {
			select {
			case errc <- err:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("link: subscribe: %w", err)
	}
	last := map[int]Info{}
	for u := range ch {
		if ev, ok := toEvent(last, u); ok {
			fn(ev)
		}
	}
	select {
	case <-done:
		return nil
	default:
	}
	select {
	case err := <-errc:
		return fmt.Errorf("link: subscription ended: %w", err)
	default:
		return errors.New("link: subscription ended")
	}
}

// toEvent turns a netlink update into an Event, diffing against the last
// Info seen for the interface; it reports false for updates that changed
// nothing Info holds (statistics, for example).
func toEvent(last map[int]Info, u netlink.LinkUpdate) (Event, bool) {
	info := infoOf(u.Attrs())
	if u.Header.Type == unix.RTM_DELLINK {
		delete(last, info.Index)
		return Event{Kind: Deleted, Info: info}, true
	}
	prev, seen := last[info.Index]
	last[info.Index] = info
	if !seen {
		return Event{Kind: Added, Info: info}, true
	}
	var c Change
	if prev.AdminUp != info.AdminUp {
		c |= AdminChanged
	}
	if prev.OperUp != info.OperUp || prev.Oper != info.Oper {
		c |= OperChanged
	}
	if prev.MTU != info.MTU {
		c |= MTUChanged
	}
	if prev.MAC != info.MAC {
		c |= MACChanged
	}
	if prev.Name != info.Name {
		c |= NameChanged
	}
	if c == 0 {
		return Event{}, false
	}
	return Event{Kind: Changed, Info: info, Changes: c}, true
}

// inNS runs fn on a locked OS thread inside the Manager's namespace: the
// ethtool ioctl and /proc/sys/net act on the caller's namespace, not on a
// netlink handle's. The thread returns to its namespace afterwards, or is
// discarded if it cannot.
func (m *Manager) inNS(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if orig.Equal(m.ns) {
			runtime.UnlockOSThread()
			errc <- fn()
			return
		}
		if err := netns.Set(m.ns); err != nil {
			errc <- fmt.Errorf("link: enter namespace: %w", err)
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// sysctl reads and writes /proc/sys/<path> in the Manager's namespace.
func (m *Manager) sysctl(path, value string) (old string, err error) {
	err = m.inNS(func() error {
		b, err := os.ReadFile("/proc/sys/" + path)
		if err != nil {
			return err
		}
		old = string(trimNL(b))
		if value == "" || old == value {
			return nil
		}
		return os.WriteFile("/proc/sys/"+path, []byte(value), 0)
	})
	return old, err
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
