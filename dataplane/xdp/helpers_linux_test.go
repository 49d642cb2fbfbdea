package xdp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/internal/netnstest"
	"golang.org/x/sys/unix"
)

// testEtherType is IEEE 802 "local experimental": test frames never mean
// anything to the kernels involved.
const testEtherType = 0x88b5

// link is a veth pair: ours (where fibd attaches) in ns, peer in peerNS.
type link struct {
	ns, peerNS       *netnstest.NS
	ours, peer       string
	oursMAC, peerMAC net.HardwareAddr
}

// newLink builds a veth pair between two fresh namespaces. queues > 1
// gives both ends that many RX and TX queues.
func newLink(t *testing.T, queues int) *link {
	t.Helper()
	l := &link{ns: netnstest.New(t, "xo"), peerNS: netnstest.New(t, "xp"),
		ours: netnstest.Name("xo"), peer: netnstest.Name("xp")}
	if queues <= 1 {
		netnstest.Veth(t, l.ours, l.ns, l.peer, l.peerNS)
	} else {
		q := fmt.Sprint(queues)
		netnstest.Run(t, "ip", "link", "add", l.ours, "numtxqueues", q, "numrxqueues", q,
			"type", "veth", "peer", "name", l.peer, "numtxqueues", q, "numrxqueues", q)
		netnstest.Run(t, "ip", "link", "set", l.ours, "netns", l.ns.Name)
		netnstest.Run(t, "ip", "link", "set", l.peer, "netns", l.peerNS.Name)
		l.ns.Exec("ip", "link", "set", l.ours, "up")
		l.peerNS.Exec("ip", "link", "set", l.peer, "up")
	}
	l.oursMAC = macIn(t, l.ns, l.ours)
	l.peerMAC = macIn(t, l.peerNS, l.peer)
	return l
}

func macIn(t *testing.T, ns *netnstest.NS, ifname string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// openIn runs Open inside ns.
func openIn(t *testing.T, ns *netnstest.NS, ifname string, queue int, o Options) (*Socket, error) {
	t.Helper()
	var s *Socket
	err := ns.Do(func() error {
		var err error
		s, err = Open(ifname, queue, o)
		return err
	})
	if s != nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// testFrame builds an Ethernet frame carrying seq, optionally 802.1Q
// tagged, padded to size bytes.
func testFrame(dst, src net.HardwareAddr, vlan uint16, seq uint32, size int) []byte {
	f := make([]byte, 0, size)
	f = append(f, dst...)
	f = append(f, src...)
	if vlan != 0 {
		f = binary.BigEndian.AppendUint16(f, 0x8100)
		f = binary.BigEndian.AppendUint16(f, vlan)
	}
	f = binary.BigEndian.AppendUint16(f, testEtherType)
	f = append(f, "fibd-xdp"...)
	f = binary.BigEndian.AppendUint32(f, seq)
	for len(f) < size {
		f = append(f, byte(len(f)))
	}
	return f
}

// frameSeq returns the sequence number of a test frame (tagged or not).
func frameSeq(f []byte) (uint32, bool) {
	off := 12
	if len(f) >= 16 && binary.BigEndian.Uint16(f[12:]) == 0x8100 {
		off = 16
	}
	if len(f) < off+14 || binary.BigEndian.Uint16(f[off:]) != testEtherType || string(f[off+2:off+10]) != "fibd-xdp" {
		return 0, false
	}
	return binary.BigEndian.Uint32(f[off+10:]), true
}

// rawSocket opens an AF_PACKET socket on ifname inside ns (it stays in
// that namespace whichever thread uses it later).
func rawSocket(t *testing.T, ns *netnstest.NS, ifname string) int {
	t.Helper()
	fd := -1
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		proto := int(htons(unix.ETH_P_ALL))
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	tv := unix.Timeval{Usec: 100_000}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return fd
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// rawSend writes frames through an AF_PACKET socket.
func rawSend(t *testing.T, fd int, frames [][]byte) {
	t.Helper()
	for _, f := range frames {
		if _, err := unix.Write(fd, f); err != nil {
			t.Fatalf("raw send: %v", err)
		}
	}
}

// rawCollect reads test frames from fd until want distinct ones arrived or
// the deadline passed.
func rawCollect(fd int, want int, d time.Duration) map[uint32][]byte {
	got := make(map[uint32][]byte)
	buf := make([]byte, 4096)
	deadline := time.Now().Add(d)
	for len(got) < want && time.Now().Before(deadline) {
		n, err := unix.Read(fd, buf)
		if err != nil {
			continue
		}
		if seq, ok := frameSeq(buf[:n]); ok {
			got[seq] = bytes.Clone(buf[:n])
		}
	}
	return got
}

// collect reads test frames from the sockets until want distinct ones
// arrived or d passed; then it closes the sockets.
func collect(t *testing.T, socks []*Socket, want int, d time.Duration) map[uint32][]byte {
	t.Helper()
	var mu sync.Mutex
	got := make(map[uint32][]byte)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bufs := make([][]byte, dataplane.BatchSize)
			for i := range bufs {
				bufs[i] = make([]byte, dataplane.MaxFrame)
			}
			meta := make([]dataplane.RxMeta, dataplane.BatchSize)
			for {
				n, err := s.ReadBatch(bufs, meta)
				if err != nil {
					return
				}
				mu.Lock()
				for i := range n {
					if meta[i].HasVLAN {
						t.Errorf("AF_XDP frame reported an out-of-band VLAN tag")
					}
					f := bufs[i][:meta[i].Len]
					if seq, ok := frameSeq(f); ok {
						got[seq] = bytes.Clone(f)
					}
				}
				if len(got) >= want {
					select {
					case <-done:
					default:
						close(done)
					}
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-done:
	case <-time.After(d):
	}
	for _, s := range socks {
		s.Close()
	}
	wg.Wait()
	return got
}
