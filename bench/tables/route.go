// Package tables reads fibd's route-table format and loads the real IPv4 and
// IPv6 tables shipped in testdata/tables (embedded in the module root package),
// for benchmarks, tests and `fibctl route load`.
//
// The format is one route per line, "prefix nexthop-index":
//
//	# comment
//	1.0.0.0/24 9
//	2001:db8::/32 0
//
// The prefix is in CIDR notation with its host bits zero; nexthop-index is a
// decimal integer in [0, NextHops). Fields are separated by spaces or tabs;
// blank lines and lines whose first non-blank character is '#' are ignored.
// Input may be gzip-compressed; Parse detects it by its magic bytes. The
// shipped tables are sorted by Prefix.Compare (ascending address, then
// ascending length) and hold each prefix once, but the parser does not demand
// either, so hand-written files for the CLI may be in any order.
package tables

import (
	"net/netip"
	"strconv"
)

// NextHops is the number of next-hop indexes the format allows: an index is
// in [0, NextHops). Sixteen is enough to make a table's next hops differ
// between a covering route and its more-specifics most of the time, which is
// what a longest-prefix-match benchmark needs, while staying a realistic
// number of adjacencies for one router.
const NextHops = 16

// Route is one line of a table: a canonical prefix (host bits zero) and the
// index of its next hop in [0, NextHops).
type Route struct {
	Prefix  netip.Prefix
	NextHop int
}

// AppendTo appends r in the file format ("1.0.0.0/24 5", no newline) to b.
func (r Route) AppendTo(b []byte) []byte {
	b = r.Prefix.AppendTo(b)
	b = append(b, ' ')
	return strconv.AppendInt(b, int64(r.NextHop), 10)
}

// String returns r in the file format, without a newline.
func (r Route) String() string {
	return string(r.AppendTo(make([]byte, 0, 48)))
}
