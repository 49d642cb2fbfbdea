package tables

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/fibd/fibd"
)

func embeddedBytes(b *testing.B, name string) []byte {
	b.Helper()
	data, err := fibd.Tables.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// benchParse parses in once per iteration and reports routes per second.
func benchParse(b *testing.B, in []byte) {
	n := 0
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		n = 0
		if err := Parse(bytes.NewReader(in), func(Route) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "routes/s")
}

// BenchmarkParseV4 is what LoadV4 costs the first time: gunzip and parse.
func BenchmarkParseV4(b *testing.B) {
	benchParse(b, embeddedBytes(b, V4File))
}

// BenchmarkParseV4Text is the parser alone, on the decompressed table.
func BenchmarkParseV4Text(b *testing.B) {
	zr, err := gzip.NewReader(bytes.NewReader(embeddedBytes(b, V4File)))
	if err != nil {
		b.Fatal(err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	benchParse(b, text)
}

// BenchmarkLoadV4Cached is a repeated LoadV4: a copy of the cached table.
func BenchmarkLoadV4Cached(b *testing.B) {
	if _, err := LoadV4(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := LoadV4(); err != nil {
			b.Fatal(err)
		}
	}
}
