// Package xdp is fibd's AF_XDP packet-I/O backend: a dataplane.PacketIO per
// RX queue of an interface, fed by an XDP program instead of AF_PACKET.
//
// # Kernel contract
//
// One XDP program per interface. Without the fast path it is built at run
// time with cilium/ebpf's asm package and does
//
//	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
//
// With Options.FastPath it is fibd's fast path (bpf/fastpath.c, compiled
// by clang through bpf2go into the committed fastpath_bpfel.o; `make bpf`
// rebuilds it, `make bpfcheck` fails when it is stale): it forwards the
// common case itself from the FastPath's table maps, which every
// interface's instance shares, and redirects everything else into the
// same XSKMAP as the bare program would. FastPath implements
// dataplane/fastpath.Tables; the engine's mirror (dataplane/fastpath.go)
// writes them. The program runs only in native mode: in generic mode every
// frame has paid for an skb before XDP runs, so the interface gets the
// bare program instead, with a warning.
//
// The verifier shapes the program: no loops but unrolled ones (the IPv4
// header checksum is ten unrolled adds), one parsing path per tag count so
// every packet offset is a constant, at most 32 ECMP buckets inline in a
// forwarding entry (a larger group is punted), IPv6 without extension
// headers, and no IPv4 options. It verifies in about 26k instructions
// processed, 65 ms, with a 216-byte stack.
//
// where xsks is an XSKMAP from RX queue index to AF_XDP socket. Each Socket
// binds one queue and owns a UMEM (one mmap cut into FrameSize chunks) and
// four single-producer/single-consumer rings shared with the kernel: fill
// (empty chunks lent to the kernel for RX), RX (filled chunks), TX (chunks
// to send) and completion (sent chunks coming back). Ring sizes are powers
// of two; indices run freely and are masked; each side caches the other
// side's index and re-reads it only when the cache runs short (ring.go).
// With XDP_USE_NEED_WAKEUP the kernel says when it needs a system call:
// a sendto to transmit (always, in copy mode), a recvfrom when a zero-copy
// driver ran out of fill chunks. Kicks are issued only then and counted.
//
// A queue without a socket has no XSKMAP entry, so the miss action,
// XDP_PASS, hands its frames to the kernel stack; OpenAll opens every RX
// queue so none is left out. The XSKMAP is sized to the queue count seen
// on the first Open; queues added later (ethtool -L) reach the kernel stack
// until fibd reopens the interface.
//
// # Attach modes and fallbacks
//
// The program is attached over rtnetlink (IFLA_XDP) in native (driver) mode,
// falling back to generic (skb) mode with a slog warning; AttachNative and
// AttachGeneric force one mode, and an attach that fails in every allowed
// mode returns ErrXDPUnavailable carrying the kernel's extended-ack reason
// (e.g. "Underlying driver does not support XDP in native mode" for a
// bridge). fibd --io=auto should fall back to AF_PACKET on
// ErrXDPUnavailable and say so; --io=xdp reports it. ErrBusy (another
// program owns the hook) is a configuration conflict in both cases: fibd
// never replaces a program that is not its own.
//
// Sockets bind zero-copy where the driver supports it and fall back to copy
// mode (CopyAuto). veth on this project's test kernel refuses zero-copy
// (EOPNOTSUPP in native mode), so tests and benchmarks run native/copy.
//
// # Crash recovery
//
// A netlink-attached XDP program outlives the process that attached it.
// fibd recognises its own program by name (prefix "fibd_xsk"): on attach, a
// leftover in the same mode is swapped atomically (XDP_FLAGS_REPLACE with
// the old program as the expected fd); one in the other mode is detached
// first, because the kernel refuses native and generic programs on one
// interface at once. Detaching on Close also uses XDP_FLAGS_REPLACE, so it
// never removes a program someone attached after fibd. Until a restarted
// fibd replaces it, a leftover program is harmless: the kernel removes a
// dead process's sockets from the XSKMAP, so every frame falls through to
// XDP_PASS. The dead sockets' queues are released by deferred kernel work,
// so Open retries an EBUSY bind for about a second. (A bpf_link attachment
// would vanish with its process instead; netlink was chosen for the
// explicit mode flags, the atomic replace and visibility in `ip link`.)
//
// # Copying, and a later zero-copy path
//
// PacketIO's buffers belong to the caller, so ReadBatch copies each frame
// out of its UMEM chunk and returns the chunk to the fill ring at once,
// and WriteBatch copies into an idle TX chunk. Nothing is allocated after
// Open (TestNoAllocs). The copies cost little next to the kernel's side
// of copy mode, which builds an skb for every transmitted frame: in the
// bare forwarding loop most of the forwarder's CPU is inside the TX
// sendto.
//
// Ports that share a UMEM could forward without copying: XDP_SHARED_UMEM
// binds sockets on other queues or interfaces to one UMEM, each with its
// own fill and completion rings. A forwarding loop would then take a
// descriptor off port A's RX ring, rewrite the headers in place in the
// UMEM, and put the same descriptor on port B's TX ring. The chunk goes
// back to A's fill ring when B's completion ring returns it. That needs a
// descriptor-level interface beside PacketIO, in which the backend lends
// frames (views valid until released) and takes ownership on transmit.
// The UMEM, rings and counters here are already per socket and would move
// into a shared UMEM object. It pays only where the NIC does zero-copy;
// in copy mode the kernel copies anyway.
//
// # VLANs
//
// AF_XDP sees the frame as the driver received it, so an 802.1Q tag stays
// inline and RxMeta.HasVLAN is never set; the dataplane classifies ports
// from the frame. A driver with receive VLAN offload on (rx-vlan-hw-parse,
// rx-vlan-stag-hw-parse) strips the tag before XDP runs and the frame
// would look untagged, so fibd switches those features off on the
// interfaces it owns (dataplane/link); where a driver cannot, the
// interface does not run on AF_XDP (see dataplane/backend).
//
// # Sizes
//
// The kernel keeps XDP_PACKET_HEADROOM (256 bytes) in every RX chunk, so
// the longest frame received is FrameSize-256: 1792 bytes with the default
// 2048, enough for a 1500-byte MTU with two VLAN tags.
//
// The package is packet I/O only: the bare forwarding loop benchmarks
// compare the engine with lives with them (bench/fwdbench.BareXDP).
package xdp
