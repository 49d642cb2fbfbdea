// Package csum computes the Internet checksum (RFC 1071) for the packet path:
// full sums over a buffer, the TCP/UDP pseudo-header sums (RFC 793 §3.1,
// RFC 768, RFC 8200 §8.1) and folding. Everything is allocation-free.
package csum

import (
	"encoding/binary"
	"math/bits"
)

// Sum adds b to the running one's-complement sum acc and returns the new,
// unfolded sum. b is read as big-endian 16-bit words; an odd trailing byte is
// padded with a zero byte as RFC 1071 §4.1 does. Chained calls are only
// equivalent to one call over the concatenation when every buffer but the
// last has an even length.
func Sum(b []byte, acc uint64) uint64 {
	var carry uint64
	// Eight bytes at a time: one's-complement addition is associative and
	// commutative, so 64-bit big-endian words folded at the end give the
	// same 16-bit result as 16-bit words (RFC 1071 §2(B)).
	for len(b) >= 32 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[0:8]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[8:16]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[16:24]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[24:32]), carry)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[0:8]), carry)
		b = b[8:]
	}
	if len(b) >= 4 {
		acc, carry = bits.Add64(acc, uint64(binary.BigEndian.Uint32(b[0:4])), carry)
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, carry = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b[0:2])), carry)
		b = b[2:]
	}
	if len(b) == 1 {
		acc, carry = bits.Add64(acc, uint64(b[0])<<8, carry)
	}
	acc, _ = bits.Add64(acc, 0, carry)
	return acc
}

// Fold reduces a running sum to 16 bits with end-around carry. The result is
// the one's-complement sum, not yet inverted.
func Fold(acc uint64) uint16 {
	// Add the two 32-bit halves, then the 16-bit halves, each with the carry
	// wrapped around.
	hi, lo := acc>>32, acc&0xffffffff
	acc = hi + lo
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	return uint16(acc)
}

// Checksum returns the Internet checksum of b: the inverted folded sum.
func Checksum(b []byte, acc uint64) uint16 {
	return ^Fold(Sum(b, acc))
}

// PseudoV4 returns the IPv4 pseudo-header sum for a transport segment of
// length n carrying protocol proto between src and dst (RFC 793 §3.1).
func PseudoV4(src, dst []byte, proto uint8, n int) uint64 {
	acc := uint64(binary.BigEndian.Uint32(src[:4])) + uint64(binary.BigEndian.Uint32(dst[:4]))
	return acc + uint64(proto) + uint64(n)
}

// PseudoV6 returns the IPv6 pseudo-header sum (RFC 8200 §8.1).
func PseudoV6(src, dst []byte, proto uint8, n int) uint64 {
	return Sum(dst[:16], Sum(src[:16], 0)) + uint64(proto) + uint64(n)
}
