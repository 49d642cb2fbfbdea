package afpacket

import (
	"encoding/binary"
	"errors"
	"github.com/fibd/fibd/dataplane/packet"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane/pktio"
	"github.com/fibd/fibd/internal/netnstest"
)

// Fixed locally administered MACs so frames can be built without asking
// the kernel.
var (
	macSrc = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	macR0  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	macR1  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x03}
	macDst = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x04}
)

// routed is src (192.0.2.1) — router (r0, r1: no kernel addresses, owned
// by the test's forwarder) — dst (198.51.100.1), with static neighbours.
type routed struct {
	src, router, dst *netnstest.NS
}

func newRouted(t *testing.T) *routed {
	t.Helper()
	rt := &routed{
		src:    netnstest.New(t, "src"),
		router: netnstest.New(t, "rtr"),
		dst:    netnstest.New(t, "dst"),
	}
	s0, r0, r1, d0 := netnstest.Name("s"), netnstest.Name("a"), netnstest.Name("b"), netnstest.Name("d")
	netnstest.Veth(t, s0, rt.src, r0, rt.router)
	netnstest.Veth(t, r1, rt.router, d0, rt.dst)
	for _, c := range []struct {
		ns  *netnstest.NS
		dev string
		mac net.HardwareAddr
		as  string
	}{{rt.src, s0, macSrc, "src0"}, {rt.router, r0, macR0, "r0"}, {rt.router, r1, macR1, "r1"}, {rt.dst, d0, macDst, "dst0"}} {
		c.ns.Exec("ip", "link", "set", c.dev, "down")
		c.ns.Exec("ip", "link", "set", c.dev, "address", c.mac.String())
		c.ns.Exec("ip", "link", "set", c.dev, "name", c.as)
		c.ns.Exec("ip", "link", "set", c.as, "up")
	}
	rt.router.Sysctl("net.ipv6.conf.r0.disable_ipv6", "1")
	rt.router.Sysctl("net.ipv6.conf.r1.disable_ipv6", "1")
	rt.src.Exec("ip", "addr", "add", "192.0.2.1/24", "dev", "src0")
	rt.src.Exec("ip", "neigh", "replace", "192.0.2.254", "lladdr", macR0.String(), "dev", "src0", "nud", "permanent")
	rt.src.Exec("ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.254")
	rt.dst.Exec("ip", "addr", "add", "198.51.100.1/24", "dev", "dst0")
	rt.dst.Exec("ip", "neigh", "replace", "198.51.100.254", "lladdr", macR1.String(), "dev", "dst0", "nud", "permanent")
	rt.dst.Exec("ip", "route", "add", "192.0.2.0/24", "via", "198.51.100.254")
	return rt
}

// openIn opens a Port on ifname inside ns.
func openIn(t *testing.T, ns *netnstest.NS, ifname string, cfg Config) *Port {
	t.Helper()
	var p *Port
	if err := ns.Do(func() (err error) { p, err = Open(ifname, cfg); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// forwardStats counts what the test forwarder did.
type forwardStats struct {
	frames, partial, completed int
}

// forward is a minimal IPv4 router loop for tests: frames from in get the
// given MACs, TTL−1 with the IPv4 checksum updated (RFC 1624), a partial
// transport checksum completed, and go out of out. It returns when in is
// closed.
func forward(in, out pktio.PacketIO, dstMAC, srcMAC net.HardwareAddr, st *forwardStats) error {
	bufs := make([][]byte, pktio.BatchSize)
	for i := range bufs {
		bufs[i] = make([]byte, pktio.MaxFrame)
	}
	meta := make([]pktio.RxMeta, pktio.BatchSize)
	outb := make([][]byte, 0, pktio.BatchSize)
	for {
		n, err := in.ReadBatch(bufs, meta)
		if err != nil {
			if errors.Is(err, pktio.ErrClosed) {
				return nil
			}
			return err
		}
		outb = outb[:0]
		for i := range n {
			f := bufs[i][:meta[i].Len]
			if len(f) < 34 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || meta[i].HasVLAN {
				continue
			}
			if f[22] <= 1 {
				continue
			}
			copy(f[0:6], dstMAC)
			copy(f[6:12], srcMAC)
			decTTL(f[14:])
			st.frames++
			if meta[i].CsumPartial {
				st.partial++
				var p packet.Parsed
				if packet.Parse(f, false, 0, 0, &p) == packet.OK && packet.FillL4Checksum(f, &p) == packet.OK {
					st.completed++
				}
			}
			outb = append(outb, f)
		}
		if len(outb) > 0 {
			if _, err := out.WriteBatch(outb); err != nil && !errors.Is(err, pktio.ErrClosed) {
				return err
			}
		}
	}
}

// decTTL decrements an IPv4 header's TTL and patches its checksum
// incrementally (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
func decTTL(ip []byte) {
	old := binary.BigEndian.Uint16(ip[8:])
	ip[8]--
	nw := binary.BigEndian.Uint16(ip[8:])
	sum := uint32(^binary.BigEndian.Uint16(ip[10:])) + uint32(^old) + uint32(nw)
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
}

// runRouter forwards both directions between r0 and r1 until stop is
// called (or the test ends). The forwarders' stats may be read after stop.
func (rt *routed) runRouter(t *testing.T) (r0, r1 *Port, st *[2]forwardStats, stop func()) {
	t.Helper()
	r0 = openIn(t, rt.router, "r0", Config{})
	r1 = openIn(t, rt.router, "r1", Config{})
	st = new([2]forwardStats)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = forward(r0, r1, macDst, macR1, &st[0]) }()
	go func() { defer wg.Done(); _ = forward(r1, r0, macSrc, macR0, &st[1]) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = r0.Close()
			_ = r1.Close()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Error("forwarders did not stop after Close")
			}
		})
	}
	t.Cleanup(stop)
	return r0, r1, st, stop
}
