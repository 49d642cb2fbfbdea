package hoststack

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/dataplane/pktio"
)

// Config says which host stack to open.
type Config struct {
	// Namespace is the FIB's namespace; created unless it exists.
	Namespace Namespace
	// Device names the TUN inside it ("fib10").
	Device string
}

// Host is a FIB's host stack: its namespace and the TUN fibd holds there.
// It implements pktio.HostIO.
type Host struct {
	ns     Namespace
	dev    string
	reused bool
	f      *os.File
	rc     interface {
		Read(func(fd uintptr) bool) error
		Write(func(fd uintptr) bool) error
	}
	nl *netlink.Handle

	mu sync.Mutex // serialises Sync

	// Read side (one goroutine): a packet as the host wrote it, up to a
	// 64 KiB TSO super-packet, and the segments of one not yet returned.
	rd struct {
		hdr     [packet.VnetHdrLen]byte
		scratch []byte
		iov     [][]byte
		seg     packet.Segmenter
		errs    atomic.Uint64 // super-packets that could not be segmented
		supers  atomic.Uint64 // TSO super-packets the host wrote
		segs    atomic.Uint64 // the segments cut from them
	}
	// Write side: the batch writer's coalescer and iovec, and a second
	// iovec under a mutex for single packets from other goroutines.
	wr struct {
		coal *coalescer
		iov  [2][]byte
	}
	one struct {
		sync.Mutex
		iov  [2][]byte
		zero [packet.VnetHdrLen]byte
	}
}

var _ pktio.HostIO = (*Host)(nil)

// Open creates (or reuses) the namespace and creates the TUN in it: up,
// no link-local address, no DAD, no router advertisements, accepting
// packets from its own addresses (fibd writes ICMP errors about the host's
// packets from them), with default routes through it. Sync gives it the
// FIB's addresses.
func Open(cfg Config) (*Host, error) {
	if cfg.Device == "" || len(cfg.Device) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("host device name %q: want 1-%d bytes", cfg.Device, unix.IFNAMSIZ-1)
	}
	reused, err := cfg.Namespace.ensure()
	if err != nil {
		return nil, err
	}
	h := &Host{ns: cfg.Namespace, dev: cfg.Device, reused: reused}
	nsf, err := os.Open(cfg.Namespace.Path())
	if err != nil {
		return nil, err
	}
	defer nsf.Close()
	if h.nl, err = netlink.NewHandleAt(netns.NsHandle(nsf.Fd())); err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", cfg.Namespace, err)
	}
	var fd int
	err = cfg.Namespace.Do(func() error {
		var err error
		if fd, err = h.createTUN(); err != nil {
			return err
		}
		return h.configure()
	})
	if err != nil {
		if fd > 0 {
			unix.Close(fd)
		}
		h.nl.Close()
		return nil, err
	}
	h.f = os.NewFile(uintptr(fd), "/dev/net/tun")
	rc, err := h.f.SyscallConn()
	if err != nil {
		h.Close()
		return nil, err
	}
	h.rc = rc
	h.rd.scratch = make([]byte, maxGROLen)
	h.rd.iov = [][]byte{h.rd.hdr[:], h.rd.scratch}
	h.wr.coal = newCoalescer(func(hdr, pkt []byte) error {
		h.wr.iov[0], h.wr.iov[1] = hdr, pkt
		return h.writev(h.wr.iov[:])
	})
	return h, nil
}

// Reused reports whether Open found the namespace already there.
func (h *Host) Reused() bool { return h.reused }

// createTUN opens the TUN device; it runs inside the namespace, where the
// device is created. A link of the same name left there (not a TUN: those
// end with their descriptor) is removed first.
func (h *Host) createTUN() (int, error) {
	open := func() (int, error) {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return -1, fmt.Errorf("open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(h.dev)
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		// Every packet behind a virtio_net_hdr: fibd writes merged TCP
		// segments (GRO) and reads the host's TSO super-packets and
		// partial checksums, one syscall for up to 64 KiB each way.
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("TUNSETIFF %s: %w", h.dev, err)
		}
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, unix.TUN_F_CSUM|unix.TUN_F_TSO4|unix.TUN_F_TSO6); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("TUNSETOFFLOAD %s: %w", h.dev, err)
		}
		return fd, nil
	}
	fd, err := open()
	if err != nil {
		if l, lerr := h.nl.LinkByName(h.dev); lerr == nil && h.nl.LinkDel(l) == nil {
			fd, err = open()
		}
	}
	return fd, err
}

// configure sets the TUN's sysctls and brings it and the loopback up; it
// runs inside the namespace (/proc/sys/net is the caller's namespace's).
func (h *Host) configure() error {
	sysctls := []struct{ key, val string }{
		{"ipv6/conf/" + h.dev + "/addr_gen_mode", "1"}, // no link-local: it would belong to no port
		{"ipv6/conf/" + h.dev + "/accept_dad", "0"},
		{"ipv6/conf/" + h.dev + "/dad_transmits", "0"},
		{"ipv6/conf/" + h.dev + "/accept_ra", "0"},
		{"ipv6/conf/" + h.dev + "/autoconf", "0"},
		{"ipv6/conf/" + h.dev + "/router_solicitations", "0"},
		{"ipv4/conf/" + h.dev + "/accept_local", "1"},
		{"ipv4/conf/all/rp_filter", "0"},
		{"ipv4/conf/" + h.dev + "/rp_filter", "0"},
	}
	for _, s := range sysctls {
		if err := os.WriteFile("/proc/sys/net/"+s.key, []byte(s.val), 0); err != nil {
			return fmt.Errorf("sysctl net.%s: %w", s.key, err)
		}
	}
	lo, err := h.nl.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := h.nl.LinkSetUp(lo); err != nil {
		return err
	}
	l, err := h.nl.LinkByName(h.dev)
	if err != nil {
		return err
	}
	if err := h.nl.LinkSetUp(l); err != nil {
		return err
	}
	return h.routes(l)
}

// routes installs the default routes through the TUN: the host sends
// everything to fibd, which routes it in the FIB.
func (h *Host) routes(l netlink.Link) error {
	for _, dst := range []string{"0.0.0.0/0", "::/0"} {
		_, n, _ := net.ParseCIDR(dst)
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: n, Scope: netlink.SCOPE_LINK}
		if n.IP.To4() == nil {
			r.Scope = netlink.SCOPE_UNIVERSE
		}
		if err := h.nl.RouteReplace(r); err != nil {
			return fmt.Errorf("default route %s dev %s: %w", dst, h.dev, err)
		}
	}
	return nil
}

// Sync implements pktio.HostIO: it adds the addresses the TUN lacks,
// removes the ones it should not have, sets its MTU (IPv6 needs 1280) and
// puts back what someone changed by hand (the link down, a route gone).
func (h *Host) Sync(addrs []netip.Prefix, mtu int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, err := h.nl.LinkByName(h.dev)
	if err != nil {
		return err
	}
	mtu = max(mtu, 1280)
	if l.Attrs().MTU != mtu {
		if err := h.nl.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("mtu %d: %w", mtu, err)
		}
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := h.nl.LinkSetUp(l); err != nil {
			return err
		}
	}
	have, err := h.nl.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return err
	}
	var haveP []netip.Prefix
	for _, a := range have {
		p, ok := prefixOf(a.IPNet)
		if !ok {
			continue
		}
		haveP = append(haveP, p)
		if !slices.Contains(addrs, p) {
			if err := h.nl.AddrDel(l, &a); err != nil {
				return fmt.Errorf("removing %v: %w", p, err)
			}
		}
	}
	for _, p := range addrs {
		if slices.Contains(haveP, p) {
			continue
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.nl.AddrAdd(l, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("adding %v: %w", p, err)
		}
	}
	return h.routes(l)
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a, bits), true
}

// ReadBatch implements pktio.HostIO: it waits for the TUN to be readable,
// then reads packets until it would block or bufs are full. A TSO
// super-packet is cut into wire-sized segments (packet.Segmenter), a
// partial checksum completed; segments that do not fit in bufs come first
// in the next call.
func (h *Host) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	n := h.drainSegments(bufs, sizes, 0)
	if n == len(bufs) || n == len(sizes) {
		return n, nil
	}
	var rerr error
	err := h.rc.Read(func(fd uintptr) bool {
		for n < len(bufs) && n < len(sizes) {
			m, err := unix.Readv(int(fd), h.rd.iov)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				return n > 0
			}
			if err != nil {
				rerr = err
				return true
			}
			if m <= packet.VnetHdrLen {
				continue
			}
			pkt := h.rd.scratch[:m-packet.VnetHdrLen]
			vh := packet.ParseVnetHdr(h.rd.hdr[:])
			if vh.GSOType != packet.VnetGSONone {
				if h.rd.seg.Init(pkt, 0, vh) != nil {
					h.rd.errs.Add(1)
					continue
				}
				h.rd.supers.Add(1)
				n = h.drainSegments(bufs, sizes, n)
				continue
			}
			if vh.Flags&packet.VnetFlagNeedsCsum != 0 {
				completeChecksum(pkt, int(vh.CsumStart), int(vh.CsumOffset))
			}
			sizes[n] = copy(bufs[n], pkt)
			n++
		}
		return true
	})
	if err != nil {
		if errors.Is(err, os.ErrClosed) {
			return 0, pktio.ErrClosed
		}
		return 0, err
	}
	if n == 0 && rerr != nil {
		return 0, rerr
	}
	return n, nil
}

// drainSegments moves the pending super-packet's segments into bufs from
// index n on.
func (h *Host) drainSegments(bufs [][]byte, sizes []int, n int) int {
	for n < len(bufs) && n < len(sizes) && !h.rd.seg.Done() {
		l, err := h.rd.seg.Segment(bufs[n])
		if err != nil {
			h.rd.seg.Reset()
			h.rd.errs.Add(1)
			break
		}
		sizes[n] = l
		n++
		h.rd.segs.Add(1)
	}
	return n
}

// completeChecksum finishes a partial transport checksum (the field holds
// the pseudo-header sum) over pkt[start:], stored at start+offset.
func completeChecksum(pkt []byte, start, offset int) {
	at := start + offset
	if start >= len(pkt) || at+2 > len(pkt) {
		return
	}
	c := ^packet.Fold(packet.Sum(0, pkt[start:]))
	if c == 0 && offset == 6 { // UDP: a computed zero goes as all ones
		c = 0xffff
	}
	pkt[at], pkt[at+1] = byte(c>>8), byte(c)
}

// WritePacket implements pktio.HostIO.
func (h *Host) WritePacket(pkt []byte) error {
	h.one.Lock()
	defer h.one.Unlock()
	h.one.iov[0], h.one.iov[1] = h.one.zero[:], pkt
	return h.writev(h.one.iov[:])
}

// IOCounters implements pktio.CounterReporter: what the offloads did, so
// an operator (and a test) can see they are in use.
func (h *Host) IOCounters() map[string]uint64 {
	c := h.wr.coal
	return map[string]uint64{
		"tun_rx_tso_packets":    h.rd.supers.Load(),
		"tun_rx_tso_segments":   h.rd.segs.Load(),
		"tun_rx_tso_errors":     h.rd.errs.Load(),
		"tun_tx_gro_packets":    c.merged.Load(),
		"tun_tx_gro_segments":   c.mergedSegs.Load(),
		"tun_tx_single_packets": c.single.Load(),
	}
}

// WriteBatch implements pktio.HostIO, merging TCP segments (coalescer).
func (h *Host) WriteBatch(pkts [][]byte) (int, error) { return h.wr.coal.writeBatch(pkts) }

func (h *Host) writev(iov [][]byte) error {
	var werr error
	err := h.rc.Write(func(fd uintptr) bool {
		_, werr = unix.Writev(int(fd), iov)
		return werr != unix.EAGAIN
	})
	if err != nil {
		if errors.Is(err, os.ErrClosed) {
			return pktio.ErrClosed
		}
		return err
	}
	return werr
}

// Namespace implements pktio.HostIO.
func (h *Host) Namespace() string { return string(h.ns) }

// Close closes the TUN, which removes it; the namespace stays (Remove).
func (h *Host) Close() error {
	var err error
	if h.f != nil {
		err = h.f.Close()
	}
	if h.nl != nil {
		h.nl.Close()
	}
	return err
}
