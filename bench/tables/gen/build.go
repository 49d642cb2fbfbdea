package main

import (
	"fmt"
	"net/netip"
	"slices"
)

// nextHops is the number of next-hop indexes of the table format. It is
// tables.NextHops, written out so that the generator does not import the
// loader package, which embeds the files the generator makes; gen_test
// checks that the two agree.
const nextHops = 16

// family holds the rules that differ between IPv4 and IPv6.
type family struct {
	name   string // "IPv4"
	file   string // output file name
	source string // input file name
	is4    bool
	// minAggBits is the shortest aggregate the generator adds. Nobody
	// announces shorter than a /8 in IPv4; in IPv6 the largest RIR
	// allocations to networks are around /19, and RIR-level blocks (/12)
	// are not routed.
	minAggBits int
}

var families = []family{
	{name: "IPv4", file: "ipv4.txt.gz", source: "asn-ipv4.csv.xz", is4: true, minAggBits: 8},
	{name: "IPv6", file: "ipv6.txt.gz", source: "asn-ipv6.csv.xz", is4: false, minAggBits: 19},
}

// entry is one route of the generated table.
type entry struct {
	prefix    netip.Prefix
	asn       uint32
	aggregate bool
}

// duplicate records a CIDR block produced by two source rows.
type duplicate struct {
	Prefix              netip.Prefix
	KeptAS, DroppedAS   uint32
	KeptRow, DroppedRow int // 1-based rows of the source file
}

// table is a generated table and the facts about how it was made.
type table struct {
	fam        family
	rows       int
	overlaps   int // rows that start at or before the previous row's end
	blocks     int // CIDR blocks from splitting the rows, before dropping duplicates
	duplicates []duplicate
	base, aggs int
	entries    []entry // sorted by prefix
}

// nextHop maps an origin AS to a next-hop index in [0, nextHops):
// Knuth's multiplicative hash, whose top bits spread the ASNs (and so the
// prefixes, weighted by how many each AS has) more evenly over the indexes
// than asn mod 16 does.
func nextHop(asn uint32) int {
	return int((asn * 2654435761) >> (32 - 4)) // the top log2(nextHops) bits
}

// build derives the table from the source rows:
//
//  1. Base routes: every row is split into the fewest CIDR blocks covering it
//     exactly. A block that an earlier row (in file order) already produced is
//     dropped, so each prefix appears once and has one origin.
//  2. Aggregates: for every row that split into two or more blocks, take the
//     longest prefix covering the whole row. It becomes an aggregate route of
//     the row's AS if it is no shorter than fam.minAggBits, the row fills at
//     least half of it, and no route with that prefix exists yet (rows are
//     taken in file order). This is the route the holder of an allocation
//     announces beside its more-specifics; the addresses of the aggregate
//     outside the row are other networks' more-specifics or unrouted space,
//     both of which a real covering route also spans.
func build(fam family, rows []row) (*table, error) {
	t := &table{fam: fam, rows: len(rows)}
	seen := make(map[netip.Prefix]int)   // prefix → index into t.entries
	origin := make(map[netip.Prefix]int) // base prefix → 1-based source row
	nblocks := make([]int, len(rows))
	for i, r := range rows {
		if i > 0 && r.start.Compare(rows[i-1].end) <= 0 {
			t.overlaps++
		}
		blocks, err := splitRange(r.start, r.end)
		if err != nil {
			return nil, fmt.Errorf("%s row %d: %w", fam.source, i+1, err)
		}
		nblocks[i] = len(blocks)
		t.blocks += len(blocks)
		for _, p := range blocks {
			if j, dup := seen[p]; dup {
				t.duplicates = append(t.duplicates, duplicate{
					Prefix: p, KeptAS: t.entries[j].asn, DroppedAS: r.asn,
					KeptRow: origin[p], DroppedRow: i + 1,
				})
				continue
			}
			seen[p] = len(t.entries)
			origin[p] = i + 1
			t.entries = append(t.entries, entry{prefix: p, asn: r.asn})
		}
	}
	t.base = len(t.entries)
	for i, r := range rows {
		if nblocks[i] < 2 {
			continue
		}
		p, err := coverRange(r.start, r.end)
		if err != nil {
			return nil, err
		}
		if p.Bits() < fam.minAggBits || !fillsHalf(r.start, r.end, p) {
			continue
		}
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = len(t.entries)
		t.entries = append(t.entries, entry{prefix: p, asn: r.asn, aggregate: true})
	}
	t.aggs = len(t.entries) - t.base
	slices.SortFunc(t.entries, func(a, b entry) int { return a.prefix.Compare(b.prefix) })
	return t, nil
}
