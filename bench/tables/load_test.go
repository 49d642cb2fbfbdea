package tables

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The route counts of the shipped tables (testdata/tables/README.md).
const (
	wantV4Routes = 615_151 // 564,579 base + 50,572 aggregates
	wantV6Routes = 178_959 // 167,903 base + 11,056 aggregates
)

func TestLoadedTables(t *testing.T) {
	for _, tt := range []struct {
		name string
		load func() ([]Route, error)
		want int
		is4  bool
	}{
		{"v4", LoadV4, wantV4Routes, true},
		{"v6", LoadV6, wantV6Routes, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := tt.load()
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != tt.want {
				t.Fatalf("%d routes, want %d", len(rs), tt.want)
			}
			nh := make([]int, NextHops)
			for i, r := range rs {
				if r.Prefix.Masked() != r.Prefix || r.Prefix.Addr().Is4() != tt.is4 || r.Prefix.Addr().Is4In6() {
					t.Fatalf("route %d: %v is not a canonical %s prefix", i, r, tt.name)
				}
				if i > 0 && rs[i-1].Prefix.Compare(r.Prefix) >= 0 {
					t.Fatalf("routes %d and %d out of order or repeated: %v, %v", i-1, i, rs[i-1], r)
				}
				nh[r.NextHop]++ // panics if out of range
			}
			for i, n := range nh {
				if n < len(rs)/NextHops/2 {
					t.Errorf("next hop %d has %d routes: the ASN hash spreads badly", i, n)
				}
			}
		})
	}
}

func TestLoadedTablesKnownRoutes(t *testing.T) {
	v4, err := LoadV4()
	if err != nil {
		t.Fatal(err)
	}
	v6, err := LoadV6()
	if err != nil {
		t.Fatal(err)
	}
	// The first rows of the source: 1.0.0.0/24 is AS13335 (Cloudflare),
	// 1.0.128.0/17 the aggregate of TOT's 1.0.128.0-1.0.196.255.
	for _, want := range []Route{route("1.0.0.0/24", 7), route("1.0.128.0/17", 10), route("1.0.128.0/18", 10)} {
		if !containsRoute(v4, want) {
			t.Errorf("v4 table lacks %v", want)
		}
	}
	if v6[0] != route("2001::/32", 8) {
		t.Errorf("v6 table starts with %v", v6[0])
	}
	// The duplicate block of the source is there once, with the first row's AS.
	if !containsRoute(v4, route("215.0.0.0/16", 14)) {
		t.Errorf("v4 table lacks 215.0.0.0/16 14 (AS749)")
	}
}

func containsRoute(rs []Route, want Route) bool {
	for _, r := range rs {
		if r == want {
			return true
		}
	}
	return false
}

func TestLoadReturnsCopies(t *testing.T) {
	a, err := LoadV4()
	if err != nil {
		t.Fatal(err)
	}
	first := a[0]
	a[0] = Route{}
	b, _ := LoadV4()
	if b[0] != first {
		t.Errorf("a caller's change leaked into the cache: %v", b[0])
	}
}

var readmeRoutes = regexp.MustCompile(`\| routes in the file \| ([0-9,]+) \| ([0-9,]+) \|`)

func TestCountsMatchReadme(t *testing.T) {
	b, err := os.ReadFile("../../testdata/tables/README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := readmeRoutes.FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no 'routes in the file' row")
	}
	for i, want := range []int{wantV4Routes, wantV6Routes} {
		got, err := strconv.Atoi(strings.ReplaceAll(string(m[i+1]), ",", ""))
		if err != nil || got != want {
			t.Errorf("README says %s routes, the test wants %d", m[i+1], want)
		}
	}
}
