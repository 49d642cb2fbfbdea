package xdp

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// attachment is fibd's XDP program attached to one interface, shared by
// every socket on the interface's queues and reference-counted: the first
// Open loads and attaches, the last Close detaches.
type attachment struct {
	key     attachKey
	ifname  string
	ifindex int
	queues  int
	l       *loaded
	rtnl    *nlSock
	// mode is AttachNative or AttachGeneric: what the kernel accepted.
	mode      AttachMode
	passNonIP bool
	// fast: the fast path program is attached and the interface is in its
	// redirect map.
	fast bool
	log  *slog.Logger
	refs int // guarded by registry.mu
}

// attachKey names an interface across namespaces: ifindexes repeat between
// network namespaces, the namespace's inode does not.
type attachKey struct {
	netnsDev, netnsIno uint64
	ifindex            int
}

var registry struct {
	mu    sync.Mutex
	byKey map[attachKey]*attachment
}

// currentNetns identifies the network namespace of the calling thread.
func currentNetns() (dev, ino uint64, err error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0, 0, fmt.Errorf("identify network namespace: %w", err)
	}
	return st.Dev, st.Ino, nil
}

// acquire returns the interface's attachment, creating it (load, attach)
// on first use.
func acquire(ifname string, ifindex int, o Options) (*attachment, error) {
	dev, ino, err := currentNetns()
	if err != nil {
		return nil, err
	}
	key := attachKey{dev, ino, ifindex}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if a := registry.byKey[key]; a != nil {
		if a.passNonIP != o.PassNonIP {
			return nil, fmt.Errorf("%w: %s: PassNonIP=%v but the interface's sockets use %v", ErrBadOptions, ifname, o.PassNonIP, a.passNonIP)
		}
		if (o.Attach == AttachNative || o.Attach == AttachGeneric) && o.Attach != a.mode {
			return nil, fmt.Errorf("%w %s: %v mode requested but the program is attached in %v mode", ErrXDPUnavailable, ifname, o.Attach, a.mode)
		}
		a.refs++
		return a, nil
	}
	queues, err := rxQueues(ifname)
	if err != nil {
		return nil, err
	}
	a := &attachment{key: key, ifname: ifname, ifindex: ifindex, queues: queues, passNonIP: o.PassNonIP, log: o.Logger, refs: 1}
	if a.rtnl, err = openRTNL(); err != nil {
		return nil, err
	}
	if o.FastPath != nil && o.Attach != AttachGeneric && !o.PassNonIP {
		a.attachFast(o.FastPath, queues)
	}
	if !a.fast {
		if a.l, err = load(queues, o.PassNonIP); err != nil {
			a.rtnl.close()
			return nil, fmt.Errorf("%w %s: %w", ErrXDPUnavailable, ifname, err)
		}
		if a.mode, err = a.attach(o.Attach); err != nil {
			a.l.close()
			a.rtnl.close()
			return nil, err
		}
	}
	if registry.byKey == nil {
		registry.byKey = make(map[attachKey]*attachment)
	}
	registry.byKey[key] = a
	return a, nil
}

// release drops one reference and detaches after the last.
func (a *attachment) release() {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	a.refs--
	if a.refs > 0 {
		return
	}
	delete(registry.byKey, a.key)
	if a.fast {
		// Others stop redirecting here before the program goes.
		a.l.fast.dropRedirect(a.ifindex, a.l.prog)
	}
	a.detach()
	a.l.close()
	a.rtnl.close()
}

// attachFast tries the fast path program, which runs only in native mode:
// in generic mode every frame has paid for an skb before the program
// runs, so forwarding there saves little and a redirect costs more. On
// any failure the interface gets the bare program and runs user-space
// only, with a warning.
func (a *attachment) attachFast(fp *FastPath, queues int) {
	l, err := fp.load(queues)
	if err == nil {
		a.l = l
		if a.mode, err = a.attach(AttachNative); err == nil {
			if err = fp.addRedirect(a.ifindex); err == nil {
				a.fast = true
				return
			}
			a.detach()
		}
		l.close()
		a.l = nil
	}
	a.log.Warn("xdp: in-kernel fast path unavailable, forwarding in user space", "interface", a.ifname, "err", err)
}

func modeFlag(m AttachMode) uint32 {
	if m == AttachGeneric {
		return unix.XDP_FLAGS_SKB_MODE
	}
	return unix.XDP_FLAGS_DRV_MODE
}

// resident is a program found on the interface before fibd attached.
type resident struct {
	mode AttachMode
	prog *ebpf.Program
	gone bool
}

// attach puts the program on the hook. A program whose name says it is
// fibd's is a leftover of a fibd that died without detaching (netlink-
// attached XDP programs outlive their process); it is replaced — atomically
// with XDP_FLAGS_REPLACE when it sits in the mode being attached, detached
// first otherwise, since the kernel refuses native and generic programs on
// one interface at once. Any other program makes attach fail with ErrBusy.
func (a *attachment) attach(want AttachMode) (AttachMode, error) {
	st, err := a.rtnl.queryXDP(a.ifindex)
	if err != nil {
		return 0, fmt.Errorf("%w %s: query XDP state: %w", ErrXDPUnavailable, a.ifname, err)
	}
	var stale []*resident
	defer func() {
		for _, s := range stale {
			s.prog.Close()
		}
	}()
	for _, r := range []struct {
		mode AttachMode
		id   uint32
		what string
	}{{AttachNative, st.drvID, "native"}, {AttachGeneric, st.skbID, "generic"}, {AttachNative, st.hwID, "offloaded"}} {
		if r.id == 0 {
			continue
		}
		p, name, err := programByID(r.id)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: inspect attached program %d: %w", ErrBusy, a.ifname, r.id, err)
		}
		if !isOurProgram(name) || r.what == "offloaded" {
			p.Close()
			return 0, fmt.Errorf("%w: %s has %q (id %d) in %s mode", ErrBusy, a.ifname, name, r.id, r.what)
		}
		stale = append(stale, &resident{mode: r.mode, prog: p})
	}

	modes := []AttachMode{AttachNative, AttachGeneric}
	switch want {
	case AttachNative:
		modes = modes[:1]
	case AttachGeneric:
		modes = modes[1:]
	}
	var errs []error
	for _, m := range modes {
		flags := modeFlag(m) | unix.XDP_FLAGS_UPDATE_IF_NOEXIST
		expected := -1
		for _, s := range stale {
			switch {
			case s.gone:
			case s.mode == m:
				flags = modeFlag(m) | unix.XDP_FLAGS_REPLACE
				expected = s.prog.FD()
			default:
				if err := a.rtnl.setXDP(a.ifindex, -1, modeFlag(s.mode)|unix.XDP_FLAGS_REPLACE, s.prog.FD()); err != nil {
					return 0, fmt.Errorf("%w %s: detach stale fibd program: %w", ErrXDPUnavailable, a.ifname, err)
				}
				s.gone = true
				a.log.Warn("xdp: detached stale fibd XDP program", "interface", a.ifname, "mode", s.mode)
			}
		}
		err := a.rtnl.setXDP(a.ifindex, a.l.prog.FD(), flags, expected)
		if err == nil {
			if expected >= 0 {
				a.log.Warn("xdp: replaced stale fibd XDP program", "interface", a.ifname, "mode", m)
			}
			return m, nil
		}
		errs = append(errs, fmt.Errorf("%v mode: %w", m, err))
		if m == AttachNative && len(modes) > 1 {
			a.log.Warn("xdp: native XDP attach failed, falling back to generic mode", "interface", a.ifname, "err", err)
		}
	}
	return 0, fmt.Errorf("%w %s: %w", ErrXDPUnavailable, a.ifname, errors.Join(errs...))
}

// detach removes the program if it is still the one attached.
func (a *attachment) detach() {
	err := a.rtnl.setXDP(a.ifindex, -1, modeFlag(a.mode)|unix.XDP_FLAGS_REPLACE, a.l.prog.FD())
	if err != nil && !errors.Is(err, unix.ENODEV) {
		a.log.Warn("xdp: detach failed", "interface", a.ifname, "mode", a.mode, "err", err)
	}
}
