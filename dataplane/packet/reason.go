package packet

// Reason is the outcome of a packet operation: OK, or why the packet is
// dropped or left unanswered. Values are dense from 0 to NumReasons-1 so a
// [NumReasons]uint64 counts them.
type Reason uint8

const (
	// OK means the operation succeeded.
	OK Reason = iota

	// Link layer.

	// TooShort: the frame ends inside its Ethernet header or a VLAN tag.
	TooShort
	// TooManyVLANTags: more than two tags, counting one stripped by the
	// kernel. A port is at most (interface, outer VLAN) and QinQ is the
	// deepest stacking fibd terminates.
	TooManyVLANTags
	// VLANReserved: a tag carries VID 4095, reserved by IEEE 802.1Q
	// (table 9-2) and never valid on the wire.
	VLANReserved

	// IPv4 header validation, RFC 1812 §5.2.2.

	// IPv4TooShort: fewer than 20 bytes follow the link-layer header
	// (§5.2.2 check 1).
	IPv4TooShort
	// BadVersion: the version field disagrees with the EtherType (§5.2.2
	// check 3; RFC 8200 §3 for IPv6).
	BadVersion
	// BadIHL: the IPv4 header length field is below 5 words (§5.2.2 check 4).
	BadIHL
	// BadTotalLength: the IPv4 total length is shorter than the header or
	// longer than the bytes received (§5.2.2 check 5).
	BadTotalLength
	// BadChecksum: the IPv4 header checksum does not verify (§5.2.2 check 2).
	BadChecksum

	// IPv6 header validation, RFC 8200.

	// IPv6TooShort: fewer than 40 bytes follow the link-layer header.
	IPv6TooShort
	// IPv6PayloadLength: 40 + payload length exceeds the bytes received.
	IPv6PayloadLength
	// IPv6ExtHeader: an extension header is truncated, a hop-by-hop header
	// is not first (RFC 8200 §4.3) or a second fragment header appears.
	IPv6ExtHeader
	// IPv6ExtChainTooLong: more extension headers than MaxExtHeaders.
	IPv6ExtChainTooLong

	// Addressing: Parsed is complete; not forwardable, may be local.

	// MartianSource: the source is not a valid unicast source (RFC 1812
	// §5.3.7, RFC 6890, RFC 4291 §2.5.2/2.5.3/2.5.5/2.7).
	MartianSource
	// LinkLocalSource: 169.254.0.0/16 or fe80::/10 source (RFC 3927 §2.7,
	// RFC 4291 §2.5.6): valid on its link, never routed.
	LinkLocalSource
	// MartianDest: a destination that no router forwards (RFC 1812 §5.3.7,
	// RFC 4291).
	MartianDest
	// BroadcastDest: 255.255.255.255, never forwarded (RFC 1812 §5.3.5.1).
	BroadcastDest
	// MulticastDest: fibd does not route multicast.
	MulticastDest
	// LinkLocalDest: 169.254.0.0/16 or fe80::/10 destination.
	LinkLocalDest
	// LinkBroadcast: a unicast IP packet in a link-layer broadcast or
	// multicast frame, which a router must not forward (RFC 1812 §5.3.4).
	LinkBroadcast

	// Forwarding checks.

	// TTLExceeded: the IPv4 TTL would reach 0 (RFC 1812 §5.3.1).
	TTLExceeded
	// HopLimitExceeded: the IPv6 hop limit would reach 0 (RFC 8200 §3).
	HopLimitExceeded
	// NotIP: an IP-only operation was given a non-IP frame.
	NotIP

	// Fragmentation (RFC 791).

	// FragDontFragment: Fragment was asked to split a packet with DF set;
	// the caller owes an ICMP Fragmentation Needed instead.
	FragDontFragment
	// FragMTUTooSmall: the MTU is below 68, the IPv4 minimum (RFC 791).
	FragMTUTooSmall
	// FragTooMany: the fragments would not fit the buffers given.
	FragTooMany
	// FragBadOptions: the IPv4 options are malformed, so which ones to copy
	// into later fragments is unknown.
	FragBadOptions
	// FragOffsetOverflow: a fragment offset would exceed 13 bits.
	FragOffsetOverflow

	// ICMP error suppression (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e)).

	// ICMPAboutError: the offending packet is itself an ICMP error.
	ICMPAboutError
	// ICMPAboutMulticast: the offending packet went to an IP or link-layer
	// broadcast or multicast address.
	ICMPAboutMulticast
	// ICMPAboutFragment: the offending packet is a non-initial fragment.
	ICMPAboutFragment
	// ICMPAboutBadSource: the offending packet's source does not name one
	// host.
	ICMPAboutBadSource
	// ICMPNoSource: the router has no address of the packet's family to
	// send the ICMP message from.
	ICMPNoSource

	// ICMP builders.

	// NotEchoRequest: an echo reply was asked for something that is not a
	// complete ICMP/ICMPv6 echo request.
	NotEchoRequest
	// EchoFragmented: an echo request arrived fragmented; fibd does not
	// reassemble.
	EchoFragmented
	// BadL4Checksum: an ICMP/ICMPv6 message to the router fails its checksum
	// (RFC 792, RFC 4443 §2.3).
	BadL4Checksum
	// BufferTooSmall: the output buffer cannot hold the result.
	BufferTooSmall
	// BadL4: FillL4Checksum was given a fragment, a protocol without a
	// supported checksum, or a truncated L4 header.
	BadL4

	// NumReasons is the number of Reason values.
	NumReasons
)

var reasonNames = [NumReasons]string{
	OK:                  "ok",
	TooShort:            "too-short",
	TooManyVLANTags:     "too-many-vlan-tags",
	VLANReserved:        "vlan-reserved",
	IPv4TooShort:        "ipv4-too-short",
	BadVersion:          "bad-version",
	BadIHL:              "bad-ihl",
	BadTotalLength:      "bad-total-length",
	BadChecksum:         "bad-checksum",
	IPv6TooShort:        "ipv6-too-short",
	IPv6PayloadLength:   "ipv6-payload-length",
	IPv6ExtHeader:       "ipv6-ext-header",
	IPv6ExtChainTooLong: "ipv6-ext-chain-too-long",
	MartianSource:       "martian-source",
	LinkLocalSource:     "link-local-source",
	MartianDest:         "martian-dest",
	BroadcastDest:       "broadcast-dest",
	MulticastDest:       "multicast-dest",
	LinkLocalDest:       "link-local-dest",
	LinkBroadcast:       "link-broadcast",
	TTLExceeded:         "ttl-exceeded",
	HopLimitExceeded:    "hop-limit-exceeded",
	NotIP:               "not-ip",
	FragDontFragment:    "frag-dont-fragment",
	FragMTUTooSmall:     "frag-mtu-too-small",
	FragTooMany:         "frag-too-many",
	FragBadOptions:      "frag-bad-options",
	FragOffsetOverflow:  "frag-offset-overflow",
	ICMPAboutError:      "icmp-about-error",
	ICMPAboutMulticast:  "icmp-about-multicast",
	ICMPAboutFragment:   "icmp-about-fragment",
	ICMPAboutBadSource:  "icmp-about-bad-source",
	ICMPNoSource:        "icmp-no-source",
	NotEchoRequest:      "not-echo-request",
	EchoFragmented:      "echo-fragmented",
	BadL4Checksum:       "bad-l4-checksum",
	BufferTooSmall:      "buffer-too-small",
	BadL4:               "bad-l4",
}

// String returns the reason's stable kebab-case name, suitable as a counter
// label.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Addressing reports whether r comes from the address checks Parse makes
// after decoding the whole packet. For these Parsed is complete; the packet
// must not be forwarded but may be delivered to the router itself.
func (r Reason) Addressing() bool {
	return r >= MartianSource && r <= LinkBroadcast
}
