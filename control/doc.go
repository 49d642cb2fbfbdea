// Package control is fibd's control plane: a Go library (Server) that
// configures FIBs, ports, addresses, routes and neighbours over the fib
// registry, a dataplane and a neighbour table, and a thin gRPC adapter
// (GRPCService) that serves the fibd.v1 API by converting protobuf messages
// to the library's domain types and fib's sentinel errors to status codes.
//
// Layering: control imports fib and fib/adj; it reaches the dataplane and
// the neighbour tables only through the Dataplane and Neighbors interfaces
// it declares, which the daemon wires to the real packages (and
// control/controltest fakes). Only this package and its clients import the
// generated protobuf package control/fibdpb.
//
// Route ownership: every route belongs to a source, a name the client
// chooses ("static", "bgp", ...). Routes with the source "static" are
// configuration: they are saved in the state file with FIBs, ports,
// addresses and static neighbours and restored at start. Routes of any
// other source belong to the daemon that pushed them; they stay when it
// disconnects (unless it asked for a flush) and it resyncs them with
// BeginResync / EndResync after a restart of its own or of fibd (which it
// sees by the epoch changing).
package control
