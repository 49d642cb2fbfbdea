package xdp

import (
	"encoding/binary"
	"errors"
)

// The netlink attribute helpers are platform-neutral so the parser can be
// unit-tested and fuzzed anywhere; only netlink_linux.go talks to a socket.

// Netlink constants used here (include/uapi/linux/netlink.h, if_link.h).
const (
	nlaFNested   = 1 << 15
	nlaTypeMask  = 0x3fff
	iflaXDP      = 43 // IFLA_XDP
	xdpFD        = 1  // IFLA_XDP_FD
	xdpAttached  = 2  // IFLA_XDP_ATTACHED
	xdpFlags     = 3  // IFLA_XDP_FLAGS
	xdpProgID    = 4  // IFLA_XDP_PROG_ID
	xdpDrvProgID = 5  // IFLA_XDP_DRV_PROG_ID
	xdpSkbProgID = 6  // IFLA_XDP_SKB_PROG_ID
	xdpHwProgID  = 7  // IFLA_XDP_HW_PROG_ID
	xdpExpected  = 8  // IFLA_XDP_EXPECTED_FD

	// enum XDP_ATTACHED_*.
	attachedNone  = 0
	attachedDrv   = 1
	attachedSkb   = 2
	attachedHw    = 3
	attachedMulti = 4
)

var errShortAttr = errors.New("xdp: malformed netlink attribute")

// forEachAttr calls fn for every netlink attribute in b. It rejects lengths
// that run past b rather than trusting the kernel's framing.
func forEachAttr(b []byte, fn func(typ uint16, val []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return errShortAttr
		}
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		typ := binary.NativeEndian.Uint16(b[2:4]) & nlaTypeMask
		if l < 4 || l > len(b) {
			return errShortAttr
		}
		if err := fn(typ, b[4:l]); err != nil {
			return err
		}
		adv := nlAlign(l)
		if adv >= len(b) {
			return nil
		}
		b = b[adv:]
	}
	return nil
}

func nlAlign(n int) int { return (n + 3) &^ 3 }

// xdpState is what the kernel reports about an interface's XDP hook.
type xdpState struct {
	drvID, skbID, hwID uint32
}

// parseXDPState decodes the IFLA_XDP nest of an RTM_NEWLINK message's
// attributes. When one program is attached the kernel reports
// IFLA_XDP_ATTACHED = its mode and IFLA_XDP_PROG_ID; with several it
// reports XDP_ATTACHED_MULTI and one ID per mode.
func parseXDPState(linkAttrs []byte) (xdpState, error) {
	var st xdpState
	err := forEachAttr(linkAttrs, func(typ uint16, val []byte) error {
		if typ != iflaXDP {
			return nil
		}
		var mode uint8
		var progID uint32
		err := forEachAttr(val, func(typ uint16, v []byte) error {
			switch typ {
			case xdpAttached:
				if len(v) < 1 {
					return errShortAttr
				}
				mode = v[0]
			case xdpProgID, xdpDrvProgID, xdpSkbProgID, xdpHwProgID:
				if len(v) < 4 {
					return errShortAttr
				}
				id := binary.NativeEndian.Uint32(v)
				switch typ {
				case xdpProgID:
					progID = id
				case xdpDrvProgID:
					st.drvID = id
				case xdpSkbProgID:
					st.skbID = id
				case xdpHwProgID:
					st.hwID = id
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		switch mode {
		case attachedDrv:
			st.drvID = progID
		case attachedSkb:
			st.skbID = progID
		case attachedHw:
			st.hwID = progID
		}
		return nil
	})
	return st, err
}

// appendAttr appends one attribute with a fixed-size payload.
func appendAttr(b []byte, typ uint16, val []byte) []byte {
	l := 4 + len(val)
	b = binary.NativeEndian.AppendUint16(b, uint16(l))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, val...)
	for range nlAlign(l) - l {
		b = append(b, 0)
	}
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
