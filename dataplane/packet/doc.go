// Package packet holds the forwarding loop's per-packet codecs: a frame
// parser that validates IPv4/IPv6 headers (RFC 1812 §5.2.2, RFC 8200) and
// classifies martian and link-local addresses (RFC 1812 §5.3.7, RFC 6890,
// RFC 4291); in-place TTL/hop-limit decrement with the RFC 1624 incremental
// checksum; link-layer rewrites (MACs and 802.1Q tags); ICMP and ICMPv6
// error and echo-reply builders (RFC 792, RFC 1812 §4.3.2, RFC 4443); IPv4
// fragmentation (RFC 791); Internet checksums; and the ECMP flow hash.
//
// Everything is a pure function over caller-owned byte slices and a
// caller-owned Parsed: nothing allocates, nothing blocks, nothing knows about
// FIBs, ports or neighbours, and the only package state is the flow-hash
// seed chosen at start-up. Functions are safe for concurrent use on distinct
// buffers.
//
// # Frames, offsets and headroom
//
// A frame is an Ethernet frame starting at its destination MAC. Parse
// records offsets relative to the frame's first byte (Parsed.L3Off,
// Parsed.L4Off). The receive path is expected to read each frame at an
// offset into a larger buffer (headroom, e.g. 64 bytes), so a rewrite that
// makes the link-layer header longer grows the frame to the left instead of
// moving the packet: RewriteL2 writes the new Ethernet header (and tag) so
// that it ends where the IP header starts and returns the frame's new start.
// The IP packet is never moved. ICMP builders and Fragment write bare IP
// packets; put them at an offset of at least MaxL2Header into a buffer and
// prepend the link-layer header with WriteL2.
//
// # API at a glance
//
//   - Parse decodes and validates a frame into a Parsed; Reason says why not.
//   - DecTTL decrements TTL/hop limit in place (RFC 1624 checksum update).
//   - FlowHash picks among equal-cost paths.
//   - RewriteL2, WriteL2, SetMACs, PushVLAN, PopVLAN, SetVLAN rewrite the
//     link layer in place.
//   - ShouldSendError, BuildError and BuildEchoReply make ICMP/ICMPv6.
//   - Fragment splits an IPv4 packet for a smaller MTU.
//   - Checksum, Sum, Fold, PseudoHeaderSum, UpdateChecksum, FillL4Checksum
//     and VerifyL4Checksum compute Internet checksums.
//
// # Reasons
//
// Every outcome that makes the caller drop or not answer a packet is a
// Reason, a dense enum (0 = OK, NumReasons values) meant to index an array of
// per-reason drop counters. Reasons for which Reason.Addressing reports true
// come from address checks made after the whole header was decoded: Parsed
// is complete, the packet must not be forwarded, but the caller may still
// deliver it to the router itself (ND from a link-local source, DHCP from
// 0.0.0.0, echo to the router's link-local address).
package packet
