package tables

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics, that every route it yields is
// canonical and in range, and that a route written back with AppendTo
// parses to the same route, alone and as a whole table.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		goodInput,
		"1.0.0.0/24 5\n",
		"2001:db8::/32 15\r\n",
		"# c\n\n\t::/0\t0\n",
		"1.0.0.1/24 5\n",
		"1.0.0.0/24 16\n",
		"1.0.0.0/24 5 x\n",
		"::ffff:1.2.3.0/120 1\n",
		"fe80::%eth0/64 1\n",
		"1.0.0.0/24\n",
		"1.0.0.0/024 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Add(gz(f, []byte(goodInput)))
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, in []byte) {
		var rs []Route
		err := Parse(bytes.NewReader(in), func(r Route) error {
			if !r.Prefix.IsValid() || r.Prefix.Masked() != r.Prefix || r.NextHop < 0 || r.NextHop >= NextHops {
				t.Fatalf("Parse yielded a bad route %#v from %q", r, in)
			}
			line := r.AppendTo(nil)
			var back []Route
			if err := Parse(bytes.NewReader(line), func(r Route) error { back = append(back, r); return nil }); err != nil ||
				len(back) != 1 || back[0] != r {
				t.Fatalf("route %v → %q → %v, %v", r, line, back, err)
			}
			rs = append(rs, r)
			return nil
		})
		if err != nil {
			return
		}
		var text []byte
		for _, r := range rs {
			text = append(r.AppendTo(text), '\n')
		}
		back, err := parseAll(t, text)
		if err != nil || !slices.Equal(back, rs) {
			t.Fatalf("table %v re-serialised as %q parsed to %v, %v", rs, text, back, err)
		}
	})
}
