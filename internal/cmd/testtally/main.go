// Command testtally runs `go test -json …`, prints what a person needs from
// it — each package's result line, and the whole output of every test that
// failed or skipped —, and appends one line per finished test to a tally
// file, so that `make test` can end with one line counting what ran and
// what skipped across all its go test runs.
//
//	testtally -tally FILE -- go test -json -race ./...
//	testtally -tally FILE -summary
//
// Under CI=true it also fails the run when a test skipped that
// internal/testenv/skips.txt does not allow: a second net under
// testenv.Skip and testenv.Missing, for skips that do not go through them
// (a library's t.Skip, a forgotten one).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/fibd/fibd/internal/testenv"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	tally := flag.String("tally", "", "file to append one line per finished test to")
	summary := flag.Bool("summary", false, "print the totals of the tally file and exit")
	flag.Parse()
	if *tally == "" {
		fmt.Fprintln(os.Stderr, "testtally: -tally FILE is required")
		os.Exit(2)
	}
	if *summary {
		os.Exit(printSummary(*tally))
	}
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: testtally -tally FILE -- go test -json …")
		os.Exit(2)
	}
	os.Exit(run(*tally, args))
}

func run(tallyPath string, args []string) int {
	out, err := os.OpenFile(tallyPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testtally:", err)
		return 2
	}
	defer out.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testtally:", err)
		return 2
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testtally:", err)
		return 2
	}
	bad := follow(stdout, os.Stdout, out)
	err = cmd.Wait()
	code := 0
	if err != nil {
		code = 1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	if len(bad) > 0 {
		fmt.Printf("CI=true: these tests skipped but internal/testenv/skips.txt does not allow it:\n  %s\n", strings.Join(bad, "\n  "))
		if code == 0 {
			code = 1
		}
	}
	return code
}

// follow reads test2json events from r, writes the human-readable parts to
// w and the tally lines to tally, and returns the tests that skipped
// without being allowed to (under CI only).
func follow(r io.Reader, w io.Writer, tally io.Writer) (bad []string) {
	buffered := map[string][]string{} // package + test → its output so far
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if json.Unmarshal(line, &ev) != nil || ev.Action == "" {
			fmt.Fprintf(w, "%s\n", line) // not an event: a build error, say
			continue
		}
		key := ev.Package + " " + ev.Test
		switch ev.Action {
		case "output":
			if ev.Test == "" {
				// Package level: "ok  pkg 1.2s", "FAIL", build output,
				// a panic outside a test.
				if !strings.HasPrefix(ev.Output, "=== ") && !strings.HasPrefix(ev.Output, "PASS") {
					fmt.Fprint(w, ev.Output)
				}
				continue
			}
			buffered[key] = append(buffered[key], ev.Output)
		case "run":
			// test2json reports a benchmark's start but not its pass:
			// count benchmarks when they start, and their failures and
			// skips as they come.
			if strings.HasPrefix(ev.Test, "Benchmark") {
				fmt.Fprintf(tally, "run %s %s\n", ev.Package, ev.Test)
			}
		case "pass", "fail", "skip":
			if ev.Test == "" {
				continue
			}
			if ev.Action != "pass" {
				fmt.Fprint(w, strings.Join(buffered[key], ""))
			}
			delete(buffered, key)
			fmt.Fprintf(tally, "%s %s %s\n", ev.Action, ev.Package, ev.Test)
			if ev.Action == "skip" && testenv.CI() && !testenv.Allowed(ev.Test) {
				bad = append(bad, ev.Package+" "+ev.Test)
			}
		}
	}
	return bad
}

// printSummary prints one line of totals and returns 1 if any test failed.
func printSummary(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testtally:", err)
		return 2
	}
	count := map[string]int{}
	skipped := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		action, name := f[0], f[2]
		if strings.HasPrefix(name, "Benchmark") && action == "pass" {
			continue // counted at "run"
		}
		kind := "test"
		if strings.HasSuffix(name, "/fuzzing") {
			count["fuzzed"]++ // make fuzzsmoke's line for a target it fuzzed
			continue
		}
		if strings.HasPrefix(name, "Benchmark") {
			kind = "benchmark"
		} else if strings.HasPrefix(name, "Fuzz") {
			kind = "fuzz"
		}
		if strings.Contains(name, "/") {
			kind = "sub" + kind
		}
		count[kind+" "+action]++
		if action == "skip" && !strings.Contains(name, "/") {
			skipped[name] = true
		}
	}
	var names []string
	for n := range skipped {
		names = append(names, n)
	}
	sort.Strings(names)
	ran := func(kind string) int {
		if strings.HasSuffix(kind, "benchmark") {
			return count[kind+" run"] - count[kind+" skip"]
		}
		return count[kind+" pass"] + count[kind+" fail"]
	}
	fmt.Printf("tests: %d run (%d failed), %d skipped%s; %d subtests run, %d skipped; %d benchmarks run, %d skipped; %d fuzz targets fuzzed\n",
		ran("test")+ran("fuzz"), count["test fail"]+count["fuzz fail"], count["test skip"]+count["fuzz skip"], listed(names),
		ran("subtest")+ran("subfuzz"), count["subtest skip"]+count["subfuzz skip"],
		ran("benchmark")+ran("subbenchmark"), count["benchmark skip"]+count["subbenchmark skip"], count["fuzzed"])
	if count["test fail"]+count["fuzz fail"]+count["subtest fail"]+count["benchmark fail"]+count["subbenchmark fail"] > 0 {
		return 1
	}
	return 0
}

func listed(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, ", ") + ")"
}
