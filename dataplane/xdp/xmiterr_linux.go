package xdp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// An XDP redirect is handed to the egress driver's ndo_xdp_xmit; a device
// that cannot take it makes the redirect fail after the program returned,
// and the frame is lost. veth is the common case: it can take redirected
// frames only while its peer runs an XDP program or GRO (its NAPI), and
// says so in its XDP features (NETDEV_XDP_ACT_NDO_XMIT), which follow the
// peer. The fast path reads every egress interface's features through the
// kernel's "netdev" generic netlink family on each port sync, and one
// without NDO_XMIT is not redirected to: its traffic leaves through user
// space, which transmits with an skb. Kernels without the family (before
// 6.3) are trusted.

// Generic netlink constants (include/uapi/linux/genetlink.h, netdev.h).
const (
	genlCtrlCmdGetFamily = 3
	genlCtrlAttrFamilyID = 1
	genlCtrlAttrName     = 2
	netdevCmdDevGet      = 1
	netdevAttrIfindex    = 1
	netdevAttrXDPFeats   = 3
	netdevXDPActNDOXmit  = 1 << 2
)

// featureWatch asks one namespace's kernel for interfaces' XDP features.
type featureWatch struct {
	fd     int // NETLINK_GENERIC socket in the interfaces' namespace
	family uint16
	seq    uint32
}

// newFeatureWatch opens the socket in the calling thread's namespace; nil
// when the kernel has no netdev family.
func newFeatureWatch() (*featureWatch, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("generic netlink socket: %w", err)
	}
	tv := unix.Timeval{Sec: 1}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	w := &featureWatch{fd: fd}
	name := append([]byte("netdev"), 0)
	attrs, err := w.request(unix.GENL_ID_CTRL, genlCtrlCmdGetFamily, attr(genlCtrlAttrName, name))
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, err
	}
	id, ok := attrs[genlCtrlAttrFamilyID]
	if !ok || len(id) < 2 {
		unix.Close(fd)
		return nil, nil
	}
	w.family = binary.NativeEndian.Uint16(id)
	return w, nil
}

func (w *featureWatch) close() { unix.Close(w.fd) }

func attr(typ uint16, data []byte) []byte {
	b := make([]byte, 4, 4+len(data)+3)
	binary.NativeEndian.PutUint16(b, uint16(4+len(data)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// request sends one generic netlink request and returns the top-level
// attributes of its answer.
func (w *featureWatch) request(family uint16, cmd uint8, attrs ...[]byte) (map[uint16][]byte, error) {
	w.seq++
	body := []byte{cmd, 1, 0, 0} // genlmsghdr: cmd, version, reserved
	for _, a := range attrs {
		body = append(body, a...)
	}
	msg := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	binary.NativeEndian.PutUint32(msg, uint32(unix.NLMSG_HDRLEN+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], family)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(msg[8:], w.seq)
	msg = append(msg, body...)
	if err := unix.Sendto(w.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(w.fd, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Header.Seq != w.seq {
				continue
			}
			if m.Header.Type == unix.NLMSG_ERROR {
				if len(m.Data) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
						return nil, unix.Errno(-e)
					}
				}
				return nil, nil
			}
			if len(m.Data) < 4 {
				return nil, errors.New("short generic netlink answer")
			}
			out := map[uint16][]byte{}
			for b := m.Data[4:]; len(b) >= 4; {
				l := int(binary.NativeEndian.Uint16(b))
				if l < 4 || l > len(b) {
					break
				}
				out[binary.NativeEndian.Uint16(b[2:])&0x3fff] = b[4:l]
				b = b[min((l+3)&^3, len(b)):]
			}
			return out, nil
		}
	}
}

// ndoXmit reports whether the interface takes redirected frames now; true
// when the kernel cannot say.
func (w *featureWatch) ndoXmit(ifindex int) bool {
	idx := make([]byte, 4)
	binary.NativeEndian.PutUint32(idx, uint32(ifindex))
	attrs, err := w.request(w.family, netdevCmdDevGet, attr(netdevAttrIfindex, idx))
	if err != nil {
		return true
	}
	f, ok := attrs[netdevAttrXDPFeats]
	if !ok || len(f) < 8 {
		return true
	}
	return binary.NativeEndian.Uint64(f)&netdevXDPActNDOXmit != 0
}
