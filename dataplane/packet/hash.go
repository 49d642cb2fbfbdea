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
func FlowHash(p *Parsed) uint32 {
	s, d := p.Src.As16(), p.Dst.As16()
	l4 := uint64(p.Proto) << 32
	if p.HasPorts && !p.Fragment {
		l4 |= uint64(p.SrcPort)<<16 | uint64(p.DstPort)
	}
	// Two rounds of wyhash-style multiply-fold mixing: 128-bit products of
	// keyed words, high and low halves xored.
	h := mix(binary.BigEndian.Uint64(s[0:])^flowSeed[0], binary.BigEndian.Uint64(s[8:])^flowSeed[1])
	h = mix(h^binary.BigEndian.Uint64(d[0:]), binary.BigEndian.Uint64(d[8:])^flowSeed[2])
	h = mix(h^l4, flowSeed[3])
	return uint32(h ^ h>>32)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
