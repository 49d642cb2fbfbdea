// Package afpacket implements dataplane.PacketIO on a Linux AF_PACKET
// socket: one socket per port, bound to the interface's ifindex with
// ETH_P_ALL, a TPACKET_V3 mmap ring for receiving and sendmmsg(2) for
// sending.
//
// # Receive: TPACKET_V3
//
// The kernel copies each frame into a shared ring of blocks and hands a
// block over (block_status |= TP_STATUS_USER) when it is full or when the
// retire timer fires; poll(2) wakes once per block, not per frame, and
// frames are packed at variable offsets so a 60-byte frame takes ~130
// bytes of ring, not a fixed 2 KiB slot. ReadBatch copies frames from the
// held block into the caller's buffers and returns the block as soon as
// its last frame is read. It waits in poll() only when no block is ready
// (busy-polling the ring measured no better). Sizing (Config defaults):
// 256 KiB blocks hold a whole 64 KiB GSO super-frame with room to spare
// and ~2,000 small frames; 16 blocks (4 MiB) absorb ~80 ms at 400 kpps; a
// 1 ms retire timeout bounds the latency TPACKET_V3's per-block hand-over
// adds at low rates.
//
// Per-frame metadata comes from the ring's tpacket3_hdr: the kernel
// always moves the outer VLAN tag out of the frame (skb_vlan_untag runs
// before the AF_PACKET tap, with or without the 8021q module) into
// tp_vlan_tci with TP_STATUS_VLAN_VALID, and its TPID into tp_vlan_tpid
// with TP_STATUS_VLAN_TPID_VALID; for QinQ only the outer 0x88a8 tag is
// removed and the inner 0x8100 tag stays in the frame
// (TestVLANTagsReportedOutOfBand). PACKET_IGNORE_OUTGOING keeps the
// socket from reading back what fibd (or the kernel) sends on the port.
//
// # Offloads: what arrives on this kernel, and what Port does about it
//
// Measured with veth (TestTCPThroughRouter, kernel 6.18): when the host on
// the far side of a veth has its default offloads (TSO/GSO, transmit
// checksum), TCP arrives at the router's AF_PACKET port as
//
//   - GSO super-frames: tp_len up to ~64 KiB (≈ 40 MSS-sized segments),
//     virtio_net_hdr gso_type TCPV4/TCPV6 with gso_size = MSS, and
//   - CHECKSUM_PARTIAL frames (TP_STATUS_CSUMNOTREADY, NEEDS_CSUM): the
//     TCP/UDP checksum field holds only the pseudo-header sum — in one
//     8 MiB transfer every ACK of the reverse direction was partial.
//
// Switching offloads off on the router's own port (ethtool -K, or
// link.Prepare) changes neither, because veth hands the peer's skb over
// as it is: segmentation and checksumming were deferred by the sender's
// device, and only the sender's features decide that. Only offloads off
// at the sending host make both disappear. A real NIC delivers wire
// frames, except for what GRO/LRO on the port itself aggregates, which
// link.Prepare switches off (with the transmit offloads, so the kernel's
// own traffic on the port would not be partial either).
//
// So Port handles both, whatever the device: the socket has
// PACKET_VNET_HDR, which puts a virtio_net_hdr (GSO type and size,
// csum_start/csum_offset) in front of every frame in the ring.
//
//   - A GSO super-frame is cut back into the frames that would have been
//     on the wire (Segmenter: headers copied, IPv4 total length/ID, IPv6
//     payload length, TCP sequence number and FIN/PSH/CWR adjusted, every
//     checksum computed in full), one caller buffer per segment, so the
//     forwarder sees only wire-sized frames it can check against the
//     egress MTU. TCP (v4/v6) and UDP (USO) are supported; other GSO
//     types and super-frames cut short by the ring are dropped and
//     counted (Stats.RxGSODropped).
//   - A partial checksum is reported in RxMeta.CsumPartial with
//     CsumStart/CsumOffset, and the forwarder completes it with
//     packet.FillL4Checksum on the frames it actually forwards
//     (cheaper than completing it here for frames the router drops or
//     consumes).
//
// Because PACKET_VNET_HDR applies to transmission too, every sent frame
// is preceded by an all-zero header (second iovec), meaning "no offload".
//
// # Transmit: sendmmsg
//
// WriteBatch sends up to BatchSize frames per sendmmsg(2) with
// MSG_DONTWAIT through unix.RawSyscall6 and PACKET_QDISC_BYPASS. Against a
// PACKET_TX_RING (TPACKET_V2: frames written into the mapped ring, one
// send() kick per batch; BenchmarkTxRingV2 vs BenchmarkTxSendmmsg) the
// sending thread's CPU per 60-byte frame was the same within noise
// (≈ 1.8–2.5 µs each on a loaded 2-core VM): the cost is the kernel's skb
// allocation and the veth receive path, which both pay, and the ring saves
// only a 60-byte copy. sendmmsg needs no second socket (TX rings need
// TPACKET_V2, and the RX ring is V3), no per-port TX memory, and fits
// PacketIO's contract that the caller owns its buffers and may reuse them
// as soon as WriteBatch returns.
package afpacket
