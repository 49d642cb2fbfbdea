// Command gen derives fibd's real route tables (testdata/tables) from the
// RouteViews/NRO/DB-IP address-range data:
//
//	go run ./bench/tables/gen -in ../shared/data/routeviews-asn -out testdata/tables
//
// It reads asn-ipv4.csv.xz and asn-ipv6.csv.xz (decompressed with the xz
// tool), splits every range into CIDR blocks, adds covering aggregates (see
// build), and writes ipv4.txt.gz, ipv6.txt.gz, README.md and the licence
// files. The output depends only on the input: running it twice gives the
// same bytes.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

func main() {
	in := flag.String("in", "", "folder holding asn-ipv4.csv.xz, asn-ipv6.csv.xz, README.md and the licence files")
	out := flag.String("out", "testdata/tables", "folder to write the tables, README.md and licenses/ to")
	flag.Parse()
	if *in == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	reports, err := generate(*in, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for _, r := range reports {
		slog.Info("wrote table", "family", r.Name, "file", filepath.Join(*out, r.File), "rows", r.Rows,
			"blocks", r.Blocks, "duplicates", len(r.Duplicates), "base", r.Base, "aggregates", r.Aggs,
			"routes", r.Total, "covered", pct(r.Covered, r.Total), "maxDepth", r.MaxDepth, "gzBytes", r.GzSize)
	}
}

// generate writes every output file into out and returns what the README
// says about each table.
func generate(in, out string) ([]famReport, error) {
	source, err := sourceVersion(filepath.Join(in, "README.md"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	var reports []famReport
	for _, fam := range families {
		rows, err := readRows(filepath.Join(in, fam.source), fam.is4)
		if err != nil {
			return nil, err
		}
		t, err := build(fam, rows)
		if err != nil {
			return nil, err
		}
		gz, err := encodeTable(t, source)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(out, fam.file), gz, 0o644); err != nil {
			return nil, err
		}
		reports = append(reports, newFamReport(t, len(gz)))
	}
	readme, err := renderReadme(source, reports)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, "README.md"), readme, 0o644); err != nil {
		return nil, err
	}
	if err := copyLicences(in, out); err != nil {
		return nil, err
	}
	return reports, nil
}
