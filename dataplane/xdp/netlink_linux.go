package xdp

import (
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// nlSock is a netlink socket: NETLINK_ROUTE to attach, query and detach
// XDP programs (RTM_SETLINK / RTM_GETLINK with IFLA_XDP), NETLINK_GENERIC
// to ask an interface's XDP features (features_linux.go). A netlink socket
// is bound to the network namespace it was created in, so an attachment
// keeps its own for its whole life: Close may run on any OS thread, in any
// namespace, and still detaches from the right interface.
type nlSock struct {
	mu  sync.Mutex
	fd  int
	seq uint32
	buf []byte
}

func openRTNL() (*nlSock, error) { return openNetlink(unix.NETLINK_ROUTE) }

func openNetlink(proto int) (*nlSock, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	// Extended acks carry the kernel's reason ("native and generic XDP
	// can't be active at the same time"), which makes attach errors
	// readable; capped acks keep the echoed request out of the reply.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &nlSock{fd: fd, buf: make([]byte, 1<<16)}, nil
}

func (r *nlSock) close() error { return unix.Close(r.fd) }

// nlError is a netlink error with the kernel's extended-ack message.
type nlError struct {
	errno unix.Errno
	msg   string
}

func (e *nlError) Error() string {
	if e.msg != "" {
		return e.errno.Error() + ": " + e.msg
	}
	return e.errno.Error()
}

func (e *nlError) Unwrap() error { return e.errno }

// linkRequest builds an RTM_*LINK request for ifindex with attributes.
func (r *nlSock) linkRequest(typ uint16, flags uint16, ifindex int, attrs []byte) []byte {
	// struct ifinfomsg: family, pad, type, index, flags, change.
	hdr := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(hdr[4:], uint32(int32(ifindex)))
	return r.request(typ, flags, hdr, attrs)
}

// request builds a netlink message: nlmsghdr, the family's fixed header,
// attributes.
func (r *nlSock) request(typ, flags uint16, hdr, attrs []byte) []byte {
	r.seq++
	b := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(hdr)+len(attrs))
	ne := binary.NativeEndian
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], flags)
	ne.PutUint32(b[8:], r.seq)
	b = append(append(b, hdr...), attrs...)
	ne.PutUint32(b[0:], uint32(len(b)))
	return b
}

// do sends req and returns the attributes of the RTM_NEWLINK answer (for
// RTM_GETLINK) or nil after a positive ack (for RTM_SETLINK).
func (r *nlSock) do(req []byte) ([]byte, error) {
	return r.doAnswer(req, unix.RTM_NEWLINK, unix.SizeofIfInfomsg)
}

// doAnswer sends req and returns the attributes of the answer of type
// answer, after its fixed header of hdrLen bytes, or nil after a positive
// ack.
func (r *nlSock) doAnswer(req []byte, answer uint16, hdrLen int) ([]byte, error) {
	seq := binary.NativeEndian.Uint32(req[8:])
	if err := unix.Sendto(r.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink send: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(r.fd, r.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("netlink recv: %w", err)
		}
		msgs := r.buf[:n]
		for len(msgs) >= unix.NLMSG_HDRLEN {
			ne := binary.NativeEndian
			l := int(ne.Uint32(msgs[0:]))
			if l < unix.NLMSG_HDRLEN || l > len(msgs) {
				return nil, errShortAttr
			}
			m := msgs[:l]
			msgs = msgs[min(nlAlign(l), len(msgs)):]
			if ne.Uint32(m[8:]) != seq {
				continue // a stale answer to an earlier request
			}
			switch ne.Uint16(m[4:]) {
			case unix.NLMSG_ERROR:
				return nil, parseNLError(m)
			case answer:
				if len(m) < unix.NLMSG_HDRLEN+hdrLen {
					return nil, errShortAttr
				}
				attrs := m[unix.NLMSG_HDRLEN+hdrLen:]
				return append([]byte(nil), attrs...), nil
			}
		}
	}
}

// parseNLError decodes an NLMSG_ERROR message; errno 0 is an ack.
func parseNLError(m []byte) error {
	ne := binary.NativeEndian
	if len(m) < unix.NLMSG_HDRLEN+4 {
		return errShortAttr
	}
	code := int32(ne.Uint32(m[unix.NLMSG_HDRLEN:]))
	if code == 0 {
		return nil
	}
	e := &nlError{errno: unix.Errno(-code)}
	flags := ne.Uint16(m[6:]) // nlmsg_flags follows the 16-bit nlmsg_type
	if flags&unix.NLM_F_ACK_TLVS != 0 {
		// The TLVs follow the echoed request header (capped ack) or the
		// whole echoed request.
		off := unix.NLMSG_HDRLEN + 4
		if len(m) >= off+unix.NLMSG_HDRLEN {
			echoed := int(ne.Uint32(m[off:]))
			if flags&unix.NLM_F_CAPPED != 0 {
				echoed = unix.NLMSG_HDRLEN
			}
			off += nlAlign(echoed)
		}
		if off <= len(m) {
			_ = forEachAttr(m[off:], func(typ uint16, val []byte) error {
				if typ == unix.NLMSGERR_ATTR_MSG {
					e.msg = cString(val)
				}
				return nil
			})
		}
	}
	return e
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// rtextFilterSkipStats is RTEXT_FILTER_SKIP_STATS: the XDP query needs no
// counters, and skipping them keeps the answer small.
const rtextFilterSkipStats = 1 << 3

// queryXDP reports which programs are attached to ifindex, per mode.
func (r *nlSock) queryXDP(ifindex int) (xdpState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	attrs := appendAttr(nil, unix.IFLA_EXT_MASK, u32(rtextFilterSkipStats))
	la, err := r.do(r.linkRequest(unix.RTM_GETLINK, unix.NLM_F_REQUEST, ifindex, attrs))
	if err != nil {
		return xdpState{}, err
	}
	return parseXDPState(la)
}

// setXDP attaches progFD (or detaches with progFD -1) in the mode given by
// flags. With XDP_FLAGS_REPLACE the kernel swaps atomically only if
// expectedFD's program is the one attached, so fibd never detaches or
// overwrites a program that is not the one it means to.
func (r *nlSock) setXDP(ifindex, progFD int, flags uint32, expectedFD int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var nest []byte
	nest = appendAttr(nest, xdpFD, u32(uint32(int32(progFD))))
	nest = appendAttr(nest, xdpFlags, u32(flags))
	if flags&unix.XDP_FLAGS_REPLACE != 0 {
		nest = appendAttr(nest, xdpExpected, u32(uint32(int32(expectedFD))))
	}
	attrs := appendAttr(nil, iflaXDP|nlaFNested, nest)
	_, err := r.do(r.linkRequest(unix.RTM_SETLINK, unix.NLM_F_REQUEST|unix.NLM_F_ACK, ifindex, attrs))
	return err
}
