package xdp

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/fibd/fibd/dataplane/pktio"
	"github.com/fibd/fibd/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestHelperProcessHoldXDP is not a test: run by TestStaleProgramReplaced
// as a child process inside a namespace, it opens a socket (attaching the
// program), says "ready" and waits to be SIGKILLed — a fibd crash that
// leaves its XDP program behind.
func TestHelperProcessHoldXDP(t *testing.T) {
	ifname := os.Getenv("FIBD_XDP_HOLD_IF")
	if ifname == "" {
		testenv.Skip(t, "helper process for TestStaleProgramReplaced")
	}
	mode := AttachNative
	if os.Getenv("FIBD_XDP_HOLD_MODE") == "generic" {
		mode = AttachGeneric
	}
	if _, err := Open(ifname, 0, Options{Attach: mode}); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	time.Sleep(30 * time.Second) // bounded: the parent kills it long before
	os.Exit(1)
}

// TestStaleProgramReplaced crashes a child fibd (SIGKILL) after it attached
// its program, checks the program is still on the interface, and expects a
// new Open to replace it — in the same mode atomically, from the other mode
// by detaching first — then traffic to flow and Close to leave nothing.
func TestStaleProgramReplaced(t *testing.T) {
	for _, tc := range []struct{ stale, fresh AttachMode }{
		{AttachNative, AttachNative},
		{AttachGeneric, AttachAuto},
	} {
		t.Run(fmt.Sprintf("%v-then-%v", tc.stale, tc.fresh), func(t *testing.T) {
			l := newLink(t, 1)
			cmd := l.ns.Command(os.Args[0], "-test.run=^TestHelperProcessHoldXDP$", "-test.count=1")
			cmd.Env = append(os.Environ(), "FIBD_XDP_HOLD_IF="+l.ours, "FIBD_XDP_HOLD_MODE="+tc.stale.String())
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			line, _ := bufio.NewReader(out).ReadString('\n')
			if strings.TrimSpace(line) != "ready" {
				t.Fatalf("helper: %q", line)
			}
			if err := cmd.Process.Signal(unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			native, generic := xdpStateIn(t, l.ns, l.ours)
			if staleName := map[AttachMode]string{AttachNative: native, AttachGeneric: generic}[tc.stale]; staleName != progNameAll {
				t.Fatalf("after the crash: native %q generic %q, want the stale program in %v mode", native, generic, tc.stale)
			}

			var logs logBuffer
			s, err := openIn(t, l.ns, l.ours, 0, Options{Attach: tc.fresh, Logger: logs.logger()})
			if err != nil {
				t.Fatalf("reopen after crash: %v", err)
			}
			if !strings.Contains(logs.String(), "stale fibd XDP program") {
				t.Errorf("replacement not logged; log:\n%s", logs.String())
			}
			native, generic = xdpStateIn(t, l.ns, l.ours)
			if s.Mode().Attach == AttachNative && (native != progNameAll || generic != "") ||
				s.Mode().Attach == AttachGeneric && (generic != progNameAll || native != "") {
				t.Errorf("after reopen in %v: native %q generic %q", s.Mode(), native, generic)
			}
			frame := testFrame(l.oursMAC, l.peerMAC, 0, 1, 60)
			rawSend(t, rawSocket(t, l.peerNS, l.peer), [][]byte{frame})
			if got := collect(t, []*Socket{s}, 1, 3*time.Second); len(got) != 1 {
				t.Fatalf("no traffic through the replacement program")
			}
			if native, generic := xdpStateIn(t, l.ns, l.ours); native != "" || generic != "" {
				t.Errorf("Close left programs: native %q generic %q", native, generic)
			}
		})
	}
}

// TestForeignProgramRefused: a program that is not fibd's is never
// replaced; Open fails with ErrBusy and the program stays.
func TestForeignProgramRefused(t *testing.T) {
	l := newLink(t, 1)
	var foreign *ebpf.Program
	if err := l.ns.Do(func() error {
		var err error
		foreign, err = ebpf.NewProgram(&ebpf.ProgramSpec{
			Name: "someone_else", Type: ebpf.XDP, License: "MIT",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, xdpPass), asm.Return()},
		})
		if err != nil {
			return err
		}
		r, err := openRTNL()
		if err != nil {
			return err
		}
		defer r.close()
		idx, err := ifindexOf(l.ours)
		if err != nil {
			return err
		}
		return r.setXDP(idx, foreign.FD(), unix.XDP_FLAGS_SKB_MODE, -1)
	}); err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	_, err := openIn(t, l.ns, l.ours, 0, Options{})
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "someone_else") {
		t.Fatalf("Open over a foreign program: err = %v, want ErrBusy naming it", err)
	}
	if _, generic := xdpStateIn(t, l.ns, l.ours); generic != "someone_else" {
		t.Errorf("foreign program disturbed: generic %q", generic)
	}
}

// TestPassNonIP: with PassNonIP only untagged IPv4/IPv6 frames reach the
// socket; other EtherTypes and tagged frames go to the kernel.
func TestPassNonIP(t *testing.T) {
	l := newLink(t, 1)
	s, err := openIn(t, l.ns, l.ours, 0, Options{PassNonIP: true})
	if err != nil {
		t.Fatal(err)
	}
	if native, _ := xdpStateIn(t, l.ns, l.ours); native != progNameIPv46 {
		t.Errorf("native program = %q, want %q", native, progNameIPv46)
	}
	frames := [][]byte{
		typedFrame(l.oursMAC, l.peerMAC, 0, 0x0800, 1, 60),
		typedFrame(l.oursMAC, l.peerMAC, 0, 0x86dd, 2, 80),
		typedFrame(l.oursMAC, l.peerMAC, 0, 0x0806, 3, 60),
		typedFrame(l.oursMAC, l.peerMAC, 5, 0x0800, 4, 60),
		typedFrame(l.oursMAC, l.peerMAC, 0, testEtherType, 5, 60),
		typedFrame(l.oursMAC, l.peerMAC, 0, 0x0800, 6, 60),
	}
	rawSend(t, rawSocket(t, l.peerNS, l.peer), frames)
	got := collect(t, []*Socket{s}, 3, 2*time.Second)
	for _, seq := range []uint32{1, 2, 6} {
		if got[seq] == nil {
			t.Errorf("IP frame %d did not reach the socket", seq)
		}
	}
	for _, seq := range []uint32{3, 4, 5} {
		if got[seq] != nil {
			t.Errorf("non-IP frame %d reached the socket", seq)
		}
	}
}

// TestNoAllocs proves the packet path allocation-free: WriteBatch on one
// end of a veth pair and ReadBatch of the same frames on the other.
func TestNoAllocs(t *testing.T) {
	l := newLink(t, 1)
	tx, err := openIn(t, l.ns, l.ours, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rx, err := openIn(t, l.peerNS, l.peer, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, pktio.BatchSize)
	for i := range out {
		out[i] = testFrame(l.peerMAC, l.oursMAC, uint16(i%2)*7, uint32(i), 64+i*16)
	}
	in := make([][]byte, pktio.BatchSize)
	for i := range in {
		in[i] = make([]byte, pktio.MaxFrame)
	}
	meta := make([]pktio.RxMeta, pktio.BatchSize)
	// A lost frame would leave ReadBatch waiting: bound the test.
	watchdog := time.AfterFunc(20*time.Second, func() { rx.Close() })
	defer watchdog.Stop()
	var sent, recvd int
	allocs := testing.AllocsPerRun(100, func() {
		n, err := tx.WriteBatch(out)
		if err != nil {
			t.Fatal(err)
		}
		sent += n
		for recvd < sent {
			m, err := rx.ReadBatch(in, meta)
			if err != nil {
				t.Fatal(err)
			}
			recvd += m
		}
	})
	if allocs != 0 {
		t.Errorf("ReadBatch+WriteBatch allocate %.1f times per batch", allocs)
	}

	// The blocking path: ReadBatch waits in ppoll until a frame written
	// 2 ms later arrives.
	kick := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range kick {
			time.Sleep(2 * time.Millisecond)
			if _, err := tx.WriteBatch(out[:1]); err != nil {
				return
			}
		}
	}()
	polls := rx.Stats().Polls
	allocs = testing.AllocsPerRun(20, func() {
		kick <- struct{}{}
		if _, err := rx.ReadBatch(in, meta); err != nil {
			t.Fatal(err)
		}
	})
	close(kick)
	<-done
	if allocs != 0 {
		t.Errorf("blocking ReadBatch allocates %.1f times per call", allocs)
	}
	if rx.Stats().Polls == polls {
		t.Error("ReadBatch never had to wait: the blocking path was not measured")
	}
	t.Logf("moved %d frames; rx polls %d, tx kicks %d", recvd, rx.Stats().Polls, tx.Stats().TxKicks)
}

func ifindexOf(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}
