package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFeedUnitsParse: the feed units' command lines name real flags
// (fibctl parses each with --help appended, which fails on an unknown one).
func TestFeedUnitsParse(t *testing.T) {
	_, fibctl := binaries(t)
	for _, unit := range []string{"fibd-feed-fpm@.service", "fibd-feed-gobgp@.service"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "contrib", "systemd", unit))
		if err != nil {
			t.Fatal(err)
		}
		var exe string
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
				exe = strings.ReplaceAll(v, "%i", "10")
			}
		}
		f := strings.Fields(exe)
		if len(f) < 2 || f[0] != "/usr/local/bin/fibctl" {
			t.Fatalf("%s: ExecStart %q", unit, exe)
		}
		// The inner command, after exec's "--".
		i := strings.Index(exe, " -- ")
		inner := strings.Fields(exe[i+4:])
		for _, args := range [][]string{outer(f[1:]), inner[1:]} {
			out, err := exec.Command(fibctl, append(args, "--help")...).CombinedOutput()
			if err != nil {
				t.Errorf("%s: fibctl %s --help: %v\n%s", unit, strings.Join(args, " "), err, out)
			}
		}
	}
}

// outer is exec's own arguments: up to the "--".
func outer(args []string) []string {
	for i, a := range args {
		if a == "--" {
			return args[:i]
		}
	}
	return args
}
