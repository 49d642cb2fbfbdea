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
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRoute(strings.Fields(s))
		if err != nil {
			return
		}
		if r.GetPrefix() == "" || len(r.GetPaths()) == 0 {
			t.Fatalf("parseRoute(%q) accepted %v", s, r)
		}
	})
}
