// Package hoststack gives a FIB a host stack: the kernel's own TCP/IP in a
// network namespace of the FIB, "fibd-fib10" for FIB 10, holding one TUN
// device that fibd owns. Programs run in that namespace (fibctl exec --fib
// 10 -- CMD) or open sockets in it (Listen, ListenPacket, Dial below) and
// talk to the FIB's customers as the router itself, from the FIB's own
// addresses — FreeBSD's setfib(1) and SO_SETFIB, Linux's `ip vrf exec`.
//
// Design:
//   - A TUN, not a TAP: the host sees bare IP packets and has no ARP or ND
//     of its own, so fibd stays the only owner of neighbours. The engine
//     (package dataplane) punts what the host should answer into the TUN
//     and forwards what the host writes as locally originated traffic; this
//     package implements pktio.HostIO and never imports the engine.
//   - The TUN carries the FIB's global addresses with their subnet lengths
//     (a daemon sees its connected subnets) and default routes for IPv4 and
//     IPv6 through it: the FIB's routes are not copied, the host sends
//     everything to fibd and fibd routes it. No DAD, no SLAAC, no RA, no
//     link-local address (addr_gen_mode none).
//   - Link-local addresses belong to one port, and one TUN per FIB has no
//     port: they are not mirrored, and a host packet to a link-local or
//     multicast destination is dropped (host-link-scoped). IPv6 BGP over
//     link-local and OSPF/OSPFv3 need a TUN per port, which this does not
//     build; BGP, SSH, DNS, NTP, HTTP over global addresses all work. One
//     TUN per FIB keeps the host's routing trivial (one default route) and
//     the punt path one queue per FIB, which is what isolation wants.
//   - The namespace outlives fibd: a clean stop or a crash closes the TUN
//     (it vanishes with its last descriptor) but leaves the namespace, so
//     programs running in it (a BGP daemon) keep their sockets, and the
//     next fibd reuses it and recreates the TUN. Turning the host stack off
//     or deleting the FIB removes the namespace.
package hoststack
