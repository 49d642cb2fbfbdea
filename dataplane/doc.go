// Package dataplane is fibd's forwarding loop: ports (an interface or an
// (interface, VLAN) pair) bound to FIBs, per-port RX loops that parse,
// look up, rewrite and transmit in batches, and the slow path for ARP/ND,
// ICMP and packets to the router itself.
//
// Packet I/O is behind PacketIO, implemented by dataplane/afpacket and
// dataplane/xdp; the FIB and the neighbour tables are reached through the
// fib and neigh packages.
package dataplane
