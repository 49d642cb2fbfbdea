// Package backend connects the dataplane engine to the kernel: it opens
// packet I/O on AF_PACKET or AF_XDP, and finds, prepares and follows
// interfaces through netlink. It is the one place that imports every
// backend, so the engine itself stays free of them (they import it).
package backend

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/afpacket"
	"github.com/fibd/fibd/dataplane/link"
	"github.com/fibd/fibd/dataplane/xdp"
)

// Kinds of packet I/O.
const (
	AFPacket = "afpacket"
	XDP      = "xdp"
	Auto     = "auto" // XDP where it attaches, else AF_PACKET
)

// ErrUnknownKind is returned for an --io value that is none of the above.
var ErrUnknownKind = errors.New("unknown packet I/O kind (want afpacket, xdp or auto)")

// ErrVLANStripped refuses AF_XDP on an interface whose driver keeps
// stripping VLAN tags on receive: XDP would see every tagged frame as
// untagged, another port's (and another tenant's). AF_PACKET reads the
// stripped tag from the kernel's metadata, so --io=auto uses it there.
var ErrVLANStripped = errors.New("the interface strips VLAN tags on receive and will not stop (rx-vlan-hw-parse); AF_XDP would take tagged frames for untagged ones")

// ErrFrameTooLong refuses AF_XDP on an interface whose MTU needs frames
// longer than a UMEM chunk holds (without XDP multi-buffer, which fibd
// does not use, a chunk is at most a page): the kernel would drop them.
// --io=auto uses AF_PACKET there, which takes jumbo frames.
var ErrFrameTooLong = errors.New("the interface's MTU needs frames longer than an AF_XDP UMEM chunk holds")

// xdpFrameSize is the UMEM chunk for frames of up to frameCap bytes: a
// power of two from 2048 holding them after the kernel's headroom, or 0
// when that is more than a page.
func xdpFrameSize(frameCap int) int {
	need := frameCap + xdp.RxHeadroom
	size := xdp.DefaultFrameSize
	for size < need {
		size *= 2
	}
	if size > os.Getpagesize() {
		return 0
	}
	return size
}

// Opener returns the engine's Opener for kind. With XDP it never falls
// back: an interface where XDP cannot attach fails to open, with the
// kernel's reason. With Auto the fallback to AF_PACKET is logged.
func Opener(kind string, log *slog.Logger) (dataplane.Opener, error) {
	return OpenerFast(kind, log, nil)
}

// FastPath is the xdp backend's in-kernel fast path (its table maps).
type FastPath = xdp.FastPath

// NewFastPath creates the fast path's tables, for OpenerFast and
// dataplane.Config.FastPath.
func NewFastPath() (*FastPath, error) { return xdp.NewFastPath() }

// OpenerFast is Opener whose AF_XDP interfaces run the fast path fp
// where native XDP attaches (nil: none).
func OpenerFast(kind string, log *slog.Logger, fp *FastPath) (dataplane.Opener, error) {
	if log == nil {
		log = slog.Default()
	}
	openXDP := func(name string, frameCap int) ([]dataplane.PacketIO, error) {
		size := xdpFrameSize(frameCap)
		if size == 0 {
			return nil, fmt.Errorf("%w (%d bytes; at most %d)", ErrFrameTooLong, frameCap, os.Getpagesize()-xdp.RxHeadroom)
		}
		socks, err := xdp.OpenAll(name, xdp.Options{Logger: log, FrameSize: size, FastPath: fp})
		if err != nil {
			return nil, err
		}
		ios := make([]dataplane.PacketIO, len(socks))
		for i, s := range socks {
			ios[i] = s
		}
		return ios, nil
	}
	openAFP := func(name string, workers int) ([]dataplane.PacketIO, error) {
		if workers == 0 {
			workers = afpacketWorkers(name)
		}
		ps, err := afpacket.OpenGroup(name, workers, afpacket.Config{})
		if err != nil {
			return nil, err
		}
		ios := make([]dataplane.PacketIO, len(ps))
		for i, p := range ps {
			ios[i] = p
		}
		return ios, nil
	}
	switch kind {
	case AFPacket:
		return func(name string, _ int, o dataplane.OpenOptions) ([]dataplane.PacketIO, string, error) {
			ios, err := openAFP(name, o.Workers)
			return ios, AFPacket, err
		}, nil
	case XDP:
		return func(name string, _ int, o dataplane.OpenOptions) ([]dataplane.PacketIO, string, error) {
			if o.VLANStripped {
				return nil, XDP, fmt.Errorf("XDP on %s (no fallback with --io=xdp): %w", name, ErrVLANStripped)
			}
			ios, err := openXDP(name, o.FrameCap)
			if err != nil {
				return nil, XDP, fmt.Errorf("XDP on %s (no fallback with --io=xdp): %w", name, err)
			}
			return ios, XDP, nil
		}, nil
	case Auto:
		return func(name string, _ int, o dataplane.OpenOptions) ([]dataplane.PacketIO, string, error) {
			err := ErrVLANStripped
			if !o.VLANStripped {
				ios, xerr := openXDP(name, o.FrameCap)
				if xerr == nil {
					return ios, XDP, nil
				}
				err = xerr
			}
			log.Warn("XDP not available, using AF_PACKET", "iface", name, "err", err)
			ios, err := openAFP(name, o.Workers)
			return ios, AFPacket, err
		}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
}

// Links is the engine's view of the kernel's interfaces, over netlink.
type Links struct {
	m     *link.Manager
	force bool
}

// NewLinks opens netlink in the calling thread's network namespace. With
// force, Prepare flushes kernel IPv4 addresses from a port instead of
// refusing it (they are put back on release).
func NewLinks(force bool) (*Links, error) {
	m, err := link.Open()
	if err != nil {
		return nil, err
	}
	return &Links{m: m, force: force}, nil
}

// Close releases the netlink handle.
func (l *Links) Close() { l.m.Close() }

func info(i link.Info) dataplane.LinkInfo {
	return dataplane.LinkInfo{Name: i.Name, Index: i.Index, MAC: i.MAC, MTU: i.MTU, Up: i.AdminUp && i.OperUp}
}

// ByName implements dataplane.Links.
func (l *Links) ByName(name string) (dataplane.LinkInfo, error) {
	i, err := l.m.ByName(name)
	return info(i), err
}

// Prepare implements dataplane.Links: IPv6 off, no kernel IPv4 addresses,
// no ARP answers from the kernel, offloads off (VLAN tag stripping
// included), link up.
func (l *Links) Prepare(name string) (dataplane.Prepared, error) {
	p, err := l.m.Prepare(name, link.PrepareOptions{Force: l.force})
	if err != nil {
		return dataplane.Prepared{}, err
	}
	for _, a := range p.Report.Actions {
		slog.Debug("port prepared", "iface", name, "action", a)
	}
	return dataplane.Prepared{Release: p.Release, VLANStripped: p.Report.VLANStripped}, nil
}

// Watch implements dataplane.Links.
func (l *Links) Watch(done <-chan struct{}, fn func(dataplane.LinkInfo, bool)) error {
	return l.m.Watch(done, func(ev link.Event) { fn(info(ev.Info), ev.Kind == link.Deleted) })
}

// afpacketWorkers is how many AF_PACKET sockets (and workers) an interface
// gets by default: one per RX queue, as the driver reports them, and at
// most one per CPU fibd may run on — more would only take turns on the
// same cores.
func afpacketWorkers(name string) int {
	n, err := xdp.RxQueues(name)
	if err != nil || n < 1 {
		n = 1
	}
	return min(n, runtime.GOMAXPROCS(0))
}
