package installbench

import "net/netip"

// gateway returns next hop i's address, 192.0.2.(1+i).
func gateway(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)}) }
