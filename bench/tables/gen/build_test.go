package main

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fibd/fibd/bench/tables"
)

func rowOf(start, end string, asn uint32) row {
	return row{start: netip.MustParseAddr(start), end: netip.MustParseAddr(end), asn: asn}
}

func TestNextHopMatchesFormat(t *testing.T) {
	if nextHops != tables.NextHops {
		t.Fatalf("gen writes %d next hops, the format allows %d", nextHops, tables.NextHops)
	}
	seen := make(map[int]bool)
	for asn := range uint32(100_000) {
		nh := nextHop(asn)
		if nh < 0 || nh >= nextHops {
			t.Fatalf("nextHop(%d) = %d, out of range", asn, nh)
		}
		seen[nh] = true
	}
	if len(seen) != nextHops {
		t.Errorf("nextHop uses %d of %d indexes", len(seen), nextHops)
	}
	// The documented formula: (asn·2654435761 mod 2^32) >> 28.
	// 13335·2654435761 mod 2^32 = 2075386599 → 7; (2^32-1)·… = 1640531535 → 6.
	if nextHop(13335) != 7 || nextHop(^uint32(0)) != 6 {
		t.Errorf("nextHop(13335), nextHop(2^32-1) = %d, %d; want 7, 6", nextHop(13335), nextHop(^uint32(0)))
	}
}

// buildLines builds a table from rows and renders it, marking aggregates.
func buildLines(t *testing.T, fam family, rows []row) (*table, []string) {
	t.Helper()
	tb, err := build(fam, rows)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range tb.entries {
		s := e.line()
		if e.aggregate {
			s += " agg"
		}
		got = append(got, s)
	}
	return tb, got
}

// line renders a route of asn as the table file does.
func line(prefix string, asn uint32) string {
	return prefix + " " + strconv.Itoa(nextHop(asn))
}

func TestBuildV4(t *testing.T) {
	rows := []row{
		// Three blocks filling 54% of 10.0.0.0/17: aggregate.
		rowOf("10.0.0.0", "10.0.68.255", 100),
		// Another AS's /24 inside that aggregate.
		rowOf("10.0.69.0", "10.0.69.255", 200),
		// Two blocks filling a quarter of their cover 10.1.0.0/16: none.
		rowOf("10.1.96.0", "10.1.159.255", 300),
		// Two blocks filling 75% of 11.0.0.0/8: an aggregate as short as allowed.
		rowOf("11.0.0.0", "11.191.255.255", 900),
		// Cover 0.0.0.0/0, shorter than /8: none.
		rowOf("20.0.0.0", "159.255.255.255", 400),
		// Overlaps the row before: 128.0.0.0/3 again, dropped; cover /2: none.
		rowOf("128.0.0.0", "175.255.255.255", 500),
		// One block: never an aggregate.
		rowOf("192.0.2.0", "192.0.2.255", 600),
		rowOf("198.18.0.0", "198.18.255.255", 700),
		// Overlaps the row before; its cover is that row's /16, which exists: none.
		rowOf("198.18.0.0", "198.18.128.255", 800),
	}
	tb, got := buildLines(t, families[0], rows)
	want := []string{
		line("10.0.0.0/17", 100) + " agg",
		line("10.0.0.0/18", 100),
		line("10.0.64.0/22", 100),
		line("10.0.68.0/24", 100),
		line("10.0.69.0/24", 200),
		line("10.1.96.0/19", 300),
		line("10.1.128.0/19", 300),
		line("11.0.0.0/8", 900) + " agg",
		line("11.0.0.0/9", 900),
		line("11.128.0.0/10", 900),
		line("20.0.0.0/6", 400),
		line("24.0.0.0/5", 400),
		line("32.0.0.0/3", 400),
		line("64.0.0.0/2", 400),
		line("128.0.0.0/3", 400),
		line("160.0.0.0/4", 500),
		line("192.0.2.0/24", 600),
		line("198.18.0.0/16", 700),
		line("198.18.0.0/17", 800),
		line("198.18.128.0/24", 800),
	}
	if !slices.Equal(got, want) {
		t.Errorf("build:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if tb.rows != 9 || tb.overlaps != 2 || tb.blocks != 19 || tb.base != 18 || tb.aggs != 2 {
		t.Errorf("counts: rows %d overlaps %d blocks %d base %d aggs %d; want 9 2 19 18 2",
			tb.rows, tb.overlaps, tb.blocks, tb.base, tb.aggs)
	}
	wantDup := []duplicate{{Prefix: netip.MustParsePrefix("128.0.0.0/3"), KeptAS: 400, DroppedAS: 500, KeptRow: 5, DroppedRow: 6}}
	if !slices.Equal(tb.duplicates, wantDup) {
		t.Errorf("duplicates = %+v, want %+v", tb.duplicates, wantDup)
	}
}

func TestBuildV6(t *testing.T) {
	rows := []row{
		// Cover 2001:db8::/44, 13/16 full: aggregate.
		rowOf("2001:db8::", "2001:db8:c:ffff:ffff:ffff:ffff:ffff", 64500),
		// Cover 2400::/15, shorter than /19: none.
		rowOf("2400::", "2401:7fff:ffff:ffff:ffff:ffff:ffff:ffff", 64501),
		// Cover 2a00::/19 exactly at the limit, 3/4 full: aggregate.
		rowOf("2a00::", "2a00:17ff:ffff:ffff:ffff:ffff:ffff:ffff", 64502),
	}
	_, got := buildLines(t, families[1], rows)
	want := []string{
		line("2001:db8::/44", 64500) + " agg",
		line("2001:db8::/45", 64500),
		line("2001:db8:8::/46", 64500),
		line("2001:db8:c::/48", 64500),
		line("2400::/16", 64501),
		line("2401::/17", 64501),
		line("2a00::/19", 64502) + " agg",
		line("2a00::/20", 64502),
		line("2a00:1000::/21", 64502),
	}
	if !slices.Equal(got, want) {
		t.Errorf("build:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func TestComputeStats(t *testing.T) {
	var entries []entry
	for i, s := range []string{
		"10.0.0.0/8", "10.0.0.0/16", "10.0.0.0/24", "10.0.0.128/25", "10.0.1.0/24", "10.1.0.0/16", "11.0.0.0/8",
	} {
		// ASes 1..7, so nextHop decides which nesting changes the next hop.
		entries = append(entries, entry{prefix: netip.MustParsePrefix(s), asn: uint32(i + 1), aggregate: i == 0})
	}
	st := computeStats(entries)
	if !slices.Equal(st.depth, []int{2, 2, 2, 1}) || st.maxDepth != 3 || st.covered != 5 {
		t.Errorf("depth %v max %d covered %d; want [2 2 2 1] 3 5", st.depth, st.maxDepth, st.covered)
	}
	parents := map[int]int{2: 1, 3: 2, 4: 3, 5: 2, 6: 1} // asn → asn of its closest cover
	wantNH := 0
	for asn, parent := range parents {
		if nextHop(uint32(asn)) != nextHop(uint32(parent)) {
			wantNH++
		}
	}
	if st.coveredNH != wantNH {
		t.Errorf("coveredNH = %d, want %d", st.coveredNH, wantNH)
	}
	if h := st.hist[8]; h != [2]int{1, 1} {
		t.Errorf("hist[8] = %v, want [1 1] (one base, one aggregate)", h)
	}
	if h := st.hist[24]; h != [2]int{2, 0} {
		t.Errorf("hist[24] = %v, want [2 0]", h)
	}
}
