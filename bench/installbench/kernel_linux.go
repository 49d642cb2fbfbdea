package installbench

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/bench/tables"
)

// KernelTable is the Linux routing table the baseline installs into.
const KernelTable = 10

// kernelInstall installs routes into KernelTable of a scratch namespace
// ("fibd-bench-…", removed afterwards) holding a veth interface with
// 192.0.2.254/24, each via its table gateway, and returns the seconds from
// the first sendmsg to the last acknowledgement.
//
// It is raw batched netlink, as fast as Linux takes routes: many
// RTM_NEWROUTE messages per sendmsg, an acknowledgement requested only on
// the last of each batch (the kernel still reports every failure, with or
// without NLM_F_ACK), NETLINK_CAP_ACK so acknowledgements do not echo the
// request, and socket buffers large enough that nothing is dropped.
func kernelInstall(routes []tables.Route, batch int) (float64, error) {
	if unix.Geteuid() != 0 {
		return 0, errors.New("needs root to create a network namespace (or pass --no-kernel)")
	}
	type result struct {
		secs float64
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread enters the namespace and is never unlocked, so Go
		// discards it when this goroutine ends instead of reusing it in
		// the wrong namespace.
		runtime.LockOSThread()
		secs, err := kernelInstallInNS(routes, batch)
		ch <- result{secs, err}
	}()
	r := <-ch
	return r.secs, r.err
}

func kernelInstallInNS(routes []tables.Route, batch int) (float64, error) {
	var b [3]byte
	_, _ = rand.Read(b[:])
	name := "fibd-bench-" + hex.EncodeToString(b[:])
	ns, err := netns.NewNamed(name)
	if err != nil {
		return 0, fmt.Errorf("create namespace %s: %w", name, err)
	}
	defer netns.DeleteNamed(name)
	defer ns.Close()

	// A veth pair rather than a dummy link: this kernel may lack the dummy
	// module, and veth is what the other namespace tests use anyway.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "fibd0"}, PeerName: "fibd1"}
	if err := netlink.LinkAdd(veth); err != nil {
		return 0, fmt.Errorf("add veth link: %w", err)
	}
	link, err := netlink.LinkByName("fibd0")
	if err != nil {
		return 0, err
	}
	for _, name := range []string{"fibd0", "fibd1"} {
		l, err := netlink.LinkByName(name)
		if err == nil {
			err = netlink.LinkSetUp(l)
		}
		if err != nil {
			return 0, fmt.Errorf("set %s up: %w", name, err)
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(192, 0, 2, 254), Mask: net.CIDRMask(24, 32)}}
	if err := netlink.AddrAdd(link, addr); err != nil {
		return 0, fmt.Errorf("add address: %w", err)
	}
	s, err := openRouteSocket()
	if err != nil {
		return 0, err
	}
	defer unix.Close(s.fd)
	start := time.Now()
	for off := 0; off < len(routes); off += batch {
		part := routes[off:min(len(routes), off+batch)]
		if err := s.addBatch(part, off, uint32(link.Attrs().Index)); err != nil {
			return 0, err
		}
	}
	secs := time.Since(start).Seconds()
	// Count what the kernel holds, outside the timing, so a fast number is
	// never a lost one.
	got, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: KernelTable}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return 0, fmt.Errorf("listing table %d: %w", KernelTable, err)
	}
	if len(got) != len(routes) {
		return 0, fmt.Errorf("table %d holds %d routes after installing %d", KernelTable, len(got), len(routes))
	}
	return secs, nil
}

type routeSocket struct {
	fd   int
	buf  []byte
	rbuf []byte
}

func openRouteSocket() (*routeSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	for _, o := range []struct{ level, opt, v int }{
		{unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 32 << 20},
		{unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32 << 20},
		{unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1},
	} {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("setsockopt %d: %w", o.opt, err)
		}
	}
	return &routeSocket{fd: fd, rbuf: make([]byte, 1<<20)}, nil
}

// routeMsgLen is one RTM_NEWROUTE: header, rtmsg, and four 8-byte
// attributes (table, destination, gateway, output interface).
const routeMsgLen = unix.NLMSG_HDRLEN + unix.SizeofRtMsg + 4*8

// addBatch sends routes as one sendmsg; sequence numbers are the routes'
// indexes (base + i), so an error names its route.
func (s *routeSocket) addBatch(routes []tables.Route, base int, oif uint32) error {
	s.buf = s.buf[:0]
	for i, r := range routes {
		flags := uint16(unix.NLM_F_REQUEST | unix.NLM_F_CREATE | unix.NLM_F_EXCL)
		if i == len(routes)-1 {
			flags |= unix.NLM_F_ACK
		}
		s.buf = appendRoute(s.buf, r, uint32(base+i), flags, oif)
	}
	if err := unix.Sendto(s.fd, s.buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink sendmsg: %w", err)
	}
	last := uint32(base + len(routes) - 1)
	for {
		n, _, err := unix.Recvfrom(s.fd, s.rbuf, 0)
		if err != nil {
			return fmt.Errorf("netlink recvmsg: %w", err)
		}
		for b := s.rbuf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			ne := binary.NativeEndian
			l, typ, seq := ne.Uint32(b[0:4]), ne.Uint16(b[4:6]), ne.Uint32(b[8:12])
			if l < unix.NLMSG_HDRLEN || int(l) > len(b) {
				return fmt.Errorf("netlink: malformed message of length %d", l)
			}
			data := b[unix.NLMSG_HDRLEN:l]
			b = b[min(len(b), int((l+3)&^3)):]
			if typ != unix.NLMSG_ERROR || len(data) < 4 {
				continue
			}
			if errno := -int32(ne.Uint32(data[:4])); errno != 0 {
				i := int(seq) - base
				if i < 0 || i >= len(routes) {
					return fmt.Errorf("netlink: error %v for unknown sequence %d", unix.Errno(errno), seq)
				}
				return fmt.Errorf("kernel refused route %s: %w", routes[i].Prefix, unix.Errno(errno))
			}
			if seq == last {
				return nil
			}
		}
	}
}

func appendRoute(b []byte, r tables.Route, seq uint32, flags uint16, oif uint32) []byte {
	ne := binary.NativeEndian
	b = ne.AppendUint32(b, routeMsgLen)
	b = ne.AppendUint16(b, unix.RTM_NEWROUTE)
	b = ne.AppendUint16(b, flags)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0)
	// struct rtmsg
	b = append(b, unix.AF_INET, byte(r.Prefix.Bits()), 0, 0, KernelTable, unix.RTPROT_STATIC, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST)
	b = ne.AppendUint32(b, 0)
	attr := func(typ uint16, v []byte) {
		b = ne.AppendUint16(b, 8)
		b = ne.AppendUint16(b, typ)
		b = append(b, v...)
	}
	var u32 [4]byte
	ne.PutUint32(u32[:], KernelTable)
	attr(unix.RTA_TABLE, u32[:])
	dst := r.Prefix.Addr().As4()
	attr(unix.RTA_DST, dst[:])
	gw := gateway(r.NextHop).As4()
	attr(unix.RTA_GATEWAY, gw[:])
	ne.PutUint32(u32[:], oif)
	attr(unix.RTA_OIF, u32[:])
	return b
}
