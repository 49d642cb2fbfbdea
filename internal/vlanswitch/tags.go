package vlanswitch

// Tags are the VLAN tags an access port's frames carry on the trunk: one
// tag (Inner 0) with TPID, or two — a QinQ pair: TPID and Outer, then
// Inner with TPID 0x8100.
type Tags struct {
	TPID         uint16
	Outer, Inner uint16
}

// Dot1Q is the TPID of an 802.1Q tag, Dot1AD of an 802.1ad S-tag.
const (
	Dot1Q  = 0x8100
	Dot1AD = 0x88a8
)
