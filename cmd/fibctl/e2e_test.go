package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/internal/testenv"
)

// The end-to-end tests build the real fibd and fibctl binaries and use
// them as an admin would: fibd with --io=none on a socket in a
// temporary directory, fibctl commands against it.

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func binaries(t *testing.T) (fibd, fibctl string) {
	t.Helper()
	if testing.Short() {
		testenv.Skip(t, "builds binaries")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "fibd-e2e-")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{"fibd", "fibctl", "fibdemo"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, pkg), "github.com/fibd/fibd/cmd/"+pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "fibd"), filepath.Join(binDir, "fibctl")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	sock   string
	stderr *syncBuffer
	done   chan error
	fibctl string
}

// startFibd runs fibd with args and waits until it answers; it is killed
// at the end of the test if still running.
func startFibd(t *testing.T, sock string, args ...string) *daemon {
	t.Helper()
	return launchFibd(t, sock, func(c *exec.Cmd) error { return c.Start() }, append([]string{"--io", "none"}, args...))
}

// launchFibd starts fibd with args through start (which may start it
// inside a network namespace) and waits until it answers.
func launchFibd(t *testing.T, sock string, start func(*exec.Cmd) error, args []string) *daemon {
	t.Helper()
	fibd, fibctl := binaries(t)
	d := &daemon{t: t, sock: sock, stderr: new(syncBuffer), done: make(chan error, 1), fibctl: fibctl}
	d.cmd = exec.Command(fibd, args...)
	d.cmd.Stderr = d.stderr
	if err := start(d.cmd); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.done
		d.done <- nil
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if sock != "" {
			if c, err := client.Dial(client.Options{Socket: sock}); err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err = c.GetInfo(ctx, &fibdpb.GetInfoRequest{})
				cancel()
				c.Close()
				if err == nil {
					return d
				}
			}
		} else if strings.Contains(d.stderr.String(), "fibd started") {
			return d
		}
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("fibd exited at start: %v\n%s", err, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fibd did not come up:\n%s", d.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ctl runs fibctl against the daemon and returns stdout, stderr and the
// exit code.
func (d *daemon) ctl(args ...string) (string, string, int) {
	d.t.Helper()
	cmd := exec.Command(d.fibctl, append([]string{"--socket", d.sock}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// ok runs fibctl and fails the test unless it exits 0.
func (d *daemon) ok(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.ctl(args...)
	if code != 0 {
		d.t.Fatalf("fibctl %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// fails runs fibctl and checks it exits 1 with stderr holding every want.
func (d *daemon) fails(args []string, want ...string) {
	d.t.Helper()
	_, errOut, code := d.ctl(args...)
	if code != 1 {
		d.t.Fatalf("fibctl %s: exit %d, want 1 (%s)", strings.Join(args, " "), code, errOut)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			d.t.Errorf("fibctl %s: stderr %q lacks %q", strings.Join(args, " "), errOut, w)
		}
	}
}

// stop sends SIGTERM and returns the exit error.
func (d *daemon) stop() error {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(10 * time.Second):
		d.t.Fatalf("fibd did not stop on SIGTERM:\n%s", d.stderr)
	}
	return nil
}

func TestFibctlAgainstRunningFibd(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "fibd.sock")
	state := filepath.Join(dir, "state", "state.json")
	d := startFibd(t, sock, "--socket", sock, "--state", state, "--log-format", "json")
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v %v, want mode 0600", fi.Mode(), err)
	}

	d.ok("fib", "add", "10")
	if out := d.ok("port", "bind", "lo", "--vlan", "100", "--fib", "10"); out != "port lo.100 bound to fib 10\n" {
		t.Fatalf("port bind said %q", out)
	}
	d.ok("addr", "add", "192.0.2.1/24", "dev", "lo.100")
	d.ok("route", "add", "198.51.100.0/24", "via", "192.0.2.2", "--fib", "10")
	d.ok("route", "add", "blackhole", "198.18.0.0/15", "--fib", "10")
	d.ok("neigh", "add", "192.0.2.2", "lladdr", "02:00:00:00:00:02", "dev", "lo.100")

	// Tables are aligned: every row's PREFIX starts where the header's does.
	out := d.ok("route", "show", "--fib", "10")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("route show:\n%s", out)
	}
	col := strings.Index(lines[0], "PREFIX")
	for _, l := range lines[1:] {
		if len(l) < col || l[col-1] != ' ' || l[col] == ' ' {
			t.Fatalf("misaligned route show:\n%s", out)
		}
	}
	if !strings.Contains(out, "198.51.100.0/24") || !strings.Contains(out, "via 192.0.2.2") || !strings.Contains(out, "blackhole") {
		t.Fatalf("route show:\n%s", out)
	}
	var routes []map[string]any
	if err := json.Unmarshal([]byte(d.ok("route", "show", "--fib", "10", "--json")), &routes); err != nil || len(routes) != 4 {
		t.Fatalf("route show --json: %v %v", routes, err)
	}

	get := d.ok("route", "get", "198.51.100.7", "--fib", "10")
	for _, want := range []string{"fib 10: 198.51.100.0/24 source static", "result: gateway", "next hop: 192.0.2.2 dev lo.100",
		"neighbour: 192.0.2.2 lladdr 02:00:00:00:00:02 permanent"} {
		if !strings.Contains(get, want) {
			t.Errorf("route get lacks %q:\n%s", want, get)
		}
	}
	var lookup map[string]any
	if err := json.Unmarshal([]byte(d.ok("route", "get", "198.18.1.1", "--fib", "10", "--json")), &lookup); err != nil || lookup["resolution"] != "RESOLUTION_BLACKHOLE" {
		t.Fatalf("route get --json: %v %v", lookup, err)
	}

	// route load streams a file through ModifyRoutes.
	table := filepath.Join(dir, "table.txt")
	var b strings.Builder
	b.WriteString("# test table\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "203.0.%d.%d/30 %d\n", i/64, (i%64)*4, i%16)
	}
	if err := os.WriteFile(table, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := d.ok("route", "load", table, "--fib", "10", "--via", "192.0.2.3", "--via", "192.0.2.4", "--batch", "128"); !strings.HasPrefix(out, "loaded 1000 routes into fib 10 in ") || !strings.Contains(out, "routes/s") {
		t.Fatalf("route load said %q", out)
	}
	if out := d.ok("fib", "show", "10"); !strings.Contains(out, "1004") || !strings.Contains(out, "lo.100") {
		t.Fatalf("fib show after load:\n%s", out)
	}
	d.fails([]string{"route", "load", table, "--fib", "10"}, "--via")
	// A resync load of half the table removes the other half.
	half := filepath.Join(dir, "half.txt")
	if err := os.WriteFile(half, []byte(b.String()[:strings.Index(b.String(), "203.0.7.224/30")]), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := d.ok("route", "load", half, "--fib", "10", "--via", "192.0.2.3", "--resync", "--quiet"); !strings.Contains(out, "loaded 504 routes") ||
		!strings.Contains(out, "496 removed by the resync") {
		t.Fatalf("route load --resync said %q", out)
	}

	for _, show := range [][]string{{"fib", "show"}, {"port", "show"}, {"addr", "show"}, {"neigh", "show"}, {"stats"}, {"info"}} {
		if out := d.ok(show...); len(strings.TrimSpace(out)) == 0 {
			t.Errorf("fibctl %v printed nothing", show)
		}
		var v any
		if err := json.Unmarshal([]byte(d.ok(append(show, "--json")...)), &v); err != nil {
			t.Errorf("fibctl %v --json: %v", show, err)
		}
	}
	if out := d.ok("neigh", "show"); !strings.Contains(out, "192.0.2.2") || !strings.Contains(out, "permanent") {
		t.Errorf("neigh show:\n%s", out)
	}

	// watch neigh sees a change.
	watch := exec.Command(d.fibctl, "--socket", sock, "watch", "neigh", "--initial")
	pipe, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	lines2 := make(chan string, 10)
	go func() {
		s := bufio.NewScanner(pipe)
		for s.Scan() {
			lines2 <- s.Text()
		}
		close(lines2)
	}()
	d.ok("neigh", "add", "192.0.2.5", "lladdr", "02:00:00:00:00:05", "dev", "lo.100")
	found := false
	for !found {
		select {
		case l, ok := <-lines2:
			if !ok {
				t.Fatal("watch ended")
			}
			found = strings.Contains(l, "added fib 10 192.0.2.5 dev lo.100 lladdr 02:00:00:00:00:05 permanent")
		case <-time.After(10 * time.Second):
			t.Fatal("watch neigh printed no event for the new neighbour")
		}
	}
	_ = watch.Process.Signal(os.Interrupt)
	_ = watch.Wait()

	// Errors: exit 1 and one clear line.
	d.fails([]string{"route", "add", "198.51.100.1/24", "via", "192.0.2.2", "--fib", "10"}, "host bits set", "198.51.100.0/24", "invalid argument")
	d.fails([]string{"route", "add", "2001:db8:1::/48", "via", "192.0.2.2", "--fib", "10"}, "address family", "invalid argument")
	d.fails([]string{"fib", "del", "10"}, "lo.100", "failed precondition")
	d.fails([]string{"route", "get", "192.0.2.1", "--fib", "99"}, "no such FIB", "not found")
	// A port whose interface is not there is bound, down with the reason,
	// and the CLI says so (a typo looks just like it).
	_, warn, code := d.ctl("port", "bind", "fibd-none0", "--fib", "10")
	if code != 0 || !strings.Contains(warn, "warning: port fibd-none0 is down: interface missing") {
		t.Errorf("port bind of a missing interface: exit %d, stderr %q; want 0 and a warning", code, warn)
	}
	if out := d.ok("port", "show", "fibd-none0"); !strings.Contains(out, "down (interface missing)") {
		t.Errorf("port show of a missing interface:\n%s", out)
	}
	d.ok("port", "unbind", "fibd-none0")
	d.fails([]string{"port", "bind", "lo", "--inner-vlan", "5", "--fib", "10"}, "inner_vlan", "needs an outer one", "invalid argument")
	d.fails([]string{"port", "bind", "lo", "--vlan", "5", "--tpid", "0x9100", "--fib", "10"}, "--tpid", "0x8100")
	d.fails([]string{"port", "bind", "lo", "--vlan", "4095", "--fib", "10"}, "vlan", "4095", "invalid argument")
	d.fails([]string{"fib", "add", "x"}, "FIB ID")
	d.fails([]string{"--socket", filepath.Join(dir, "none.sock"), "info"}, "cannot reach fibd")

	// SIGTERM: clean exit, socket gone, state saved.
	if err := d.stop(); err != nil {
		t.Fatalf("fibd exit on SIGTERM: %v\n%s", err, d.stderr)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	if !strings.Contains(d.stderr.String(), `"msg":"fibd stopped"`) {
		t.Errorf("no structured stop log:\n%s", d.stderr)
	}

	// A restart restores the configuration, not the loaded routes.
	d2 := startFibd(t, sock, "--socket", sock, "--state", state)
	out = d2.ok("route", "show", "--fib", "10")
	if !strings.Contains(out, "198.51.100.0/24") || !strings.Contains(out, "198.18.0.0/15") || strings.Contains(out, "203.0.0.0/30") {
		t.Fatalf("restored routes:\n%s", out)
	}
	if out := d2.ok("neigh", "show"); !strings.Contains(out, "192.0.2.2") || !strings.Contains(out, "192.0.2.5") {
		t.Fatalf("restored neighbours:\n%s", out)
	}
	if out := d2.ok("addr", "show"); !strings.Contains(out, "192.0.2.1/24") {
		t.Fatalf("restored addresses:\n%s", out)
	}
	if err := d2.stop(); err != nil {
		t.Fatal(err)
	}

	// A corrupt state file stops fibd with a clear message and stays as it was.
	corrupt := []byte("{\"format\": \"fibd-state\", \"version\": 1, \"fibs\": [{\"id\": 10},\n")
	if err := os.WriteFile(state, corrupt, 0o600); err != nil {
		t.Fatal(err)
	}
	fibdBin, _ := binaries(t)
	cmd := exec.Command(fibdBin, "--io", "none", "--socket", sock, "--state", state)
	msg, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("fibd with a corrupt state file: %v\n%s", err, msg)
	}
	if !strings.Contains(string(msg), "corrupt") || !strings.Contains(string(msg), state) || !strings.Contains(string(msg), "never overwrites") {
		t.Errorf("unclear message:\n%s", msg)
	}
	if b, _ := os.ReadFile(state); !bytes.Equal(b, corrupt) {
		t.Error("fibd changed the corrupt state file")
	}
}

func TestFibdConfigFile(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "fibd.sock")
	cfg := filepath.Join(dir, "fibd.json")
	if err := os.WriteFile(cfg, []byte(`{
		"fibs": [{"id": 10, "limits": {"routes_v4": 100}}],
		"ports": [{"interface": "lo", "vlan": 7, "fib": 10}],
		"addresses": [{"port": "lo.7", "prefix": "192.0.2.1/24"}],
		"routes": [{"fib": 10, "prefix": "198.51.100.0/24", "paths": [{"kind": "gateway", "gateway": "192.0.2.2"}]}],
		"neighbors": [{"port": "lo.7", "address": "192.0.2.2", "mac": "02:00:00:00:00:02"}]
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startFibd(t, sock, "--socket", sock, "--state", "", "--config", cfg)
	if out := d.ok("route", "get", "198.51.100.1", "--fib", "10"); !strings.Contains(out, "lladdr 02:00:00:00:00:02") {
		t.Fatalf("config file not applied:\n%s", out)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	// A typo in the config file is an error, not a silently ignored key.
	if err := os.WriteFile(cfg, []byte(`{"fibz": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fibdBin, _ := binaries(t)
	msg, err := exec.Command(fibdBin, "--socket", sock, "--state", "", "--config", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "fibz") {
		t.Fatalf("bad config file accepted: %v\n%s", err, msg)
	}
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// syncBuffer is a bytes.Buffer that exec's copier and the test may use at
// once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
