package fib

import (
	"encoding/binary"

	"github.com/kentik/patricia"
	"github.com/kentik/patricia/uint32_tree"
)

// authTree adapts kentik/patricia's IPv4 and IPv6 trees to one generic
// interface. The tree is the authoritative store: every route of every
// source, tagged with its record index. It is not safe to read while it is
// written, which is why the packet path never touches it.
type authTree[K key] interface {
	// add tags k/l with tag unless match finds a tag of the same source, in
	// which case update is called on it; it returns whether a tag was added
	// and how many tags k/l now has.
	add(k K, l int, tag uint32, match uint32_tree.MatchesFunc, update uint32_tree.UpdatesFunc) (bool, int)
	// remove deletes exactly tag from k/l.
	remove(buf []uint32, k K, l int, tag uint32) int
	// deepest appends the tags of the longest tagged prefix covering k/l.
	deepest(buf []uint32, k K, l int) []uint32
	// all appends the tags of every tagged prefix covering k/l.
	all(buf []uint32, k K, l int) []uint32
	// walk calls fn for every tagged prefix in address order.
	walk(buf []uint32, fn func(k K, l int, tags []uint32) bool)
}

func sameTag(a, b uint32) bool { return a == b }

type tree4 struct{ t *uint32_tree.TreeV4 }

func newTree4() authTree[[4]byte] { return tree4{uint32_tree.NewTreeV4()} }

func addr4(k [4]byte, l int) patricia.IPv4Address {
	return patricia.NewIPv4Address(binary.BigEndian.Uint32(k[:]), uint(l))
}

func (t tree4) add(k [4]byte, l int, tag uint32, m uint32_tree.MatchesFunc, u uint32_tree.UpdatesFunc) (bool, int) {
	return t.t.AddOrUpdate(addr4(k, l), tag, m, u)
}

func (t tree4) remove(buf []uint32, k [4]byte, l int, tag uint32) int {
	return t.t.DeleteWithBuffer(buf, addr4(k, l), sameTag, tag)
}

func (t tree4) deepest(buf []uint32, k [4]byte, l int) []uint32 {
	_, tags := t.t.FindDeepestTagsAppend(buf, addr4(k, l))
	return tags
}

func (t tree4) all(buf []uint32, k [4]byte, l int) []uint32 {
	return t.t.FindTagsAppend(buf, addr4(k, l))
}

func (t tree4) walk(buf []uint32, fn func(k [4]byte, l int, tags []uint32) bool) {
	it := t.t.Iterate()
	for it.Next() {
		buf = it.TagsWithBuffer(buf[:0])
		if len(buf) == 0 {
			continue
		}
		a := it.Address()
		var k [4]byte
		binary.BigEndian.PutUint32(k[:], a.Address)
		if !fn(k, int(a.Length), buf) {
			return
		}
	}
}

type tree6 struct{ t *uint32_tree.TreeV6 }

func newTree6() authTree[[16]byte] { return tree6{uint32_tree.NewTreeV6()} }

func addr6(k [16]byte, l int) patricia.IPv6Address {
	return patricia.NewIPv6Address(k[:], uint(l))
}

func (t tree6) add(k [16]byte, l int, tag uint32, m uint32_tree.MatchesFunc, u uint32_tree.UpdatesFunc) (bool, int) {
	return t.t.AddOrUpdate(addr6(k, l), tag, m, u)
}

func (t tree6) remove(buf []uint32, k [16]byte, l int, tag uint32) int {
	return t.t.DeleteWithBuffer(buf, addr6(k, l), sameTag, tag)
}

func (t tree6) deepest(buf []uint32, k [16]byte, l int) []uint32 {
	_, tags := t.t.FindDeepestTagsAppend(buf, addr6(k, l))
	return tags
}

func (t tree6) all(buf []uint32, k [16]byte, l int) []uint32 {
	return t.t.FindTagsAppend(buf, addr6(k, l))
}

func (t tree6) walk(buf []uint32, fn func(k [16]byte, l int, tags []uint32) bool) {
	it := t.t.Iterate()
	for it.Next() {
		buf = it.TagsWithBuffer(buf[:0])
		if len(buf) == 0 {
			continue
		}
		a := it.Address()
		var k [16]byte
		binary.BigEndian.PutUint64(k[:8], a.Left)
		binary.BigEndian.PutUint64(k[8:], a.Right)
		if !fn(k, int(a.Length), buf) {
			return
		}
	}
}
