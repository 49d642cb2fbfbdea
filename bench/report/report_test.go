package report

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/internal/race"
	"github.com/fibd/fibd/internal/testenv"
)

// TestRunQuick makes a whole quick report into a temporary directory, the
// way `fibbench report --quick` does: fib, the sweep and install always
// (install's kernel baseline as root), forward as root and without the
// race detector (fwdbench's own tests cover it under race). It checks the
// files exist and the Markdown has the target table, every target in it.
func TestRunQuick(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "runs every benchmark briefly and builds fibd")
	}
	if race.Enabled {
		testenv.Skip(t, "minutes under the race detector; make unit runs it without")
	}
	bin := filepath.Join(t.TempDir(), "fibd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/fibd/fibd/cmd/fibd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	forward := testenv.Partial(t, os.Geteuid() == 0, "forward, isolation and hoststack need root")
	out := t.TempDir()
	day := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	r, dir, err := Run(ctx, Config{Out: out, Quick: true, FibdPath: bin, SkipForward: !forward, SkipIsolation: !forward, SkipHoststack: !forward,
		Command: "fibbench report --quick", Logf: t.Logf, Now: func() time.Time { return day }})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(out, "2030-01-02"); dir != want {
		t.Errorf("report in %s, want %s", dir, want)
	}
	files := []string{MarkdownFile, JSONFile, PlotLookup, PlotUpdate, PlotInstall}
	if forward {
		files = append(files, PlotForward)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if strings.HasSuffix(f, ".png") && !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("%s is not a PNG", f)
		}
	}
	if len(r.Plots) != len(files)-2 {
		t.Errorf("plots %v, want %d", r.Plots, len(files)-2)
	}

	md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	checkTargetTable(t, string(md), forward)
	if strings.Contains(string(md), "%!") {
		t.Errorf("report.md has a formatting error:\n%s", md)
	}
	for _, want := range []string{"Quick run", "Command: `fibbench report --quick`", "| Cores |", "## Table-size sweep",
		"## install", "![IPv4 lookup time vs table size](" + PlotLookup + ")"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}

	var back Report
	b, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Fib == nil || back.Sweep == nil || back.Install == nil || len(back.Targets) != len(targets) {
		t.Errorf("report.json lacks sections or targets: fib %v sweep %v install %v, %d targets",
			back.Fib != nil, back.Sweep != nil, back.Install != nil, len(back.Targets))
	}
	if forward && (back.ForwardAFPacket == nil || back.ForwardXDP == nil || back.Isolation == nil || back.Hoststack == nil) {
		t.Errorf("report.json lacks the forward, isolation or hoststack sections")
	}
	if !forward && len(back.Skipped) != 4 {
		t.Errorf("skipped %v, want both forward sections, isolation and hoststack", back.Skipped)
	}
}

// checkTargetTable finds the target table and checks it has one row per
// target with a status, and that sections that ran are measured.
func checkTargetTable(t *testing.T, md string, forward bool) {
	t.Helper()
	const header = "| Section | Target | Measured | Limit | Status |"
	i := strings.Index(md, header)
	if i < 0 {
		t.Fatalf("no target table in:\n%s", md)
	}
	rows := 0
	for _, line := range strings.Split(md[i:], "\n")[2:] {
		if !strings.HasPrefix(line, "| ") {
			break
		}
		rows++
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 5 {
			t.Errorf("row %q has %d cells", line, len(cells))
			continue
		}
		status := cells[4]
		if status != "met" && status != "**not met**" && status != "not measured" {
			t.Errorf("row %q: status %q", line, status)
		}
		ran := cells[0] == SectionFib || cells[0] == SectionInstall || forward
		if ran && status == "not measured" {
			t.Errorf("row %q: its section ran but it is not measured", line)
		}
	}
	if rows != len(targets) {
		t.Errorf("%d target rows, want %d", rows, len(targets))
	}
}
