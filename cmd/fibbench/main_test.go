package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets the tests run this binary's main as a subprocess.
func TestMain(m *testing.M) {
	if os.Getenv("FIBBENCH_TEST_MAIN") == "1" {
		os.Args = append([]string{"fibbench"}, strings.Fields(os.Getenv("FIBBENCH_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runMain(t *testing.T, args string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FIBBENCH_TEST_MAIN=1", "FIBBENCH_TEST_ARGS="+args)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestBadArguments: a wrong command line fails before anything runs, with
// exit status 2 for usage errors and 1 (and the reason) for bad values.
func TestBadArguments(t *testing.T) {
	for _, c := range []struct {
		args, want string
		code       int
	}{
		{"", "usage:", 2},
		{"frobnicate", "usage:", 2},
		{"report --skip kernel", `can skip forward, install, isolation or hoststack, not "kernel"`, 2},
		{"hoststack --rounds many", "invalid value", 2},
		{"isolation --scenarios", "flag needs an argument", 2},
		{"report --quick extra", `unexpected argument "extra"`, 1},
		{"forward --io dpdk", "unknown packet I/O", 1},
		{"forward --sink void", `unknown sink "void"`, 1},
		{"forward --duration soon", "invalid value", 2},
	} {
		out, code := runMain(t, c.args)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("fibbench %s: exit %d, want %d, output lacks %q:\n%s", c.args, code, c.code, c.want, out)
		}
	}
}

func TestCommandQuotes(t *testing.T) {
	saved := os.Args
	defer func() { os.Args = saved }()
	os.Args = []string{"/tmp/x/fibbench", "report", "--out", "my results", "--quick"}
	if got, want := command(), "fibbench report --out 'my results' --quick"; got != want {
		t.Errorf("command() = %q, want %q", got, want)
	}
}
