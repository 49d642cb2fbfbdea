// Package testenv decides what a test does when its environment lacks
// something it needs: a tool, root, a kernel feature, source data.
//
// On a developer's machine such a test skips and says why. In CI
// (CI=true in the environment, which .ci/run exports) it fails instead,
// naming what is missing: a green CI run must mean the tests ran, not that
// they found nothing to run on. The few skips that are part of the design
// — helper processes that only do something when a test re-executes the
// binary, tests that `make unit` runs a second time without the race
// detector — are listed, each with its reason, in skips.txt; a listed
// test skips in CI as anywhere else.
//
// tools.txt names every external command the tests, the benchmarks and
// the demo run, with the Debian package that provides it. `make deps`
// installs those packages and then checks each command is on the PATH;
// RequireTool names the package when one is missing.
package testenv

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

//go:embed skips.txt
var skipsText string

//go:embed tools.txt
var toolsText string

// TB is the part of testing.TB the helpers use.
type TB interface {
	Helper()
	Name() string
	Skip(args ...any)
	Fatalf(format string, args ...any)
}

// CI reports whether the process runs under CI (CI=true), where a missing
// requirement fails a test instead of skipping it.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing skips t because something it needs is missing (reason says
// what). Under CI it fails t instead, whatever the test: a requirement
// that CI lacks is a broken CI, never an allowed skip.
func Missing(t TB, reason string) {
	t.Helper()
	if CI() {
		t.Fatalf("CI=true and this test cannot run: %s", reason)
	}
	t.Skip(reason)
}

// Partial is for a test that can run without something but then leaves a
// part out (the kernel baseline without root, say): it reports whether
// the part can run. Without it the test logs reason and goes on; under CI
// it fails, as Missing does.
func Partial(t interface {
	TB
	Logf(format string, args ...any)
}, have bool, reason string) bool {
	t.Helper()
	if have {
		return true
	}
	if CI() {
		t.Fatalf("CI=true and part of this test cannot run: %s", reason)
	}
	t.Logf("leaving part of the test out: %s", reason)
	return false
}

// Skip is a skip by design (a helper process not re-executed, a test that
// another run covers). Under CI it fails t unless t's top-level test is on
// the allow-list (skips.txt), which gives each one's reason.
func Skip(t TB, reason string) {
	t.Helper()
	if CI() && !Allowed(t.Name()) {
		t.Fatalf("CI=true: %s (a test may not skip in CI unless internal/testenv/skips.txt lists it)", reason)
	}
	t.Skip(reason)
}

// RequireRoot skips (fails under CI) unless the process runs as root.
func RequireRoot(t TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root: "+why)
	}
}

// RequireTool skips (fails under CI) unless each named command is on the
// PATH, naming the Debian package that provides a missing one.
func RequireTool(t TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			Missing(t, fmt.Sprintf("needs %s (Debian package %s; make deps installs it)", tool, Package(tool)))
		}
	}
}

// Allowed reports whether the test named name (a top-level test or one of
// its subtests) may skip under CI.
func Allowed(name string) bool {
	top, _, _ := strings.Cut(name, "/")
	_, ok := allowList()[top]
	return ok
}

// AllowedSkips returns the allow-list: test name → reason.
func AllowedSkips() map[string]string {
	m := allowList()
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Package returns the Debian package that provides the command tool, as
// tools.txt lists it, or "?" if it is not listed.
func Package(tool string) string {
	for _, l := range lines(toolsText) {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == tool {
			return f[1]
		}
	}
	return "?"
}

// Tools returns every listed command with its package.
func Tools() map[string]string {
	out := make(map[string]string)
	for _, l := range lines(toolsText) {
		if f := strings.Fields(l); len(f) >= 2 {
			out[f[0]] = f[1]
		}
	}
	return out
}

var allowList = sync.OnceValue(func() map[string]string {
	m := make(map[string]string)
	for _, l := range lines(skipsText) {
		name, reason, _ := strings.Cut(l, " ")
		m[name] = strings.TrimSpace(reason)
	}
	return m
})

// lines returns the non-empty lines of s that are not comments.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}
