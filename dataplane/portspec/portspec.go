// Package portspec names fibd's ports. A port is an interface, an
// (interface, VLAN) pair or an (interface, outer VLAN, inner VLAN) triple —
// a QinQ port — and its name is the interface's, then each VLAN ID after a
// dot: "eth1", "eth1.100", "eth1.100.200". The rule is decided here, once,
// for the engine, the control plane and the CLI.
//
// Interface names may contain dots themselves, so a name alone does not
// always say which port it is: an interface literally named "eth1.100" has
// an untagged port whose name is that of (eth1, VLAN 100). Names must be
// unique, so whoever binds the second of two such ports is refused
// (dataplane.ErrPortNameTaken): a name means one port, never two.
package portspec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxVLAN is the highest usable 802.1Q VLAN ID; 0 and 4095 are reserved
// (IEEE 802.1Q table 9-2).
const MaxVLAN = 4094

// TPIDs of an outer tag.
const (
	TPID8021Q  = 0x8100 // a C-tag: plain VLANs, and QinQ the old way
	TPID8021AD = 0x88a8 // an S-tag: IEEE 802.1ad QinQ
)

// ErrInvalid is wrapped by the validation errors.
var ErrInvalid = errors.New("invalid port")

// Spec is a port: its interface and its tags. The zero VLAN is untagged;
// Inner set makes a QinQ port (VLAN the outer tag). OuterTPID is the outer
// tag's TPID; 0 means the default: 0x8100 for a single tag, 0x88a8 for
// QinQ.
type Spec struct {
	Interface string
	VLAN      uint16
	Inner     uint16
	OuterTPID uint16
}

// Name is the port's name: "eth1", "eth1.100", "eth1.100.200".
func (s Spec) Name() string {
	switch {
	case s.VLAN == 0:
		return s.Interface
	case s.Inner == 0:
		return s.Interface + "." + strconv.Itoa(int(s.VLAN))
	}
	return s.Interface + "." + strconv.Itoa(int(s.VLAN)) + "." + strconv.Itoa(int(s.Inner))
}

// TPID returns the outer tag's TPID, the default filled in; 0 for an
// untagged port.
func (s Spec) TPID() uint16 {
	switch {
	case s.VLAN == 0:
		return 0
	case s.OuterTPID != 0:
		return s.OuterTPID
	case s.Inner != 0:
		return TPID8021AD
	}
	return TPID8021Q
}

// Validate checks the tags (the interface name is the caller's to check).
func (s Spec) Validate() error {
	switch {
	case s.VLAN > MaxVLAN:
		return fmt.Errorf("%w: VLAN %d (1-%d, or 0 for untagged)", ErrInvalid, s.VLAN, MaxVLAN)
	case s.Inner > MaxVLAN:
		return fmt.Errorf("%w: inner VLAN %d (1-%d)", ErrInvalid, s.Inner, MaxVLAN)
	case s.Inner != 0 && s.VLAN == 0:
		return fmt.Errorf("%w: an inner VLAN needs an outer one", ErrInvalid)
	case s.VLAN == 0 && s.OuterTPID != 0:
		return fmt.Errorf("%w: an untagged port has no TPID", ErrInvalid)
	case s.OuterTPID != 0 && s.OuterTPID != TPID8021Q && s.OuterTPID != TPID8021AD:
		return fmt.Errorf("%w: outer TPID %#04x (0x8100 or 0x88a8)", ErrInvalid, s.OuterTPID)
	}
	return nil
}

// Parse reads a port name the way Name writes it. Trailing dot-separated
// numbers are VLAN IDs (at most two); anything else belongs to the
// interface name, so "veth.a" is an untagged port of interface "veth.a".
// Parse cannot know whether "eth1.100" means VLAN 100 of eth1 or an
// interface named "eth1.100" — it returns the VLAN reading; bound ports are
// found by name, not parsed.
func Parse(name string) (Spec, error) {
	parts := strings.Split(name, ".")
	var vids []uint16
	for len(parts) > 1 && len(vids) < 2 {
		v, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil || strconv.Itoa(v) != parts[len(parts)-1] {
			break
		}
		if v < 1 || v > MaxVLAN {
			return Spec{}, fmt.Errorf("%w: VLAN %d in %q (1-%d)", ErrInvalid, v, name, MaxVLAN)
		}
		vids = append([]uint16{uint16(v)}, vids...)
		parts = parts[:len(parts)-1]
	}
	s := Spec{Interface: strings.Join(parts, ".")}
	switch len(vids) {
	case 1:
		s.VLAN = vids[0]
	case 2:
		s.VLAN, s.Inner = vids[0], vids[1]
	}
	return s, nil
}
