package main

import (
	"bytes"
	"github.com/fibd/fibd/internal/race"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/internal/testenv"
)

func TestParseRows(t *testing.T) {
	in := `1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."
1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd
`
	rows, err := parseRows(strings.NewReader(in), "x.csv", true)
	if err != nil {
		t.Fatal(err)
	}
	want := []row{rowOf("1.0.0.0", "1.0.0.255", 13335), rowOf("1.0.4.0", "1.0.7.255", 38803)}
	if len(rows) != 2 || rows[0] != want[0] || rows[1] != want[1] {
		t.Errorf("parseRows = %v, want %v", rows, want)
	}
	for _, tt := range []struct{ in, want string }{
		{"1.0.0.0,1.0.0.255,13335\n", "line 1"},                         // too few fields
		{"1.0.0.0,1.0.0.255,13335,a\n1.0.1.0,1.0.1.x,1,b\n", "x.csv:2"}, // bad address
		{"1.0.0.0,1.0.0.255,-1,a\n", "x.csv:1"},                         // bad ASN
		{"1.0.0.0,1.0.0.255,4294967296,a\n", "x.csv:1"},                 // ASN over 32 bits
		{"2001:db8::,2001:db8::ff,1,a\n", "wrong address family"},
	} {
		if _, err := parseRows(strings.NewReader(tt.in), "x.csv", true); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseRows(%q) = %v, want an error with %q", tt.in, err, tt.want)
		}
	}
}

func TestSourceVersion(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "README.md")
	os.WriteFile(p, []byte("published in\nthe npm package `@ip-location-db/asn` version 2.3.2026061719.\n"), 0o644)
	if v, err := sourceVersion(p); err != nil || v != "@ip-location-db/asn 2.3.2026061719" {
		t.Errorf("sourceVersion = %q, %v", v, err)
	}
	os.WriteFile(p, []byte("no version here\n"), 0o644)
	if _, err := sourceVersion(p); err == nil {
		t.Error("sourceVersion found a version in a README without one")
	}
}

// sourceDir finds the RouteViews data: $FIBD_ROUTEVIEWS_DIR, or
// shared/data/routeviews-asn in a folder above the module root (the shared
// folder sits beside the repository on developer machines and in CI).
func sourceDir(t *testing.T) string {
	if d := os.Getenv("FIBD_ROUTEVIEWS_DIR"); d != "" {
		return d
	}
	dir, err := filepath.Abs("../../..") // the module root
	if err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "shared", "data", "routeviews-asn")
		if _, err := os.Stat(filepath.Join(cand, "asn-ipv4.csv.xz")); err == nil {
			return cand
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}

// TestGenerateReproduces regenerates the tables and checks that every file
// matches testdata/tables byte for byte, so the committed files are exactly
// what the documented command makes.
func TestGenerateReproduces(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "regenerating the tables takes seconds; skipped with -short")
	}
	if race.Enabled {
		testenv.Skip(t, "regeneration is single-threaded and 10× slower under -race; make unit runs it without")
	}
	in := sourceDir(t)
	if in == "" {
		testenv.Missing(t, "source data not found: set FIBD_ROUTEVIEWS_DIR to the routeviews-asn folder "+
			"(make test sets it to ../shared/data/routeviews-asn beside the clone)")
	}
	out := t.TempDir()
	if _, err := generate(in, out); err != nil {
		t.Fatal(err)
	}
	committed := "../../../testdata/tables"
	names := []string{"ipv4.txt.gz", "ipv6.txt.gz", "README.md"}
	for _, l := range licenceFiles {
		names = append(names, filepath.Join("licenses", l))
	}
	for _, name := range names {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(committed, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the committed file: regenerate it (see testdata/tables/README.md); "+
				"if only the .gz bytes differ, a new Go release may have changed compress/flate", name)
		}
	}
	// What the generator writes, the loader reads.
	for _, f := range []string{"ipv4.txt.gz", "ipv6.txt.gz"} {
		n := 0
		if err := tables.ParseFile(filepath.Join(out, f), func(tables.Route) error { n++; return nil }); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if n == 0 {
			t.Errorf("%s: no routes", f)
		}
	}
}
