package packet

import (
	"bytes"
	"testing"
)

// Fuzz targets: never panic; agree with gopacket where both decode; every
// output of a builder parses, verifies and stays within its limits; every
// fragmentation reassembles to the original. Crashers land in
// testdata/fuzz/<Target>/ and are replayed by plain `go test`.

func addCorpus(f *testing.F, add func(frame []byte)) {
	for _, fr := range corpus(f) {
		add(fr)
	}
}

// checkParsed asserts the invariants Parse promises for accepted frames.
func checkParsed(t *testing.T, frame []byte, p *Parsed, r Reason) {
	if r != OK && !r.Addressing() {
		return
	}
	if p.L3Off < EthHeaderLen || p.L3Off > len(frame) || int(p.InlineTags) > int(p.Tags) || p.Tags > 2 {
		t.Fatalf("link layer out of range: %+v", p)
	}
	switch p.Family {
	case NonIP:
		if p.EtherType == EtherTypeIPv4 || p.EtherType == EtherTypeIPv6 {
			t.Fatalf("IP EtherType reported as non-IP")
		}
		return
	case IPv4:
		if !p.Src.Is4() || !p.Dst.Is4() || p.HdrLen < 20 || p.HdrLen > 60 {
			t.Fatalf("bad IPv4 view: %+v", p)
		}
	case IPv6:
		if !p.Src.Is6() || !p.Dst.Is6() || p.HdrLen < 40 {
			t.Fatalf("bad IPv6 view: %+v", p)
		}
	}
	if p.L3Off+p.L3Len > len(frame) || p.L4Off != p.L3Off+p.HdrLen || p.HdrLen > p.L3Len {
		t.Fatalf("lengths out of range (frame %d): %+v", len(frame), p)
	}
	if p.NonInitial && (p.HasPorts || p.HasICMP || !p.Fragment) {
		t.Fatalf("non-initial fragment with an L4 view: %+v", p)
	}
}

func FuzzParse(f *testing.F) {
	addCorpus(f, func(fr []byte) { f.Add(fr, false, uint16(0), uint16(0)) })
	f.Add(udp4().build(f), true, uint16(TPID8021AD), uint16(300))
	f.Add([]byte{}, true, uint16(0), uint16(0xfff))
	f.Fuzz(func(t *testing.T, frame []byte, hasTag bool, tpid, tci uint16) {
		var p Parsed
		r := Parse(frame, hasTag, tpid, tci, &p)
		if r >= NumReasons {
			t.Fatalf("Parse returned %d", r)
		}
		checkParsed(t, frame, &p, r)
		crossCheck(t, frame, hasTag, &p, r)
		if r != OK && !r.Addressing() || p.Family == NonIP {
			return
		}
		_ = SourceRouted(frame, &p)
		// The TTL decrement keeps the packet valid (or refuses).
		ttl := p.TTL
		cp := append([]byte(nil), frame...)
		switch DecTTL(cp, &p) {
		case OK:
			var q Parsed
			if r2 := Parse(cp, hasTag, tpid, tci, &q); r2 != r || q.TTL != ttl-1 {
				t.Fatalf("after DecTTL: %v (was %v), TTL %d (was %d)", r2, r, q.TTL, ttl)
			}
		case TTLExceeded, HopLimitExceeded:
			if ttl > 1 || !bytes.Equal(cp, frame) {
				t.Fatalf("DecTTL refused TTL %d or changed the frame", ttl)
			}
		default:
			t.Fatal("DecTTL failed on an IP packet")
		}
		_ = FlowHash(&p)
	})
}

func FuzzICMP(f *testing.F) {
	addCorpus(f, func(fr []byte) { f.Add(fr, uint8(0), uint32(1280)) })
	f.Add(frameSpec{l4: "icmp", payload: []byte("ping")}.build(f), uint8(5), uint32(576))
	f.Fuzz(func(t *testing.T, frame []byte, kind uint8, param uint32) {
		var p Parsed
		if r := Parse(frame, false, 0, 0, &p); (r != OK && !r.Addressing()) || p.Family == NonIP {
			return
		}
		src, limit, hdr := v4rtr, MaxICMPv4Error, 28
		if p.Family == IPv6 {
			src, limit, hdr = v6rtr, MaxICMPv6Error, 48
		}
		k := ICMPKind(kind % uint8(NumICMPKinds))
		out := make([]byte, limit)
		n, r := BuildError(out, frame, &p, k, param, src)
		if ok, why := ShouldSendError(&p, k); ok != (r == OK) || (!ok && why != r) {
			t.Fatalf("BuildError = %v, ShouldSendError = %v, %v", r, ok, why)
		}
		if r == OK {
			q, _ := checkGenerated(t, out[:n], p.Family)
			if n > limit || q.Dst != p.Src || q.Src != src {
				t.Fatalf("error of %d bytes from %v to %v", n, q.Src, q.Dst)
			}
			want := frame[p.L3Off : p.L3Off+min(p.L3Len, limit-hdr)]
			if !bytes.Equal(out[hdr:n], want) {
				t.Fatal("quote is not the start of the offending packet")
			}
		}
		if p.HasICMP && (p.ICMPType == 8 || p.ICMPType == 128) {
			out := make([]byte, len(frame))
			if n, r := BuildEchoReply(out, frame, &p, p.Dst); r == OK {
				q, _ := checkGenerated(t, out[:n], p.Family)
				if q.ICMPType != 0 && q.ICMPType != 129 {
					t.Fatalf("echo reply type %d", q.ICMPType)
				}
			}
		}
	})
}

func FuzzFragment(f *testing.F) {
	for i, opts := range fragOptionSets {
		s := frameSpec{proto: 253, opts: opts, payload: make([]byte, 100*i+1)}
		f.Add(s.build(f), uint16(68+i*100))
		s.fragOff, s.flags = 7, 1 // a middle fragment, MF set
		f.Add(s.build(f), uint16(576))
	}
	f.Fuzz(func(t *testing.T, frame []byte, mtu16 uint16) {
		var p Parsed
		if r := Parse(frame, false, 0, 0, &p); (r != OK && !r.Addressing()) || p.Family != IPv4 {
			return
		}
		mtu := int(mtu16)
		out := make([][]byte, 2+p.L3Len/8)
		for i := range out {
			out[i] = make([]byte, max(mtu, 0))
		}
		n, r := Fragment(out, frame, &p, mtu)
		switch r {
		case OK:
			ip := frame[p.L3Off : p.L3Off+p.L3Len]
			if got := reassemble(t, ip, out[:n], mtu); !bytes.Equal(got, ip[p.HdrLen:]) {
				t.Fatalf("reassembled %x, want %x", got, ip[p.HdrLen:])
			}
		case FragDontFragment:
			if !p.DF {
				t.Fatal("FragDontFragment without DF")
			}
		case FragMTUTooSmall:
			if mtu >= IPv4MinMTU {
				t.Fatalf("MTU %d called too small", mtu)
			}
		case FragBadOptions, FragOffsetOverflow:
		default:
			t.Fatalf("Fragment = %v", r)
		}
	})
}

func FuzzVLANRewrite(f *testing.F) {
	for _, in := range ingresses {
		f.Add(udp4().with(func(s *frameSpec) { s.tags = in.tags }).build(f), in.hasTag, in.tpid, in.tci, uint16(5<<13|200))
		f.Add(udp6().with(func(s *frameSpec) { s.tags = in.tags }).build(f), in.hasTag, in.tpid, in.tci, uint16(0))
	}
	f.Fuzz(func(t *testing.T, frame []byte, hasTag bool, tpid, tci, egress uint16) {
		var p Parsed
		r := Parse(frame, hasTag, tpid, tci, &p)
		if r != OK && !r.Addressing() {
			return
		}
		vid := egress & 0x0fff
		if vid == 0 || vid == 0x0fff {
			egress = 0 // untagged egress port
		}
		buf := inBuffer(frame)
		start := RewriteL2(buf, headroom, &p, macC, macD, Tags{Outer: egress})
		out := buf[start:]
		if !bytes.Equal(buf[headroom+p.L3Off:], frame[p.L3Off:]) {
			t.Fatal("rewrite touched the packet")
		}
		var q Parsed
		r2 := Parse(out, false, 0, 0, &q)
		if r == OK && r2 != OK || r2 != OK && !r2.Addressing() {
			t.Fatalf("rewritten frame: %v (was %v)", r2, r)
		}
		wantTags := uint8(0)
		if egress != 0 {
			wantTags = 1
		}
		if q.DstMAC != macC || q.SrcMAC != macD || q.Tags != wantTags || q.OuterTCI != egress || q.EtherType != p.EtherType ||
			q.Family != p.Family || q.Src != p.Src || q.Dst != p.Dst || q.L3Len != p.L3Len || q.SrcPort != p.SrcPort {
			t.Fatalf("rewritten %+v\nfrom %+v", q, p)
		}
		// Push then pop restores the frame byte for byte.
		s2 := PopVLAN(buf, PushVLAN(buf, start, TPID8021AD, egress|1))
		if s2 != start || !bytes.Equal(buf[s2:], out) {
			t.Fatal("PushVLAN+PopVLAN changed the frame")
		}
	})
}

// FuzzCompletePartial: any offsets, never a panic nor a write outside the
// IP packet; offsets at a TCP or UDP checksum give one that verifies,
// whatever the field held before.
func FuzzCompletePartial(f *testing.F) {
	addCorpus(f, func(fr []byte) { f.Add(fr, uint16(34), uint16(6)) })
	f.Fuzz(func(t *testing.T, frame []byte, start, offset uint16) {
		var p Parsed
		if r := Parse(frame, false, 0, 0, &p); r != OK && !r.Addressing() {
			return
		}
		orig := bytes.Clone(frame)
		if CompletePartial(frame, &p, int(start), int(offset)) != OK {
			if !bytes.Equal(frame, orig) {
				t.Fatal("a refused completion changed the frame")
			}
			return
		}
		end := p.L3Off + p.L3Len
		if !bytes.Equal(frame[:p.L4Off], orig[:p.L4Off]) || !bytes.Equal(frame[end:], orig[end:]) {
			t.Fatal("completion wrote outside the transport payload")
		}
		if p.Fragment || int(start) != p.L4Off {
			return
		}
		if p.Proto == ProtoUDP && offset == 6 || p.Proto == ProtoTCP && offset == 16 {
			// What a sender that offloaded the checksum leaves in the field:
			// the pseudo-header sum. Completed, it must verify.
			copy(frame, orig)
			field := Fold(PseudoHeaderSum(p.Src, p.Dst, p.Proto, p.L3Len-p.HdrLen))
			frame[start+offset], frame[start+offset+1] = byte(field>>8), byte(field)
			if CompletePartial(frame, &p, int(start), int(offset)) != OK || !VerifyL4Checksum(frame, &p) {
				t.Fatalf("completed checksum of protocol %d does not verify", p.Proto)
			}
		}
	})
}
