// Package fibdproc runs a fibd binary for the benchmarks and their tests —
// on a socket in a temporary directory, without a state file, optionally
// inside a network namespace — and connects to it as any client would.
package fibdproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/dataplane/hoststack"
)

// Options say how to run fibd. Path is required.
type Options struct {
	Path string
	// NetNS, when set, runs fibd inside that named network namespace.
	// Only its network: fibd stays in this mount namespace, so the host
	// namespaces it mounts (fibctl fib set --host on) are visible here.
	NetNS string
	// IO is fibd's --io; default "none".
	IO string
	// Args are added to fibd's command line.
	Args []string
	// Stderr receives fibd's log; default os.Stderr.
	Stderr io.Writer
	// LogLevel is fibd's --log-level; default "warn".
	LogLevel string
}

// Proc is a running fibd and a connection to it.
type Proc struct {
	Conn   *client.Conn
	Socket string
	cmd    *exec.Cmd
	dir    string
	done   chan error
}

// Start runs fibd and waits (at most 10 s) until it answers GetInfo.
func Start(ctx context.Context, o Options) (*Proc, error) {
	if o.IO == "" {
		o.IO = "none"
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	dir, err := os.MkdirTemp("", "fibd-bench-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "fibd.sock")
	args := append([]string{"--socket", sock, "--state", "", "--io", o.IO, "--log-level", o.LogLevel}, o.Args...)
	cmd := exec.Command(o.Path, args...)
	cmd.Stderr = o.Stderr
	start := cmd.Start
	if o.NetNS != "" {
		// Started from a thread inside the namespace, fibd is born in it.
		start = func() error { return hoststack.Namespace(o.NetNS).Do(cmd.Start) }
	}
	if err := start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &Proc{cmd: cmd, dir: dir, Socket: sock, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	p.Conn, err = client.Dial(client.Options{Socket: sock})
	if err != nil {
		p.Stop()
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := p.Conn.GetInfo(cctx, &fibdpb.GetInfoRequest{})
		cancel()
		if err == nil {
			return p, nil
		}
		select {
		case werr := <-p.done:
			p.done <- werr
			p.Stop()
			return nil, fmt.Errorf("fibd exited at start: %v", werr)
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.Stop()
			return nil, fmt.Errorf("fibd did not answer within 10s: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Pid returns fibd's process ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether fibd has exited, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}

// RSS returns fibd's resident set size.
func (p *Proc) RSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", p.Pid())
}

// CPU returns the user and system CPU time fibd has used.
func (p *Proc) CPU() (time.Duration, error) { return CPUOf(p.Pid()) }

// CPUOf returns the user and system CPU time process pid has used.
func CPUOf(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: utime and stime are the 12th and 13th.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}

// Stop ends fibd with SIGTERM (SIGKILL after 10 s) and removes its
// directory. Safe to call twice.
func (p *Proc) Stop() {
	if p.Conn != nil {
		p.Conn.Close()
		p.Conn = nil
	}
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.cmd = nil
	}
	os.RemoveAll(p.dir)
}

// Find looks for fibd next to the running binary, then on $PATH, and
// builds it from the module as a last resort (logging through logf); the
// returned cleanup removes a binary it built.
func Find(logf func(string, ...any)) (string, func(), error) { return FindCmd("fibd", logf) }

// FindCmd is Find for any of the module's commands (fibd, fibctl).
func FindCmd(name string, logf func(string, ...any)) (string, func(), error) {
	nop := func() {}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nop, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nop, nil
	}
	return BuildCmd(name, logf)
}

// Build builds fibd from the module into a temporary directory.
func Build(logf func(string, ...any)) (string, func(), error) { return BuildCmd("fibd", logf) }

// BuildCmd builds one of the module's commands into a temporary directory.
func BuildCmd(name string, logf func(string, ...any)) (string, func(), error) {
	dir, err := os.MkdirTemp("", "fibbench-")
	if err != nil {
		return "", func() {}, err
	}
	p := filepath.Join(dir, name)
	if logf != nil {
		logf("building %s into %s", name, p)
	}
	out, err := exec.Command("go", "build", "-o", p, "github.com/fibd/fibd/cmd/"+name).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", func() {}, fmt.Errorf("no %s binary found and go build failed: %v\n%s", name, err, out)
	}
	return p, func() { os.RemoveAll(dir) }, nil
}
