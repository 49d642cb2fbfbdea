package xdp

import (
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestParseNLErrorExtAck decodes the error the kernel sends for a native
// attach on a bridge (capped ack with an NLMSGERR_ATTR_MSG), the reason
// that makes ErrXDPUnavailable's text useful.
func TestParseNLErrorExtAck(t *testing.T) {
	const reason = "Underlying driver does not support XDP in native mode"
	ne := binary.NativeEndian
	m := make([]byte, unix.NLMSG_HDRLEN, 128)
	ne.PutUint16(m[4:], unix.NLMSG_ERROR)
	ne.PutUint16(m[6:], unix.NLM_F_CAPPED|unix.NLM_F_ACK_TLVS)
	code := -int32(unix.EOPNOTSUPP)
	m = ne.AppendUint32(m, uint32(code))
	echoed := make([]byte, unix.NLMSG_HDRLEN)
	ne.PutUint32(echoed, 52) // the original request's length; capped: header only
	m = append(m, echoed...)
	m = appendAttr(m, unix.NLMSGERR_ATTR_MSG, append([]byte(reason), 0))
	ne.PutUint32(m, uint32(len(m)))

	err := parseNLError(m)
	if !errors.Is(err, unix.EOPNOTSUPP) || err.Error() != unix.EOPNOTSUPP.Error()+": "+reason {
		t.Errorf("got %v", err)
	}
	ack := make([]byte, unix.NLMSG_HDRLEN+4)
	if err := parseNLError(ack); err != nil {
		t.Errorf("ack: %v", err)
	}
	if err := parseNLError(ack[:10]); err == nil {
		t.Error("truncated error accepted")
	}
}
