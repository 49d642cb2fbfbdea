package packet

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// flowSeed keys FlowHash. It is drawn once per process: every worker picks
// the same path for a flow, while other routers running fibd — or this one
// after a restart — pick differently, which avoids ECMP polarisation
// between consecutive hops that would otherwise all hash alike.
var flowSeed = [4]uint64{rand.Uint64(), rand.Uint64(), rand.Uint64(), rand.Uint64()}

// FlowHash returns a hash of the packet's flow for choosing among equal-cost
// paths: source, destination, protocol and the two ports, or only the first
// three for fragments and protocols without ports, so every fragment of a
// datagram — the first, which has the ports, included — takes the path of
// its siblings. It is deterministic within a process and spreads flows
// evenly over any number of buckets by hash % n.
func FlowHash(p *Parsed) uint32 { return flowHash(p, &flowSeed) }

// FlowSeed returns FlowHash's key, for a fast path outside the process
// that must pick the same ECMP member for a flow.
func FlowSeed() [4]uint64 { return flowSeed }

func flowHash(p *Parsed, seed *[4]uint64) uint32 {
	s, d := p.Src.As16(), p.Dst.As16()
	l4 := uint64(p.Proto) << 32
	if p.HasPorts && !p.Fragment {
		l4 |= uint64(p.SrcPort)<<16 | uint64(p.DstPort)
	}
	// wyhash-style multiply-fold rounds (128-bit product of keyed words,
	// halves xored) absorb the tuple; the murmur3 finaliser then spreads
	// the last round over all bits, since when only the ports vary the last
	// product is by a constant and its low bits — the ones hash % n reads —
	// would barely change.
	h := mix(binary.BigEndian.Uint64(s[0:])^seed[0], binary.BigEndian.Uint64(s[8:])^seed[1])
	h = mix(h^binary.BigEndian.Uint64(d[0:]), binary.BigEndian.Uint64(d[8:])^seed[2])
	h = mix(h^l4, seed[3])
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return uint32(h)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
