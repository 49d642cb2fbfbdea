package main

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"text/template"
)

// licenceFiles are copied from the source folder beside the tables: CC BY 4.0
// asks that the attribution and the licence notices travel with the data.
var licenceFiles = []string{"ROUTEVIEWS-LICENSE", "NRO_LICENSE", "DBIP-LICENSE", "MODIFICATIONS"}

// encodeTable renders t in the table format and gzips it at level 9 with an
// empty header (no name, no modification time), so the same input gives the
// same bytes on every run.
func encodeTable(t *table, source string) ([]byte, error) {
	var text bytes.Buffer
	fmt.Fprintf(&text, "# fibd route table: %s, %s routes (%s from address ranges + %s covering aggregates).\n",
		t.fam.name, comma(len(t.entries)), comma(t.base), comma(t.aggs))
	fmt.Fprintf(&text, "# Source: %s (RouteViews routeviews.org, NRO nro.net, DB-IP db-ip.com), CC BY 4.0\n", source)
	fmt.Fprintf(&text, "# https://creativecommons.org/licenses/by/4.0/ - modified: see README.md. Made by bench/tables/gen.\n")
	fmt.Fprintf(&text, "# Format: prefix nexthop-index (0-%d), sorted by address, then prefix length.\n", nextHops-1)
	line := make([]byte, 0, 64)
	for _, e := range t.entries {
		line = append(e.appendLine(line[:0]), '\n')
		text.Write(line)
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(text.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return gz.Bytes(), nil
}

// appendLine appends e in the table format, without a newline.
func (e entry) appendLine(b []byte) []byte {
	b = e.prefix.AppendTo(b)
	b = append(b, ' ')
	return strconv.AppendInt(b, int64(nextHop(e.asn)), 10)
}

func (e entry) line() string { return string(e.appendLine(nil)) }

//go:embed readme.tmpl
var readmeTmpl string

// famReport is what the README says about one family.
type famReport struct {
	Name, File, Source                  string
	MinAggBits                          int
	Rows, Overlaps, Blocks, Base, Aggs  int
	Total, Covered, CoveredNH, MaxDepth int
	GzSize                              int
	Duplicates                          []duplicate
	Hist                                []histRow
	Depth                               []int
	NextHops                            []int
	Sample                              []string // the first routes, for the format example
}

type histRow struct {
	Bits, Base, Aggs, Total int
}

func newFamReport(t *table, gzSize int) famReport {
	st := computeStats(t.entries)
	r := famReport{
		Name: t.fam.name, File: t.fam.file, Source: t.fam.source, MinAggBits: t.fam.minAggBits,
		Rows: t.rows, Overlaps: t.overlaps, Blocks: t.blocks, Base: t.base, Aggs: t.aggs,
		Total: len(t.entries), Covered: st.covered, CoveredNH: st.coveredNH, MaxDepth: st.maxDepth,
		GzSize: gzSize, Duplicates: t.duplicates, Depth: st.depth, NextHops: st.nextHops[:],
	}
	for _, e := range t.entries[:min(2, len(t.entries))] {
		r.Sample = append(r.Sample, e.line())
	}
	for _, bits := range slices.Sorted(maps.Keys(st.hist)) {
		h := st.hist[bits]
		r.Hist = append(r.Hist, histRow{Bits: bits, Base: h[0], Aggs: h[1], Total: h[0] + h[1]})
	}
	return r
}

func renderReadme(source string, fams []famReport) ([]byte, error) {
	tmpl, err := template.New("README").Funcs(template.FuncMap{
		"comma": comma,
		"pct":   pct,
		// maxlen returns a slice as long as the longer of a and b, to range over both.
		"maxlen": func(a, b []int) []struct{} { return make([]struct{}, max(len(a), len(b))) },
		// at returns s[i], or 0 past its end.
		"at": func(s []int, i int) int {
			if i < len(s) {
				return s[i]
			}
			return 0
		},
	}).Parse(readmeTmpl)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = tmpl.Execute(&b, struct {
		Source   string
		NextHops int
		Licences []string
		V4, V6   famReport
	}{source, nextHops, licenceFiles, fams[0], fams[1]})
	return b.Bytes(), err
}

func copyLicences(in, out string) error {
	if err := os.MkdirAll(filepath.Join(out, "licenses"), 0o755); err != nil {
		return err
	}
	for _, name := range licenceFiles {
		b, err := os.ReadFile(filepath.Join(in, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "licenses", name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// comma formats n with thousands separators: 564579 → "564,579".
func comma(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// pct formats part/whole as a percentage with one decimal.
func pct(part, whole int) string {
	if whole == 0 {
		return "0.0%"
	}
	return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 1, 64) + "%"
}
