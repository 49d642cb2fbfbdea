// Command fibdemo is `make demo`: it shows multi-FIB routing working for
// real on one machine, in about a minute.
//
// Two customers use identical addresses — the same client subnet, the same
// server 198.51.100.10 and 2001:db8:2::10 — in FIB 10 and FIB 20 of one
// fibd. Customer A has its own router interface; customer B arrives over a
// VLAN trunk (VLAN 200) through a small userspace access switch. Each
// server answers HTTP with its customer's name. fibdemo builds the
// namespaces (fibd-demo-*), starts fibd, configures it only through
// fibctl — printing every command, so the transcript teaches the CLI —,
// loads the full IPv4 table into both FIBs, and proves each customer
// reaches its own server and never the other's. Both FIBs get a host stack
// and an HTTP server on the router itself — `fibctl exec --fib N --
// fibdemo serve` on 192.0.2.1:80 in each, the same address — and each
// customer reaches its own. It tears everything down on exit, on error and
// on Ctrl-C, and exits non-zero if any check failed.
//
//	fibdemo [--bin DIR] [--table FILE] [--io auto|afpacket|xdp]
//	fibdemo serve [--body TEXT] [--http ADDR]... [--udp ADDR]...
package main
