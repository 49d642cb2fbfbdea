// Package ethtool reads and changes a network device's offload features
// through the SIOCETHTOOL ioctl (ETHTOOL_GSSET_INFO, ETHTOOL_GSTRINGS,
// ETHTOOL_GFEATURES, ETHTOOL_SFEATURES), the interface the ethtool(8)
// binary's -k/-K options use, so fibd needs no ethtool binary at run time.
//
// Features are addressed by the kernel's own names ("rx-gro",
// "tx-tcp-segmentation", …, the strings of ETH_SS_FEATURES), which are
// stable ABI, rather than by NETIF_F_* bit numbers, which are not.
//
// Like every ioctl on a socket, the calls act on the network namespace of
// the calling OS thread.
package ethtool

import "errors"

// ErrNotSupported is returned on platforms without SIOCETHTOOL.
var ErrNotSupported = errors.New("ethtool: not supported on this platform")

// ForwardingOff lists the features a port owned by a userspace forwarder
// must not have, and why:
//
//   - receive aggregation (GRO, hardware GRO, LRO, GRO fraglist, UDP GRO
//     forwarding) glues wire frames into super-frames before AF_PACKET sees
//     them: a router must forward what was on the wire, not 64 KiB blobs
//     that do not fit its buffers or the egress MTU;
//   - segmentation offloads (TSO, GSO, USO) and transmit checksum offload
//     make the kernel's own traffic on the port leave as partial-checksum
//     super-frames; the port belongs to fibd, and veth passes such skbs to
//     its peer untouched, so they are switched off too;
//   - scatter-gather is left alone: it changes nothing fibd sees and some
//     drivers refuse to drop it while other features depend on it.
var ForwardingOff = []string{
	"rx-gro",
	"rx-gro-hw",
	"rx-lro",
	"rx-gro-list",
	"rx-udp-gro-forwarding",
	"tx-generic-segmentation",
	"tx-tcp-segmentation",
	"tx-tcp-ecn-segmentation",
	"tx-tcp-mangleid-segmentation",
	"tx-tcp6-segmentation",
	"tx-tcp-accecn-segmentation",
	"tx-udp-segmentation",
	"tx-checksum-ipv4",
	"tx-checksum-ipv6",
	"tx-checksum-ip-generic",
	"tx-checksum-sctp",
}

// VLANParseOff lists the features that take VLAN tags off received frames
// before packet I/O sees them (802.1Q and 802.1ad C- and S-tag parsing,
// "rx-vlan-hw-parse" is NETIF_F_HW_VLAN_CTAG_RX). AF_PACKET gets a stripped
// tag back out of band, but AF_XDP sees the frame without it — a tagged
// frame of one tenant would look untagged, another port's and another
// FIB's. fibd switches them off on every interface it owns, whether or not
// a VLAN port is bound yet: an untagged port must not receive frames that
// were tagged on the wire either.
var VLANParseOff = []string{
	"rx-vlan-hw-parse",
	"rx-vlan-stag-hw-parse",
}

// Change records one feature whose requested state was changed.
type Change struct {
	Name string
	// Was is the requested state before the change.
	Was bool
}
