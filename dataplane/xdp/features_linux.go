package xdp

import (
	"encoding/binary"
	"errors"

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
	genlHdrLen           = 4 // struct genlmsghdr: cmd, version, reserved
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
	nl     *nlSock // NETLINK_GENERIC, in the interfaces' namespace
	family uint16
}

// newFeatureWatch opens the socket in the calling thread's namespace; nil
// when the kernel has no netdev family.
func newFeatureWatch() (*featureWatch, error) {
	nl, err := openNetlink(unix.NETLINK_GENERIC)
	if err != nil {
		return nil, err
	}
	w := &featureWatch{nl: nl}
	attrs, err := w.genl(unix.GENL_ID_CTRL, genlCtrlCmdGetFamily, appendAttr(nil, genlCtrlAttrName, []byte("netdev\x00")))
	if err != nil {
		nl.close()
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, err
	}
	_ = forEachAttr(attrs, func(typ uint16, val []byte) error {
		if typ == genlCtrlAttrFamilyID && len(val) >= 2 {
			w.family = binary.NativeEndian.Uint16(val)
		}
		return nil
	})
	if w.family == 0 {
		nl.close()
		return nil, nil
	}
	return w, nil
}

func (w *featureWatch) close() { w.nl.close() }

// genl sends one generic netlink request and returns its answer's
// attributes.
func (w *featureWatch) genl(family uint16, cmd uint8, attrs []byte) ([]byte, error) {
	w.nl.mu.Lock()
	defer w.nl.mu.Unlock()
	req := w.nl.request(family, unix.NLM_F_REQUEST, []byte{cmd, 1, 0, 0}, attrs)
	return w.nl.doAnswer(req, family, genlHdrLen)
}

// ndoXmit reports whether the interface takes redirected frames now; true
// when the kernel cannot say.
func (w *featureWatch) ndoXmit(ifindex int) bool {
	attrs, err := w.genl(w.family, netdevCmdDevGet, appendAttr(nil, netdevAttrIfindex, u32(uint32(ifindex))))
	if err != nil {
		return true
	}
	ok := true
	_ = forEachAttr(attrs, func(typ uint16, val []byte) error {
		if typ == netdevAttrXDPFeats && len(val) >= 8 {
			ok = binary.NativeEndian.Uint64(val)&netdevXDPActNDOXmit != 0
		}
		return nil
	})
	return ok
}
