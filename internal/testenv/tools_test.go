package testenv

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// execCall matches the ways the project runs an external command with a
// literal name: exec.Command("ip", …), ns.Exec("ping", …), ns.Try(…),
// ns.Command(…), netnstest.Run(t, "ip", …).
var execCall = regexp.MustCompile(`(?:exec\.Command(?:Context)?\((?:[a-zA-Z.]+, )?|\.(?:Exec|Try|Command)\(|\bRun\((?:t|tb|s|d|ts|b), )"([a-z][a-z0-9_.-]*)"`)

// toolLists matches the lists of commands a test or the demo checks before
// it starts: RequireTool(t, "ping", "curl"), needTools(t, …), and
// `for _, tool := range []string{"ip", "ping"}`.
var toolLists = regexp.MustCompile(`(?:RequireTool\(t, |needTools\(t, |tool := range \[\]string\{)((?:"[a-z0-9_.-]+"(?:, )?)+)`)
var quoted = regexp.MustCompile(`"([a-z0-9_.-]+)"`)

// TestToolsListed keeps tools.txt honest: every command the code runs by a
// literal name is listed (and so installed and checked by make deps).
func TestToolsListed(t *testing.T) {
	root := filepath.Join("..", "..")
	listed := Tools()
	seen := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "testenv") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range execCall.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]] = path
		}
		for _, m := range toolLists.FindAllStringSubmatch(string(b), -1) {
			for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
				seen[q[1]] = path
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 5 {
		t.Fatalf("found only %d commands (%v): the pattern no longer matches the code", len(seen), seen)
	}
	for cmd, path := range seen {
		if cmd == "go" {
			continue // Go comes from the PATH, not from Debian
		}
		if _, ok := listed[cmd]; !ok {
			t.Errorf("%s runs %q, which internal/testenv/tools.txt does not list", path, cmd)
		}
	}
	t.Logf("commands run by the code: %v", seen)
}

func TestAllowList(t *testing.T) {
	if !Allowed("TestHelperProcessHoldXDP") || !Allowed("TestHelperProcessHoldXDP/sub") {
		t.Error("a listed test is not allowed")
	}
	if Allowed("TestTwoCustomersXDP") {
		t.Error("an unlisted test is allowed")
	}
	for name, reason := range AllowedSkips() {
		if !strings.HasPrefix(name, "Test") || len(reason) < 20 {
			t.Errorf("skips.txt: %q needs a test name and a reason (%q)", name, reason)
		}
	}
}

// fakeTB records what a helper did; Skip and Fatalf end the calling
// goroutine as the testing package's do.
type fakeTB struct {
	name            string
	skipped, failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Name() string          { return f.name }
func (f *fakeTB) Skip(...any)           { f.skipped = true; runtime.Goexit() }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true; runtime.Goexit() }

// call runs fn on its own goroutine, as a test body runs.
func call(fn func()) {
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	<-done
}

func TestMissingFailsUnderCI(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		for _, name := range []string{"TestX", "TestHelperProcessHoldXDP"} {
			f := &fakeTB{name: name}
			call(func() { Missing(f, "needs something") })
			if want := ci == "true"; f.failed != want || f.skipped == want {
				t.Errorf("CI=%q %s: Missing failed=%v skipped=%v", ci, name, f.failed, f.skipped)
			}
			g := &fakeTB{name: name}
			call(func() { Skip(g, "by design") })
			wantFail := ci == "true" && name == "TestX"
			if g.failed != wantFail || g.skipped == wantFail {
				t.Errorf("CI=%q %s: Skip failed=%v skipped=%v", ci, name, g.failed, g.skipped)
			}
		}
	}
}
