// Package routingd runs real routing daemons — FRR's zebra, staticd and
// bgpd, BIRD 2, gobgpd — for fibd's end-to-end tests and benchmarks: each
// in a directory of its own (configuration, pid file, sockets), with its
// output kept for the failure report, wherever a Wrap puts it (inside a
// FIB with fibctl exec, inside a test namespace with ip netns exec).
package routingd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FRRDir is where Debian's frr package puts the daemons.
const FRRDir = "/usr/lib/frr"

// Wrap makes the command that runs argv where the daemon belongs.
type Wrap func(argv ...string) *exec.Cmd

// Here runs argv as is.
func Here(argv ...string) *exec.Cmd { return exec.Command(argv[0], argv[1:]...) }

// Buffer is a goroutine-safe output buffer.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Proc is a running daemon.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Out  *Buffer
	done chan struct{}
	err  error
}

// Start runs argv through wrap.
func Start(name string, wrap Wrap, argv ...string) (*Proc, error) {
	p := &Proc{Name: name, Cmd: wrap(argv...), Out: new(Buffer), done: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = p.Out, p.Out
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.err = p.Cmd.Wait(); close(p.done) }()
	return p, nil
}

// Exited reports whether the daemon has exited, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Kill sends SIGKILL (a crash: nothing is cleaned up) and waits.
func (p *Proc) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to 5 s, then kills.
func (p *Proc) Stop() {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.Kill()
	}
}

// FRR is one FRR instance: its daemons share a zserv socket and a vty
// directory in Dir, so several instances run side by side.
type FRR struct {
	Dir  string
	Wrap Wrap
	mu   sync.Mutex
	proc map[string]*Proc
}

// NewFRR makes an instance in a new directory under /tmp (Close removes
// it); it needs FRR's daemons installed. The daemons run as user frr
// (Debian's package makes it, in group frrvty, which FRR's vty needs):
// the directory is frr's.
func NewFRR(wrap Wrap) (*FRR, error) {
	if _, err := os.Stat(filepath.Join(FRRDir, "zebra")); err != nil {
		return nil, fmt.Errorf("FRR is not installed (Debian package frr): %w", err)
	}
	u, err := user.Lookup("frr")
	if err != nil {
		return nil, fmt.Errorf("no user frr (Debian package frr makes it): %w", err)
	}
	dir, err := os.MkdirTemp("", "fibd-frr-")
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	return &FRR{Dir: dir, Wrap: wrap, proc: map[string]*Proc{}}, nil
}

// Start writes daemon's configuration and starts it (zebra first: the
// others connect to it, and retry every 10 s if it is not there yet).
// extra are more arguments, e.g. "-M", "dplane_fpm_nl" for zebra.
func (f *FRR) Start(daemon, conf string, extra ...string) (*Proc, error) {
	cfg := filepath.Join(f.Dir, daemon+".conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	argv := []string{filepath.Join(FRRDir, daemon), "-f", cfg, "-i", filepath.Join(f.Dir, daemon+".pid"),
		"-z", filepath.Join(f.Dir, "zserv.api"), "--vty_socket", f.Dir, "-u", "frr", "-g", "frr",
		"-P", "0", "--log", "stdout"}
	p, err := Start(daemon, f.Wrap, append(argv, extra...)...)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.proc[daemon] = p
	f.mu.Unlock()
	// A daemon is ready once its vty socket is there.
	sock := filepath.Join(f.Dir, daemon+".vty")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return p, nil
		}
		if gone, err := p.Exited(); gone {
			return nil, fmt.Errorf("%s exited at start: %v\n%s", daemon, err, p.Out)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s did not open %s:\n%s", daemon, sock, p.Out)
		}
	}
}

// Proc returns a started daemon.
func (f *FRR) Proc(daemon string) *Proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.proc[daemon]
}

// Vtysh runs one vtysh command against the instance.
func (f *FRR) Vtysh(command string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "vtysh", "--vty_socket", f.Dir, "-c", command).CombinedOutput()
	return string(out), err
}

// Logs is every daemon's output, for a failure report.
func (f *FRR) Logs() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for name, p := range f.proc {
		fmt.Fprintf(&b, "---- %s ----\n%s\n", name, p.Out)
	}
	return b.String()
}

// Close stops every daemon.
func (f *FRR) Close() {
	f.mu.Lock()
	ps := f.proc
	f.proc = map[string]*Proc{}
	f.mu.Unlock()
	for _, p := range ps {
		p.Stop()
	}
	os.RemoveAll(f.Dir)
}

// BIRD is one BIRD 2 instance.
type BIRD struct {
	Dir  string
	Proc *Proc
}

// StartBIRD writes conf and runs bird in the foreground.
func StartBIRD(dir string, wrap Wrap, conf string) (*BIRD, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	b := &BIRD{Dir: dir}
	var err error
	b.Proc, err = Start("bird", wrap, "bird", "-f", "-c", cfg, "-s", b.socket(), "-P", filepath.Join(dir, "bird.pid"))
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := b.Ctl("show status"); err == nil {
			return b, nil
		}
		if gone, err := b.Proc.Exited(); gone {
			return nil, fmt.Errorf("bird exited at start: %v\n%s", err, b.Proc.Out)
		}
		if time.Now().After(deadline) {
			return nil, errors.New("bird did not open its control socket:\n" + b.Proc.Out.String())
		}
	}
}

func (b *BIRD) socket() string { return filepath.Join(b.Dir, "bird.ctl") }

// Ctl runs one birdc command.
func (b *BIRD) Ctl(command string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "birdc", "-s", b.socket(), command).CombinedOutput()
	return string(out), err
}
