package xdp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane/pktio"
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
func newLink(t testing.TB, queues int) *link {
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

func macIn(t testing.TB, ns *netnstest.NS, ifname string) net.HardwareAddr {
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
func openIn(t testing.TB, ns *netnstest.NS, ifname string, queue int, o Options) (*Socket, error) {
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
	return typedFrame(dst, src, vlan, testEtherType, seq, size)
}

// typedFrame is testFrame with a chosen EtherType.
func typedFrame(dst, src net.HardwareAddr, vlan, etherType uint16, seq uint32, size int) []byte {
	f := make([]byte, 0, size)
	f = append(f, dst...)
	f = append(f, src...)
	if vlan != 0 {
		f = binary.BigEndian.AppendUint16(f, 0x8100)
		f = binary.BigEndian.AppendUint16(f, vlan)
	}
	f = binary.BigEndian.AppendUint16(f, etherType)
	f = append(f, "fibd-xdp"...)
	f = binary.BigEndian.AppendUint32(f, seq)
	for len(f) < size {
		f = append(f, byte(len(f)))
	}
	return f
}

// frameSeq returns the sequence number of a test frame: the 4 bytes after
// the "fibd-xdp" marker, wherever the marker is.
func frameSeq(f []byte) (uint32, bool) {
	i := bytes.Index(f, []byte("fibd-xdp"))
	if i < 0 || len(f) < i+12 {
		return 0, false
	}
	return binary.BigEndian.Uint32(f[i+8:]), true
}

// udpFrame builds an untagged IPv4/UDP frame whose payload carries the
// "fibd-xdp" marker and seq, padded to at least 60 bytes.
func udpFrame(dst, src net.HardwareAddr, srcIP, dstIP netip.Addr, sport, dport uint16, seq uint32) []byte {
	f := make([]byte, 0, 64)
	f = append(f, dst...)
	f = append(f, src...)
	f = binary.BigEndian.AppendUint16(f, 0x0800)
	ip := len(f)
	payload := append([]byte("fibd-xdp"), binary.BigEndian.AppendUint32(nil, seq)...)
	f = append(f, 0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0) // DF, TTL 64, UDP
	f = append(f, srcIP.AsSlice()...)
	f = append(f, dstIP.AsSlice()...)
	binary.BigEndian.PutUint16(f[ip+2:], uint16(20+8+len(payload)))
	binary.BigEndian.PutUint16(f[ip+10:], ipChecksum(f[ip:ip+20]))
	f = binary.BigEndian.AppendUint16(f, sport)
	f = binary.BigEndian.AppendUint16(f, dport)
	f = binary.BigEndian.AppendUint16(f, uint16(8+len(payload)))
	f = append(f, 0, 0) // no UDP checksum
	f = append(f, payload...)
	for len(f) < 60 {
		f = append(f, 0)
	}
	return f
}

// ipChecksum is the RFC 1071 checksum of an IPv4 header.
func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
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
	// Frames are read after a whole burst was sent: make room for it.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
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
// the deadline passed. The receiving kernel moves an 802.1Q tag out of the
// frame into the skb; PACKET_AUXDATA reports it and rawCollect puts it back,
// so frames compare as they were on the wire.
func rawCollect(fd int, want int, d time.Duration) map[uint32][]byte {
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1)
	got := make(map[uint32][]byte)
	buf := make([]byte, 4096)
	oob := make([]byte, 256)
	deadline := time.Now().Add(d)
	for len(got) < want && time.Now().Before(deadline) {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		if err != nil {
			continue
		}
		f := bytes.Clone(buf[:n])
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, cm := range cms {
				if cm.Header.Level != unix.SOL_PACKET || cm.Header.Type != unix.PACKET_AUXDATA || len(cm.Data) < 20 {
					continue
				}
				status := binary.NativeEndian.Uint32(cm.Data[0:])
				tci := binary.NativeEndian.Uint16(cm.Data[16:])
				tpid := binary.NativeEndian.Uint16(cm.Data[18:])
				if status&unix.TP_STATUS_VLAN_VALID == 0 || len(f) < 12 {
					continue
				}
				if status&unix.TP_STATUS_VLAN_TPID_VALID == 0 {
					tpid = 0x8100
				}
				tag := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, tpid), tci)
				f = append(f[:12], append(tag, f[12:]...)...)
			}
		}
		if seq, ok := frameSeq(f); ok {
			got[seq] = f
		}
	}
	return got
}

// sameFrame reports a differing frame briefly.
func sameFrame(t *testing.T, i int, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("frame %d differs (len %d, want %d):\n got %x…\nwant %x…", i, len(got), len(want), got[:min(len(got), 40)], want[:min(len(want), 40)])
	}
}

// collect reads test frames from the sockets until want distinct ones
// arrived or d passed; then it closes the sockets.
func collect(t *testing.T, socks []*Socket, want int, d time.Duration) map[uint32][]byte {
	t.Helper()
	got, _ := collectPerSocket(t, socks, want, d)
	return got
}

// collectPerSocket is collect that also counts the test frames each socket
// received.
func collectPerSocket(t *testing.T, socks []*Socket, want int, d time.Duration) (map[uint32][]byte, []int) {
	t.Helper()
	var mu sync.Mutex
	got := make(map[uint32][]byte)
	per := make([]int, len(socks))
	done := make(chan struct{})
	var wg sync.WaitGroup
	for si, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bufs := make([][]byte, pktio.BatchSize)
			for i := range bufs {
				bufs[i] = make([]byte, pktio.MaxFrame)
			}
			meta := make([]pktio.RxMeta, pktio.BatchSize)
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
						per[si]++
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
	return got, per
}

// xdpStateIn reports the XDP programs attached to ifname inside ns, by
// kernel program name per mode ("" when none).
func xdpStateIn(t *testing.T, ns *netnstest.NS, ifname string) (native, generic string) {
	t.Helper()
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		r, err := openRTNL()
		if err != nil {
			return err
		}
		defer r.close()
		st, err := r.queryXDP(ifi.Index)
		if err != nil {
			return err
		}
		name := func(id uint32) string {
			if id == 0 {
				return ""
			}
			p, n, err := programByID(id)
			if err != nil {
				return fmt.Sprintf("<id %d: %v>", id, err)
			}
			p.Close()
			return n
		}
		native, generic = name(st.drvID), name(st.skbID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return native, generic
}

// logBuffer collects slog output for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
