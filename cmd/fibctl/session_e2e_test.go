package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/fibdpb"
)

// The session client: this test binary run again, as a routing daemon
// would be, so the two sessions of one source are two processes and the
// first can be killed with SIGKILL.

const (
	sessionClientEnv = "FIBD_TEST_SESSION_CLIENT" // the role: "first" or "second"
	sessionRoutes    = 50000
)

func init() {
	role := os.Getenv(sessionClientEnv)
	if role == "" {
		return
	}
	if err := sessionClient(role, os.Getenv("FIBD_TEST_SOCKET")); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// sessionTable is the routes both clients push: the first sessionRoutes
// IPv4 routes of the shipped table, all through 192.0.2.2.
func sessionTable() ([]*fibdpb.RouteOp, error) {
	v4, err := tables.LoadV4()
	if err != nil {
		return nil, err
	}
	ops := make([]*fibdpb.RouteOp, 0, sessionRoutes)
	for _, r := range v4[:sessionRoutes] {
		ops = append(ops, &fibdpb.RouteOp{Op: fibdpb.RouteOpKind_ROUTE_OP_KIND_ADD, Prefix: r.Prefix.String()})
	}
	return ops, nil
}

// sessionClient plays a daemon. "first" pushes the table and then keeps
// pushing it again (a daemon busy with updates) until it is killed.
// "second" opens its session, says whether it owns bgp, waits for a line on
// stdin, resyncs the whole table (BEGIN, table, END), reports what the END
// removed, and ends its session when stdin closes.
func sessionClient(role, sock string) error {
	ops, err := sessionTable()
	if err != nil {
		return err
	}
	c, err := client.Dial(client.Options{Socket: sock})
	if err != nil {
		return err
	}
	defer c.Close()
	stream, err := c.ModifyRoutes(context.Background())
	if err != nil {
		return err
	}
	sets := []*fibdpb.PathSet{{Paths: []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: "192.0.2.2"}}}}
	seq := uint64(0)
	// send pushes the table in batches of 1000 and, with wait, waits for
	// every acknowledgement; it returns the first refused batch's error.
	send := func(first, last fibdpb.ResyncMark, wait bool) (removed uint64, err error) {
		const batch = 1000
		n := 0
		for off := 0; off < len(ops); off += batch {
			seq++
			req := &fibdpb.ModifyRoutesRequest{Seq: seq, FibId: 10, PathSets: sets, Ops: ops[off:min(off+batch, len(ops))]}
			if off == 0 {
				req.Resync = first
			}
			if err := stream.Send(req); err != nil {
				return 0, err
			}
			n++
		}
		if last != fibdpb.ResyncMark_RESYNC_MARK_UNSPECIFIED {
			seq++
			if err := stream.Send(&fibdpb.ModifyRoutesRequest{Seq: seq, FibId: 10, Resync: last}); err != nil {
				return 0, err
			}
			n++
		}
		for n > 0 && wait {
			resp, err := stream.Recv()
			if err != nil {
				return 0, err
			}
			if resp.GetSeq() == 0 {
				continue
			}
			n--
			if !resp.GetOk() {
				return 0, fmt.Errorf("batch %d refused: %v", resp.GetSeq(), resp.GetErrors())
			}
			removed += resp.GetRemoved()
		}
		return removed, nil
	}
	params := &fibdpb.SessionParams{Source: "bgp", FibIds: []uint32{10}, OnDisconnect: fibdpb.DisconnectPolicy_DISCONNECT_POLICY_FLUSH}
	if err := stream.Send(&fibdpb.ModifyRoutesRequest{Seq: 1 << 40, Session: params}); err != nil {
		return err
	}
	resp, err := stream.Recv()
	if err != nil {
		return err
	}
	owns := resp.GetSession().GetFibs()[0].GetOwner()
	switch role {
	case "first":
		if _, err := send(0, 0, true); err != nil {
			return err
		}
		fmt.Println("pushed")
		// Mid-stream from here on: updates without waiting, until killed.
		// Acknowledgements (refusals, once superseded) are drained.
		go func() {
			for {
				if _, err := stream.Recv(); err != nil {
					return
				}
			}
		}()
		for {
			if _, err := send(0, 0, false); err != nil {
				return err
			}
		}
	case "second":
		fmt.Println("owner", owns)
		in := bufio.NewScanner(os.Stdin)
		in.Scan()
		removed, err := send(fibdpb.ResyncMark_RESYNC_MARK_BEGIN, fibdpb.ResyncMark_RESYNC_MARK_END, true)
		if err != nil {
			return err
		}
		fmt.Println("resynced removed", removed)
		for in.Scan() {
		}
		return stream.CloseSend()
	}
	return fmt.Errorf("unknown role %q", role)
}

// sessionProc is a running session client.
type sessionProc struct {
	cmd   *exec.Cmd
	lines chan string
	stdin *os.File
}

func startSessionClient(t *testing.T, role, sock string) *sessionProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), sessionClientEnv+"="+role, "FIBD_TEST_SOCKET="+sock)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = r
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	p := &sessionProc{cmd: cmd, lines: make(chan string, 16), stdin: w}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		w.Close()
	})
	return p
}

func (p *sessionProc) expect(t *testing.T, prefix string) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok || !strings.HasPrefix(l, prefix) {
			t.Fatalf("session client said %q (closed: %v), want %q", l, !ok, prefix)
		}
		return l
	case <-time.After(60 * time.Second):
		t.Fatalf("session client never said %q", prefix)
	}
	return ""
}

// TestDaemonRestartLosesNoRoute is a routing daemon restarting: its first
// process has pushed the table and is busy updating when the second one
// connects (same source, FLUSH) and resyncs; the first is killed with
// SIGKILL mid-stream. A lookup loop running the whole time never misses a
// route, the resync removes nothing, and the table is whole; when the
// second session ends, FLUSH applies.
func TestDaemonRestartLosesNoRoute(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "fibd.sock")
	d := startFibd(t, sock, "--socket", sock, "--state", filepath.Join(dir, "state.json"))
	d.ok("fib", "add", "10")
	d.ok("port", "bind", "lo", "--vlan", "100", "--fib", "10")
	d.ok("addr", "add", "192.0.2.1/24", "dev", "lo.100")
	ops, err := sessionTable()
	if err != nil {
		t.Fatal(err)
	}

	first := startSessionClient(t, "first", sock)
	first.expect(t, "pushed")

	c, err := client.Dial(client.Options{Socket: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The lookup loop: an address in every 500th route, round robin.
	var probes []string
	for i := 0; i < len(ops); i += 500 {
		probes = append(probes, netip.MustParsePrefix(ops[i].GetPrefix()).Addr().String())
	}
	var lookups, misses atomic.Int64
	var firstMiss atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := c.LookupRoute(t.Context(), &fibdpb.LookupRouteRequest{FibId: 10, Address: probes[i%len(probes)]})
			if err != nil {
				continue
			}
			lookups.Add(1)
			if resp.GetResolution() != fibdpb.Resolution_RESOLUTION_GATEWAY {
				if misses.Add(1) == 1 {
					firstMiss.Store(probes[i%len(probes)] + ": " + resp.GetResolution().String())
				}
			}
		}
	})
	time.Sleep(200 * time.Millisecond)

	second := startSessionClient(t, "second", sock)
	if l := second.expect(t, "owner"); l != "owner true" {
		t.Fatalf("the new session: %q, want it to own bgp", l)
	}
	fmt.Fprintln(second.stdin, "go")
	time.Sleep(20 * time.Millisecond) // the resync is under way
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	if l := second.expect(t, "resynced"); l != "resynced removed 0" {
		t.Fatalf("resync: %q, want nothing removed", l)
	}
	time.Sleep(300 * time.Millisecond) // the killed session's end has run
	close(stop)
	wg.Wait()
	if n := misses.Load(); n != 0 {
		t.Fatalf("%d of %d lookups missed during the restart (first: %v)", n, lookups.Load(), firstMiss.Load())
	}
	if lookups.Load() < 100 {
		t.Fatalf("only %d lookups ran", lookups.Load())
	}
	info := d.ok("fib", "show", "10", "--json")
	var fibs []struct {
		RoutesV4 int `json:"routes_v4"`
	}
	if err := json.Unmarshal([]byte(info), &fibs); err != nil || len(fibs) != 1 || fibs[0].RoutesV4 != sessionRoutes+2 {
		t.Fatalf("fib 10 after the restart (want %d routes: the table, connected, local): %v\n%s", sessionRoutes+2, err, info)
	}
	t.Logf("%d lookups during the restart, none missed", lookups.Load())

	// The owner's end applies FLUSH.
	second.stdin.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := c.LookupRoute(t.Context(), &fibdpb.LookupRouteRequest{FibId: 10, Address: probes[0]})
		if err == nil && resp.GetResolution() == fibdpb.Resolution_RESOLUTION_MISS {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the second session ended and its FLUSH did not remove the table")
}
