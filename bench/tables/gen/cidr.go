package main

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
)

// u128 is an address as an unsigned integer, so ranges can be walked with
// arithmetic. An IPv4 address sits in the low 32 bits of lo.
type u128 struct{ hi, lo uint64 }

func fromAddr(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

// addr converts u back to an address of the family given by width (32 or 128).
func (u u128) addr(width int) netip.Addr {
	if width == 32 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(u.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], u.hi)
	binary.BigEndian.PutUint64(b[8:], u.lo)
	return netip.AddrFrom16(b)
}

func (u u128) or(v u128) u128  { return u128{u.hi | v.hi, u.lo | v.lo} }
func (u u128) xor(v u128) u128 { return u128{u.hi ^ v.hi, u.lo ^ v.lo} }

func (u u128) cmp(v u128) int {
	switch {
	case u.hi != v.hi:
		if u.hi < v.hi {
			return -1
		}
		return 1
	case u.lo != v.lo:
		if u.lo < v.lo {
			return -1
		}
		return 1
	}
	return 0
}

func (u u128) add1() u128 {
	lo := u.lo + 1
	hi := u.hi
	if lo == 0 {
		hi++
	}
	return u128{hi, lo}
}

func (u u128) sub(v u128) u128 {
	lo, borrow := bits.Sub64(u.lo, v.lo, 0)
	hi, _ := bits.Sub64(u.hi, v.hi, borrow)
	return u128{hi, lo}
}

func (u u128) leadingZeros() int {
	if u.hi != 0 {
		return bits.LeadingZeros64(u.hi)
	}
	return 64 + bits.LeadingZeros64(u.lo)
}

func (u u128) trailingZeros() int {
	if u.lo != 0 {
		return bits.TrailingZeros64(u.lo)
	}
	return 64 + bits.TrailingZeros64(u.hi)
}

// lowMask returns the n low bits set, n in [0, 128].
func lowMask(n int) u128 {
	switch {
	case n >= 128:
		return u128{^uint64(0), ^uint64(0)}
	case n >= 64:
		return u128{hi: 1<<(n-64) - 1, lo: ^uint64(0)}
	}
	return u128{lo: 1<<n - 1}
}

// span checks that [start, end] is a range of one address family with
// start <= end and returns it as integers with the family's bit width.
func span(start, end netip.Addr) (s, e u128, width int, err error) {
	if !start.IsValid() || !end.IsValid() || start.Zone() != "" || end.Zone() != "" {
		return s, e, 0, fmt.Errorf("invalid range %v-%v", start, end)
	}
	if start.Is4() != end.Is4() {
		return s, e, 0, fmt.Errorf("range %v-%v mixes address families", start, end)
	}
	s, e, width = fromAddr(start), fromAddr(end), start.BitLen()
	if s.cmp(e) > 0 {
		return s, e, 0, fmt.Errorf("range %v-%v ends before it starts", start, end)
	}
	return s, e, width, nil
}

// splitRange returns the fewest CIDR blocks that exactly cover the inclusive
// range [start, end], in address order: at each step the largest block that
// is aligned at the current start and does not pass end.
func splitRange(start, end netip.Addr) ([]netip.Prefix, error) {
	s, e, width, err := span(start, end)
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for {
		host := min(s.trailingZeros(), width) // alignment of s
		for host > 0 && s.or(lowMask(host)).cmp(e) > 0 {
			host--
		}
		out = append(out, netip.PrefixFrom(s.addr(width), width-host))
		last := s.or(lowMask(host))
		if last == e {
			return out, nil // also stops at the top of the space, where last+1 would wrap
		}
		s = last.add1()
	}
}

// coverRange returns the longest prefix that contains all of [start, end].
func coverRange(start, end netip.Addr) (netip.Prefix, error) {
	s, e, width, err := span(start, end)
	if err != nil {
		return netip.Prefix{}, err
	}
	common := s.xor(e).leadingZeros() - (128 - width)
	return netip.PrefixFrom(start, common).Masked(), nil
}

// fillsHalf reports whether [start, end] holds at least half of the
// addresses of p, which must contain it.
func fillsHalf(start, end netip.Addr, p netip.Prefix) bool {
	host := p.Addr().BitLen() - p.Bits()
	if host == 0 {
		return true
	}
	// end-start+1 >= 2^(host-1)  <=>  end-start >= 2^(host-1)-1
	return fromAddr(end).sub(fromAddr(start)).cmp(lowMask(host-1)) >= 0
}
