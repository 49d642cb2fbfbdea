package tables

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func parseAll(t *testing.T, in []byte) ([]Route, error) {
	t.Helper()
	var rs []Route
	err := Parse(bytes.NewReader(in), func(r Route) error {
		rs = append(rs, r)
		return nil
	})
	return rs, err
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func route(p string, nh int) Route { return Route{Prefix: netip.MustParsePrefix(p), NextHop: nh} }

const goodInput = "# a table\n" +
	"1.0.0.0/24 5\n" +
	"\n" +
	"   # indented comment\n" +
	"\t10.0.0.0/8\t0\t\n" +
	"0.0.0.0/0 15\r\n" +
	"2001:db8::/32   07\n" +
	"::/0 1\n" +
	"255.255.255.255/32 3" // no final newline

var goodRoutes = []Route{
	route("1.0.0.0/24", 5),
	route("10.0.0.0/8", 0),
	route("0.0.0.0/0", 15),
	route("2001:db8::/32", 7),
	route("::/0", 1),
	route("255.255.255.255/32", 3),
}

func TestParsePlainAndGzip(t *testing.T) {
	for name, in := range map[string][]byte{
		"plain": []byte(goodInput),
		"gzip":  gz(t, []byte(goodInput)),
	} {
		got, err := parseAll(t, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got, goodRoutes) {
			t.Errorf("%s: got %v, want %v", name, got, goodRoutes)
		}
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "#", "# only a comment", " \t\r\n"} {
		got, err := parseAll(t, []byte(in))
		if err != nil || len(got) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want no routes, no error", in, got, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct {
		in   string
		line int
		want error
		msg  string
	}{
		{"1.0.0.0/24 5\n1.0.0.1/24 5\n", 2, ErrHostBits, "host bits set in 1.0.0.1/24 (the network is 1.0.0.0/24)"},
		{"2001:db8::1/32 0\n", 1, ErrHostBits, ""},
		{"1.0.0.0 5\n", 1, ErrBadPrefix, `no '/'`},
		{"1.0.0/24 5\n", 1, ErrBadPrefix, ""},
		{"1.0.0.0/33 5\n", 1, ErrBadPrefix, "prefix length out of range"},
		{"1.0.0.0/024 5\n", 1, ErrBadPrefix, ""},
		{"fe80::%eth0/64 1\n", 1, ErrBadPrefix, "zones"},
		{"# c\n\n1.0.0.0/24\n", 3, ErrMissingNextHop, ""},
		{"1.0.0.0/24 16\n", 1, ErrBadNextHop, `"16": want an integer in [0, 16)`},
		{"1.0.0.0/24 -1\n", 1, ErrBadNextHop, ""},
		{"1.0.0.0/24 +1\n", 1, ErrBadNextHop, ""},
		{"1.0.0.0/24 0x1\n", 1, ErrBadNextHop, ""},
		{"1.0.0.0/24 99999999999999999999999\n", 1, ErrBadNextHop, ""},
		{"1.0.0.0/24 5 extra\n", 1, ErrExtraField, `"extra"`},
		{"1.0.0.0/24 5 # trailing comment\n", 1, ErrExtraField, ""},
		{"1.0.0.0/24 5\n" + strings.Repeat("#", MaxLineLen+10) + "\n", 2, ErrLineTooLong, ""},
	} {
		_, err := parseAll(t, []byte(tt.in))
		pe, ok := errors.AsType[*ParseError](err)
		if !ok || !errors.Is(err, tt.want) || pe.Line != tt.line || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Parse(%.40q) = %v; want a ParseError at line %d wrapping %v with %q", tt.in, err, tt.line, tt.want, tt.msg)
		}
		// The same error from gzip input, at the same line.
		_, zerr := parseAll(t, gz(t, []byte(tt.in)))
		if zerr == nil || zerr.Error() != err.Error() {
			t.Errorf("gzip Parse(%.40q) = %v, plain gave %v", tt.in, zerr, err)
		}
	}
}

func TestParseErrorMessageOutlivesBuffer(t *testing.T) {
	// The bad prefix is parsed from a view of the read buffer; the error
	// must hold a copy, not the buffer that later reads overwrite.
	_, err := parseAll(t, []byte("1.2.3/24 1\n"))
	if err == nil || !strings.Contains(err.Error(), `"1.2.3/24"`) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	// Reuse the bufio pool's memory by parsing something else.
	parseAll(t, []byte(strings.Repeat("9.9.9.0/24 9\n", 1000)))
	if err.Error() != msg {
		t.Errorf("error changed after more parsing: %q → %q", msg, err.Error())
	}
}

func TestParseCorruptGzip(t *testing.T) {
	z := gz(t, []byte(strings.Repeat("1.0.0.0/24 5\n", 10000)))
	z[len(z)/2] ^= 0xff
	_, err := parseAll(t, z)
	if _, ok := errors.AsType[*ParseError](err); !ok {
		t.Errorf("corrupt gzip: err = %v, want a ParseError", err)
	}
	_, err = parseAll(t, []byte{0x1f, 0x8b, 0})
	if _, ok := errors.AsType[*ParseError](err); !ok || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("truncated gzip header: err = %v", err)
	}
}

func TestParseCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Parse(strings.NewReader(goodInput), func(Route) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	pe, ok := errors.AsType[*ParseError](err)
	if !errors.Is(err, stop) || !ok || pe.Line != 5 || n != 2 {
		t.Errorf("err = %v after %d routes; want stop at line 5 after 2", err, n)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	err := Parse(io.MultiReader(strings.NewReader("1.0.0.0/24 1\n1.0.1"), errReader{boom}), func(Route) error { return nil })
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
}

func TestParseFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt.gz")
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(good, gz(t, []byte(goodInput)), 0o644)
	os.WriteFile(bad, []byte("1.0.0.0/24 1\n1.0.0.0/24 x\n"), 0o644)
	var got []Route
	if err := ParseFile(good, func(r Route) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, goodRoutes) {
		t.Errorf("got %v", got)
	}
	err := ParseFile(bad, func(Route) error { return nil })
	if want := "tables: " + bad + ":2: bad next-hop index"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want prefix %q", err, want)
	}
	if err := ParseFile(filepath.Join(dir, "missing"), func(Route) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestRouteString(t *testing.T) {
	for _, r := range goodRoutes {
		got, err := parseAll(t, []byte(r.String()))
		if err != nil || len(got) != 1 || got[0] != r {
			t.Errorf("%v → %q → %v, %v", r, r.String(), got, err)
		}
	}
	if s := route("1.0.0.0/24", 5).String(); s != "1.0.0.0/24 5" {
		t.Errorf("String = %q", s)
	}
}

func TestParseLineNoAllocs(t *testing.T) {
	for _, line := range []string{"1.0.0.0/24 5\n", "2001:db8:1234::/48 15\n", "# comment\n", "\n"} {
		b := []byte(line)
		if n := testing.AllocsPerRun(100, func() {
			if _, _, err := parseLine(b); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("parseLine(%q): %v allocs, want 0", line, n)
		}
	}
}

// TestParseAllocsDoNotGrowWithLines checks that the per-call buffers are all
// Parse allocates: ten times the lines, the same allocations.
func TestParseAllocsDoNotGrowWithLines(t *testing.T) {
	small := gz(t, []byte(strings.Repeat("1.0.0.0/24 5\n2001:db8::/32 1\n", 100)))
	large := gz(t, []byte(strings.Repeat("1.0.0.0/24 5\n2001:db8::/32 1\n", 1000)))
	count := func(in []byte) float64 {
		return testing.AllocsPerRun(20, func() {
			if err := Parse(bytes.NewReader(in), func(Route) error { return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
	if s, l := count(small), count(large); l > s {
		t.Errorf("allocations grow with lines: %v for 200 lines, %v for 2000", s, l)
	}
}
