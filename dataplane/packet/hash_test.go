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
// within 5 % of the mean, for every n from 2 to 16, for random flows and
// for the structured flows of a load test (one host pair, sequential
// ports; one source, sequential destinations).
func TestFlowHashSpread(t *testing.T) {
	const flows = 100000
	r := rand.New(rand.NewPCG(9, 10))
	sets := map[string]func(i int, p *Parsed){
		"random v4": func(i int, p *Parsed) {
			p.Src = netip.AddrFrom4([4]byte{198, 18, byte(r.IntN(256)), byte(r.IntN(256))})
			p.Dst = netip.AddrFrom4([4]byte{198, 19, byte(r.IntN(256)), byte(r.IntN(256))})
			p.SrcPort, p.DstPort = uint16(r.Uint32()), uint16(r.Uint32())
		},
		"random v6": func(i int, p *Parsed) {
			var s, d [16]byte
			for j := range s {
				s[j], d[j] = byte(r.Uint32()), byte(r.Uint32())
			}
			p.Src, p.Dst = netip.AddrFrom16(s), netip.AddrFrom16(d)
			p.SrcPort, p.DstPort = uint16(r.Uint32()), 443
		},
		"sequential source ports": func(i int, p *Parsed) {
			p.Src, p.Dst = v4src, v4dst
			p.SrcPort, p.DstPort = uint16(i), 80
		},
		"sequential destinations, no ports": func(i int, p *Parsed) {
			p.Src = v6src
			p.Dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8), 13: byte(i >> 16)})
			p.HasPorts = false
		},
	}
	for name, gen := range sets {
		hs := make([]uint32, flows)
		for i := range hs {
			p := Parsed{Family: IPv4, Proto: ProtoUDP, HasPorts: true}
			gen(i, &p)
			hs[i] = FlowHash(&p)
		}
		for n := 2; n <= 16; n++ {
			count := make([]int, n)
			for _, h := range hs {
				count[h%uint32(n)]++
			}
			mean := flows / n
			for b, c := range count {
				if c < mean*95/100 || c > mean*105/100 {
					t.Errorf("%s: bucket %d of %d holds %d flows, mean %d", name, b, n, c, mean)
				}
			}
		}
	}
}
