// Package link finds the interfaces fibd forwards on, follows their state,
// and prepares them for fibd's ownership, all through rtnetlink
// (github.com/vishvananda/netlink), the SIOCETHTOOL ioctl and
// /proc/sys/net.
//
// Owning a port means the kernel must keep its hands off it: no IPv4
// addresses (the kernel would answer ARP and accept packets for them), no
// IPv6 (it would send router solicitations and DAD probes and answer
// neighbour solicitations), no ARP replies for the host's other addresses,
// no kernel forwarding of what arrives on it, and no receive aggregation or
// segmentation offloads that turn wire frames into super-frames. Prepare
// does all of that, reports each step, and Release undoes it.
//
// A Manager acts on the network namespace of the OS thread that opened
// it, from whichever goroutine calls it later.
package link

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/fibd/fibd/fib/adj"
)

var (
	// ErrNotSupported is returned off Linux.
	ErrNotSupported = errors.New("link: not supported on this platform")
	// ErrNotFound: no interface of that name.
	ErrNotFound = errors.New("link: no such interface")
	// ErrHasAddresses: Prepare found kernel IPv4 addresses on the port and
	// was not told to flush them.
	ErrHasAddresses = errors.New("link: interface has kernel IPv4 addresses")
)

// Info is an interface's identity and state.
type Info struct {
	Name    string
	Index   int
	MAC     adj.MAC
	MTU     int
	AdminUp bool   // IFF_UP: set administratively
	OperUp  bool   // IFF_RUNNING / operstate up: carrier present, usable
	Oper    string // RFC 2863 operstate as the kernel reports it ("up", "down", "lowerlayerdown", …)
}

// Kind says what happened to an interface.
type Kind uint8

const (
	Added   Kind = iota + 1 // first seen (or listed at subscription)
	Changed                 // state changed; see Event.Changes
	Deleted                 // gone
)

func (k Kind) String() string {
	switch k {
	case Added:
		return "added"
	case Changed:
		return "changed"
	case Deleted:
		return "deleted"
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Change is a set of attributes that differ from the previous event for
// the same interface.
type Change uint8

const (
	AdminChanged Change = 1 << iota
	OperChanged
	MTUChanged
	MACChanged
	NameChanged
)

func (c Change) String() string {
	var parts []string
	for bit, name := range map[Change]string{AdminChanged: "admin", OperChanged: "oper", MTUChanged: "mtu", MACChanged: "mac", NameChanged: "name"} {
		if c&bit != 0 {
			parts = append(parts, name)
		}
	}
	return strings.Join(parts, "|")
}

// Event is one interface update delivered to a Watch callback. Netlink
// sends a message for every attribute change (statistics-only ones
// included); Watch passes on only those that added, deleted or changed
// one of Info's fields.
type Event struct {
	Kind    Kind
	Info    Info
	Changes Change // for Changed
}

// PrepareOptions control Prepare.
type PrepareOptions struct {
	// Force flushes kernel IPv4 addresses from the port instead of
	// refusing. Release puts them back.
	Force bool
	// KeepStack leaves the kernel's IP stack seeing the port's incoming
	// frames (by default a tcx ingress program drops them after fibd's
	// packet socket has its copy).
	KeepStack bool
	// KeepOffloads leaves the device's offload features alone. fibd's
	// AF_PACKET port copes with super-frames and partial checksums anyway
	// (at a cost); this is for devices whose driver refuses the change.
	KeepOffloads bool
}

// Report says what Prepare did, in order, for logs and for fibctl.
type Report struct {
	Info    Info
	Actions []string
	// Flushed are the IPv4 addresses removed under Force.
	Flushed []netip.Prefix
	// VLANStripped is set when the device still takes VLAN tags off
	// received frames after Prepare (ethtool.VLANParseOff could not be
	// switched off: fixed by the driver, or kept on by KeepOffloads).
	// Packet I/O that cannot read the stripped tag must not open it.
	VLANStripped bool
}
