package afpacket

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/fibd/fibd/internal/ethtool"
	"github.com/fibd/fibd/internal/netnstest"
)

// tcpTransfer sends n bytes from src to dst through the router and returns
// the byte count dst reports back.
func tcpTransfer(t *testing.T, rt *routed, n int) int64 {
	t.Helper()
	var ln net.Listener
	if err := rt.dst.Do(func() (err error) { ln, err = net.Listen("tcp4", "198.51.100.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		got, _ := io.Copy(io.Discard, c)
		_ = binary.Write(c, binary.BigEndian, got)
	}()
	var conn net.Conn
	err := rt.src.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
		return err
	})
	if err != nil {
		t.Fatalf("dial through the router: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for sent := 0; sent < n; sent += len(buf) {
		if _, err := conn.Write(buf[:min(len(buf), n-sent)]); err != nil {
			t.Fatalf("write after %d bytes: %v", sent, err)
		}
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	var got int64
	if err := binary.Read(conn, binary.BigEndian, &got); err != nil {
		t.Fatalf("reading the receiver's count: %v", err)
	}
	return got
}

// offloads switches segmentation and checksum offloads of a namespace's
// interface on or off.
func offloads(t *testing.T, ns *netnstest.NS, ifname string, on bool) {
	t.Helper()
	want := map[string]bool{}
	for _, f := range ethtool.ForwardingOff {
		want[f] = on
	}
	if err := ns.Do(func() error { _, err := ethtool.Set(ifname, want); return err }); err != nil {
		t.Fatal(err)
	}
}

// TestTCPThroughRouter runs a TCP transfer through a userspace forwarder
// built on Port, with the hosts' veth ends offloading (TSO/GSO and partial
// checksums, the veth default) and not.
//
// What this kernel delivers, asserted below: with offloads on at the
// sending host, the router's AF_PACKET port receives TCP super-frames
// (virtio_net_hdr gso_type TCPV4, tp_len up to 64 KiB) and frames with
// CHECKSUM_PARTIAL (NEEDS_CSUM / TP_STATUS_CSUMNOTREADY); switching
// offloads off on the router's own port changes neither, because veth
// hands the peer's skb over as it is. Port splits the super-frames and the
// forwarder completes the partial checksums, so TCP works either way.
func TestTCPThroughRouter(t *testing.T) {
	netnstest.Require(t)
	const size = 8 << 20
	for _, tc := range []struct {
		name      string
		hostsOff  bool
		routerOff bool
	}{
		{"hosts offload", false, false},
		{"hosts offload, router port offloads off", false, true},
		{"no offloads", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRouted(t)
			if tc.hostsOff {
				offloads(t, rt.src, "src0", false)
				offloads(t, rt.dst, "dst0", false)
			}
			if tc.routerOff {
				offloads(t, rt.router, "r0", false)
				offloads(t, rt.router, "r1", false)
			}
			r0, r1, st, stop := rt.runRouter(t)
			got := tcpTransfer(t, rt, size)
			if got != size {
				t.Fatalf("receiver got %d bytes, want %d", got, size)
			}
			s0, s1 := r0.Stats(), r1.Stats()
			stop() // the forwarders' counters are theirs until they return
			t.Logf("r0: %+v", s0)
			t.Logf("r1: %+v", s1)
			t.Logf("forwarded src→dst %+v, dst→src %+v", st[0], st[1])
			if tc.hostsOff {
				if s0.RxGSO != 0 || st[0].partial != 0 {
					t.Errorf("offloads off at the host, yet %d super-frames and %d partial checksums arrived", s0.RxGSO, st[0].partial)
				}
			} else {
				if s0.RxGSO == 0 {
					t.Errorf("expected TSO super-frames from the offloading veth peer, saw none")
				}
				if st[0].partial == 0 {
					t.Errorf("expected CHECKSUM_PARTIAL frames from the offloading veth peer, saw none")
				}
				if st[0].completed != st[0].partial {
					t.Errorf("completed %d of %d partial checksums", st[0].completed, st[0].partial)
				}
			}
			if s0.RxGSODropped != 0 {
				t.Errorf("%d super-frames dropped", s0.RxGSODropped)
			}
		})
	}
}
