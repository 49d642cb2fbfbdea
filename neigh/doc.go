// Package neigh keeps fibd's neighbour tables: IPv4 ARP (RFC 826) and IPv6
// Neighbor Discovery (RFC 4861), one table per FIB.
//
// # Identity
//
// A neighbour is identified by adj.Key{FIB, Port, Addr}. The same IP in two
// FIBs is two entries with possibly different MACs, and the same link-local
// fe80:: address on two ports is two entries. IPv4 addresses are plain 4-byte
// addresses: every exported function canonicalises with Unmap and drops any
// zone, so callers may hand in 4in6 forms.
//
// Each entry holds one reference on the adj.Table adjacency with the same key
// (fib takes its own references for routes through that gateway, so a route's
// adjacency and the neighbour entry are the same object). Every change of MAC
// or state is one atomic store on that adjacency: the dataplane sees the new
// MAC on its next packet and no route or table is walked.
//
// # State machine
//
// Both families run the RFC 4861 §7.3.2 Neighbor Unreachability Detection
// machine, as Linux runs ARP through its NUD machine: INCOMPLETE, REACHABLE,
// STALE, DELAY, PROBE, plus FAILED (resolution failed; kept so the dataplane
// can answer with ICMP unreachable, and garbage-collected later) and
// PERMANENT (static entries). Events are handled by one handle…Locked method
// each (nud.go), every one an exhaustive switch over the states; the mapping
// from ARP packets to RFC 4861 events is:
//
//   - ARP request for one of our addresses   → probe (NS with SLLA): create or update, STALE
//   - ARP reply to one of our addresses      → solicited, override confirmation (NA S=1 O=1)
//   - any other ARP, gratuitous ARP included → probe, but only if an entry exists (RFC 826 merge rule)
//
// Timers run through an injected Clock; REACHABLE_TIME is randomised per
// transition with an injected random source.
//
// # Using neigh from the dataplane
//
//   - ARP frames go to HandleARP; ICMPv6 types 133–137 to HandleICMPv6
//     (neigh answers requests and solicitations for the router's own
//     addresses through Env.Transmit).
//   - Forwarding reads the route's adjacency. When it is Valid the packet
//     goes out with its MAC. Otherwise the packet goes to Resolve:
//     Incomplete or Failed queue a copy and solicit, and the copy comes
//     back through Env.Deliver once resolved, or through Env.Unreachable
//     (answer with ICMP unreachable) on failure; Stale (RFC 4861 STALE)
//     returns the MAC at once and starts re-verification (STALE → DELAY →
//     PROBE), after which the adjacency reads Valid again. So only the first
//     packet after a quiet spell leaves the fast path, and a neighbour that
//     changed its MAC is found by probing, not only by its announcements.
//   - Link down: Flush(fib, port). Port deleted from a FIB or FIB deleted:
//     Flush or DeleteFIB.
//
// # Concurrency
//
// Lookup and the resolved path of Resolve are lock-free and allocate nothing:
// they probe an open-addressing hash whose slot array is published through an
// atomic pointer (writers build a new array when it grows, RCU-style) and read
// an entry's MAC and state from one atomic word. Everything else — event
// handlers, timers, the control-plane API — serialises on Table.mu. Env
// callbacks (Transmit, Deliver, Unreachable, and the address queries) are
// never made while Table.mu is held: handlers collect the work under the lock
// and run it after unlocking, so the dataplane may call back into neigh from
// within a callback.
package neigh
