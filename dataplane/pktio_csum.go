package dataplane

import (
	"encoding/binary"

	"github.com/fibd/fibd/internal/csum"
)

// CompleteChecksum finishes a partial transport checksum (RxMeta.CsumPartial)
// the way a NIC's transmit checksum offload would: it sums frame[CsumStart:]
// on top of the pseudo-header sum already stored in the checksum field and
// writes the result there. frame must be the whole frame (meta.Len bytes)
// and must not have been re-tagged in front of CsumStart. It returns false,
// changing nothing, when the offsets do not fit the frame.
func CompleteChecksum(frame []byte, m RxMeta) bool {
	start, field := int(m.CsumStart), int(m.CsumStart)+int(m.CsumOffset)
	if !m.CsumPartial || field+2 > len(frame) || start > field {
		return false
	}
	// The field holds the folded pseudo-header sum; summing the whole range
	// including it adds exactly that, so no separate pseudo-header is needed.
	c := csum.Checksum(frame[start:], 0)
	if c == 0 {
		// A computed zero goes out as all ones: the same value in one's
		// complement, and for UDP zero would mean "no checksum" (RFC 768).
		// The kernel's skb_checksum_help does the same (CSUM_MANGLED_0).
		c = 0xffff
	}
	binary.BigEndian.PutUint16(frame[field:], c)
	return true
}
