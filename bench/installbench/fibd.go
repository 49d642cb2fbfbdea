package installbench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/fibdpb"
)

// gateway returns next hop i's address, 192.0.2.(1+i).
func gateway(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)}) }

// fibd is a running fibd process and a connection to it.
type fibd struct {
	cmd  *exec.Cmd
	dir  string
	conn *client.Conn
	done chan error
}

// startFibd runs fibd with --io=none on a socket in a temporary
// directory, without a state file, and waits until it answers.
func startFibd(ctx context.Context, path string) (*fibd, error) {
	dir, err := os.MkdirTemp("", "fibd-bench-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "fibd.sock")
	cmd := exec.Command(path, "--socket", sock, "--state", "", "--io", "none", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d := &fibd{cmd: cmd, dir: dir, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	d.conn, err = client.Dial(client.Options{Socket: sock})
	if err != nil {
		d.stop()
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := d.conn.GetInfo(cctx, &fibdpb.GetInfoRequest{})
		cancel()
		if err == nil {
			return d, nil
		}
		select {
		case werr := <-d.done:
			d.done <- werr
			d.stop()
			return nil, fmt.Errorf("fibd exited at start: %v", werr)
		default:
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("fibd did not answer within 10s: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rss returns fibd's resident set size.
func (d *fibd) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", d.cmd.Process.Pid)
}

// stop ends fibd with SIGTERM (SIGKILL after 10 s) and removes its
// directory. Safe to call twice.
func (d *fibd) stop() {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
	if d.cmd != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		d.cmd = nil
	}
	os.RemoveAll(d.dir)
}
