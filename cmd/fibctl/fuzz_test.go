package main

import (
	"strings"
	"testing"
)

// FuzzParseRoute: route arguments never panic the parser, and an accepted
// route has a prefix and at least one path.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{
		"198.51.100.0/24 via 192.0.2.2",
		"198.51.100.0/24 via 192.0.2.2 dev eth1.100 weight 3 via 192.0.2.3",
		"blackhole 198.18.0.0/15",
		"0.0.0.0/0 lookup 20",
		"192.0.2.0/24 dev eth1",
		"via dev weight",
		"default via 2001:db8::1 metric 5 table 10",
		"192.0.2.7 blackhole table customer-a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := parseRoute(strings.Fields(s))
		if err != nil {
			return
		}
		r := spec.route
		if r.GetPrefix() == "" || len(r.GetPaths()) == 0 {
			t.Fatalf("parseRoute(%q) accepted %v", s, r)
		}
		// Whatever it accepted, it accepts again as it would print it.
		if _, err := parseRoute(append([]string{r.GetPrefix()}, strings.Fields(pathsString(r.GetPaths()))...)); err != nil &&
			!strings.Contains(pathsString(r.GetPaths()), ",") {
			t.Fatalf("parseRoute(%q) = %v, but its own rendering does not parse: %v", s, r, err)
		}
	})
}
