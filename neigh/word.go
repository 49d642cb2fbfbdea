package neigh

import (
	"sync/atomic"

	"github.com/fibd/fibd/fib/adj"
)

// atomicWord holds a MAC and a State in one uint64 so a reader never sees
// the MAC of one state with another.
type atomicWord = atomic.Uint64

func wordFrom(mac adj.MAC, s State) uint64 {
	return uint64(mac[0])<<40 | uint64(mac[1])<<32 | uint64(mac[2])<<24 |
		uint64(mac[3])<<16 | uint64(mac[4])<<8 | uint64(mac[5]) | uint64(s)<<48
}

func macFromWord(v uint64) adj.MAC {
	return adj.MAC{byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}
