package packet

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/gopacket/layers"
)

func TestFlowHashDeterministic(t *testing.T) {
	f := frameSpec{l4: "tcp", sport: 1, dport: 2}.build(t)
	a, b := FlowHash(mustParse(t, f)), FlowHash(mustParse(t, f))
	if a != b {
		t.Fatalf("same packet hashed to %#x and %#x", a, b)
	}
}

// TestFlowHashFragmentsStayTogether: every fragment of a datagram,
// including the first (which has ports), hashes like the others.
func TestFlowHashFragmentsStayTogether(t *testing.T) {
	const udp = layers.IPProtocolUDP
	for _, v6 := range []bool{false, true} {
		var hs []uint32
		for _, off := range []uint16{0, 100, 200} {
			s := frameSpec{v6: v6, l4: "udp", sport: 4000, dport: 5000, payload: make([]byte, 40)}
			if v6 {
				s.ext, s.extNH = fragHeader(udp, off, off < 200, 1), layers.IPProtocolIPv6Fragment
			} else {
				s.fragOff = off
				if off < 200 {
					s.flags = layers.IPv4MoreFragments
				}
			}
			p := mustParse(t, s.build(t))
			if off == 0 && !p.HasPorts {
				t.Fatal("first fragment parsed without ports")
			}
			hs = append(hs, FlowHash(p))
		}
		if hs[0] != hs[1] || hs[1] != hs[2] {
			t.Errorf("v6=%v: fragments hash to %x", v6, hs)
		}
	}
}

func TestFlowHashUsesPorts(t *testing.T) {
	p := Parsed{Family: IPv4, Src: v4src, Dst: v4dst, Proto: ProtoUDP, HasPorts: true, DstPort: 53}
	seen := map[uint32]bool{}
	for sp := range 1000 {
		p.SrcPort = uint16(sp)
		seen[FlowHash(&p)] = true
	}
	if len(seen) < 999 {
		t.Errorf("1000 source ports gave %d distinct hashes", len(seen))
	}
	q := p
	q.Proto = ProtoTCP
	if FlowHash(&p) == FlowHash(&q) {
		t.Error("protocol does not change the hash")
	}
}

// TestFlowHashSpread: over many flows, hash % n fills each of n buckets
// within 6 % of the mean, for every n from 2 to 16, for random flows and
// for the structured flows of a load test (one host pair, sequential
// ports; one source, sequential destinations), under fixed seeds so the
// test is deterministic. The margin is about 5 standard deviations for 16
// buckets: a pass is not luck, and a good hash does not fail it by noise.
func TestFlowHashSpread(t *testing.T) {
	const flows = 100000
	sets := []struct {
		name string
		gen  func(r *rand.Rand, i int, p *Parsed)
	}{
		{"random v4", func(r *rand.Rand, i int, p *Parsed) {
			p.Src = netip.AddrFrom4([4]byte{198, 18, byte(r.IntN(256)), byte(r.IntN(256))})
			p.Dst = netip.AddrFrom4([4]byte{198, 19, byte(r.IntN(256)), byte(r.IntN(256))})
			p.SrcPort, p.DstPort = uint16(r.Uint32()), uint16(r.Uint32())
		}},
		{"random v6", func(r *rand.Rand, i int, p *Parsed) {
			var s, d [16]byte
			for j := range s {
				s[j], d[j] = byte(r.Uint32()), byte(r.Uint32())
			}
			p.Src, p.Dst = netip.AddrFrom16(s), netip.AddrFrom16(d)
			p.SrcPort, p.DstPort = uint16(r.Uint32()), 443
		}},
		{"sequential source ports", func(r *rand.Rand, i int, p *Parsed) {
			p.Src, p.Dst = v4src, v4dst
			p.SrcPort, p.DstPort = uint16(i), uint16(80+i>>16)
		}},
		{"sequential destinations, no ports", func(r *rand.Rand, i int, p *Parsed) {
			p.Src = v6src
			p.Dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8), 13: byte(i >> 16)})
			p.HasPorts = false
		}},
	}
	sr := rand.New(rand.NewPCG(11, 12))
	// (An all-zero seed degenerates, as wyhash's does: a zero key word
	// zeroes a product. A random 256-bit seed is never that.)
	seeds := [][4]uint64{{1, 1, 1, 1}}
	for range 6 {
		seeds = append(seeds, [4]uint64{sr.Uint64(), sr.Uint64(), sr.Uint64(), sr.Uint64()})
	}
	hs := make([]uint32, flows)
	for si := range seeds {
		for _, set := range sets {
			r := rand.New(rand.NewPCG(9, 10))
			for i := range hs {
				p := Parsed{Family: IPv4, Proto: ProtoUDP, HasPorts: true}
				set.gen(r, i, &p)
				hs[i] = flowHash(&p, &seeds[si])
			}
			for n := 2; n <= 16; n++ {
				count := make([]int, n)
				for _, h := range hs {
					count[h%uint32(n)]++
				}
				mean := flows / n
				for b, c := range count {
					if c < mean*94/100 || c > mean*106/100 {
						t.Errorf("seed %d, %s: bucket %d of %d holds %d flows, mean %d", si, set.name, b, n, c, mean)
					}
				}
			}
		}
	}
}
