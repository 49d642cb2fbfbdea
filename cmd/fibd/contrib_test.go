package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestManPageAndUnitNameRealFlags: every flag fibd has is in fibd.8, and
// every flag the systemd unit passes is one fibd has — so neither drifts.
func TestManPageAndUnitNameRealFlags(t *testing.T) {
	man, err := os.ReadFile("../../contrib/man/fibd.8")
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile("../../contrib/systemd/fibd.service")
	if err != nil {
		t.Fatal(err)
	}
	fs := newFlagSet(new(flags))
	known := map[string]bool{}
	fs.VisitAll(func(f *flagInfo) {
		known[f.Name] = true
		if !strings.Contains(string(man), `\-\-`+strings.ReplaceAll(f.Name, "-", `\-`)) {
			t.Errorf("fibd.8 does not describe --%s", f.Name)
		}
	})
	for _, m := range regexp.MustCompile(`fibd (--[a-z-]+)`).FindAllStringSubmatch(string(unit), -1) {
		if !known[strings.TrimPrefix(m[1], "--")] {
			t.Errorf("the unit passes %s, which fibd does not have", m[1])
		}
	}
	for _, m := range regexp.MustCompile(` (--[a-z-]+) /`).FindAllStringSubmatch(string(unit), -1) {
		if !known[strings.TrimPrefix(m[1], "--")] {
			t.Errorf("the unit passes %s, which fibd does not have", m[1])
		}
	}
}
