package isolation

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/internal/netnstest"
)

// The marker every flow frame carries in its UDP payload.
var magic = [8]byte{'F', 'I', 'B', 'D', 'I', 'S', 'O', '1'}

const (
	flowPort   = 9 // the discard port: the sink's kernel drops it quietly
	payloadLen = 24
)

// marker is what a payload says about its frame.
type marker struct {
	tenant uint32
	flow   uint32
	seq    uint64
}

func putMarker(b []byte, m marker) {
	copy(b, magic[:])
	binary.BigEndian.PutUint32(b[8:], m.tenant)
	binary.BigEndian.PutUint32(b[12:], m.flow)
	binary.BigEndian.PutUint64(b[16:], m.seq)
}

func readMarker(b []byte) (marker, bool) {
	if len(b) < payloadLen || !bytes.Equal(b[:8], magic[:]) {
		return marker{}, false
	}
	return marker{binary.BigEndian.Uint32(b[8:]), binary.BigEndian.Uint32(b[12:]), binary.BigEndian.Uint64(b[16:])}, true
}

// flow sends UDP datagrams from a client namespace at a fixed rate, evenly
// paced, each numbered, to its destinations in turn.
type flow struct {
	name   string
	tenant uint32
	id     uint32
	dsts   []netip.Addr
	pps    int
	fd     int
	sent   atomic.Uint64 // next sequence number
	errs   atomic.Uint64
	stop   chan struct{}
	done   chan struct{}
	// closeFD closes fd once, however often stopFlow is called (a
	// closed descriptor's number may already be someone else's).
	closeFD sync.Once
}

// startFlow opens the flow's socket inside ns and starts sending; it runs
// until stopFlow, and at most maxFor (a bound on every traffic loop).
func startFlow(ns *netnstest.NS, name string, tenant, id uint32, dsts []netip.Addr, pps int, maxFor time.Duration) (*flow, error) {
	f := &flow{name: name, tenant: tenant, id: id, dsts: dsts, pps: pps, stop: make(chan struct{}), done: make(chan struct{})}
	err := ns.Do(func() (err error) {
		f.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.Bind(f.fd, &unix.SockaddrInet4{Port: int(40000 + id)})
	})
	if err != nil {
		return nil, fmt.Errorf("flow %s: %w", name, err)
	}
	go f.run(maxFor)
	return f, nil
}

// run paces sends to the wall clock: every wake-up sends what is due by
// now, so a late wake-up sends a few at once and the rate holds.
func (f *flow) run(maxFor time.Duration) {
	defer close(f.done)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var buf [payloadLen]byte
	start := time.Now()
	period := time.Second / time.Duration(f.pps)
	for {
		select {
		case <-f.stop:
			return
		default:
		}
		el := time.Since(start)
		if el > maxFor {
			return
		}
		due := uint64(el/period) + 1
		for seq := f.sent.Load(); seq < due; seq++ {
			putMarker(buf[:], marker{f.tenant, f.id, seq})
			dst := f.dsts[seq%uint64(len(f.dsts))].As4()
			if err := unix.Sendto(f.fd, buf[:], unix.MSG_DONTWAIT, &unix.SockaddrInet4{Port: flowPort, Addr: dst}); err != nil {
				f.errs.Add(1) // counted as sent: the loss is the network's (a full queue, no neighbour yet)
			}
			f.sent.Store(seq + 1)
		}
		time.Sleep(period / 2)
	}
}

func (f *flow) stopFlow() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	<-f.done
	f.closeFD.Do(func() { _ = unix.Close(f.fd) })
}

// sink reads every frame arriving on a server namespace's interface
// (AF_PACKET) and checks the flow frames among them.
type sink struct {
	name      string
	tenant    uint32
	ownMAC    adj.MAC // the server's
	routerMAC adj.MAC // the router port it is wired to
	fd        int
	stop      atomic.Bool
	done      chan struct{}

	mu struct {
		sync.Mutex
		seen     map[uint32]*seqSet // per flow
		arrivals map[uint32]uint64  // per flow, duplicates included
	}
	misdelivered atomic.Uint64
	frames       atomic.Uint64
	// arpRequests counts the ARP requests the router sent for addresses of
	// scanSubnet: the solicitations a scan costs.
	arpRequests atomic.Uint64
	lastBad     atomic.Pointer[string]
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func startSink(ns *netnstest.NS, ifname, name string, tenant uint32, own, router adj.MAC) (*sink, error) {
	s := &sink{name: name, tenant: tenant, ownMAC: own, routerMAC: router, done: make(chan struct{})}
	s.mu.seen = map[uint32]*seqSet{}
	s.mu.arrivals = map[uint32]uint64{}
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		s.fd = fd
		idx, err := ifindex(ifname)
		if err != nil {
			return err
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
		tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: idx})
	})
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", name, err)
	}
	go s.run()
	return s, nil
}

func ifindex(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return int(ifr.Uint32()), nil
}

func (s *sink) run() {
	defer close(s.done)
	buf := make([]byte, 2048)
	for !s.stop.Load() {
		n, from, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			continue // the read timeout, so stop is looked at
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		s.frame(buf[:n])
	}
}

// frame checks one received frame.
func (s *sink) frame(b []byte) {
	if len(b) >= 14+28 && binary.BigEndian.Uint16(b[12:]) == 0x0806 && binary.BigEndian.Uint16(b[14+6:]) == 1 {
		if scanSubnet.Contains(netip.AddrFrom4([4]byte(b[14+24 : 14+28]))) {
			s.arpRequests.Add(1)
		}
		return
	}
	if len(b) < 14+20+8+payloadLen || binary.BigEndian.Uint16(b[12:]) != 0x0800 {
		return
	}
	ihl := int(b[14]&0xf) * 4
	if b[14+9] != unix.IPPROTO_UDP || len(b) < 14+ihl+8+payloadLen {
		return
	}
	udp := b[14+ihl:]
	if binary.BigEndian.Uint16(udp[2:]) != flowPort {
		return
	}
	m, ok := readMarker(udp[8:])
	if !ok {
		return
	}
	s.frames.Add(1)
	dst, src := adj.MAC(b[0:6]), adj.MAC(b[6:12])
	if m.tenant != s.tenant || dst != s.ownMAC || src != s.routerMAC {
		s.misdelivered.Add(1)
		why := fmt.Sprintf("%s got a frame of FIB %d flow %d seq %d from %v to %v (want FIB %d from %v to %v)",
			s.name, m.tenant, m.flow, m.seq, src, dst, s.tenant, s.routerMAC, s.ownMAC)
		s.lastBad.Store(&why)
		return
	}
	s.mu.Lock()
	set := s.mu.seen[m.flow]
	if set == nil {
		set = &seqSet{}
		s.mu.seen[m.flow] = set
	}
	set.add(m.seq)
	s.mu.arrivals[m.flow]++
	s.mu.Unlock()
}

// arrivals counts the frames of flow received so far, repeats included.
func (s *sink) arrivals(flow uint32) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.arrivals[flow]
}

// received returns how many distinct sequence numbers in [lo, hi) of
// flow arrived.
func (s *sink) received(flow uint32, lo, hi uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.mu.seen[flow]
	if set == nil {
		return 0
	}
	return set.count(lo, hi)
}

func (s *sink) close() {
	s.stop.Store(true)
	<-s.done
	_ = unix.Close(s.fd)
}

// seqSet is a growable bitmap of sequence numbers.
type seqSet struct{ w []uint64 }

func (q *seqSet) add(seq uint64) {
	i := seq / 64
	if i >= 1<<26 { // 4G sequence numbers: far beyond any bounded run
		return
	}
	for uint64(len(q.w)) <= i {
		q.w = append(q.w, 0)
	}
	q.w[i] |= 1 << (seq % 64)
}

func (q *seqSet) count(lo, hi uint64) uint64 {
	var n uint64
	for s := lo; s < hi; s++ {
		if i := s / 64; i < uint64(len(q.w)) && q.w[i]&(1<<(s%64)) != 0 {
			n++
		}
	}
	return n
}

// window is a span of a flow's sequence numbers: what was sent between two
// moments, to be looked for at the sink.
type window struct{ lo, hi uint64 }

func (f *flow) mark() uint64 { return f.sent.Load() }

// lossPct is the share of a window's frames that never arrived.
func lossPct(s *sink, f *flow, w window) float64 {
	if w.hi <= w.lo {
		return 0
	}
	got := s.received(f.id, w.lo, w.hi)
	return 100 * float64(w.hi-w.lo-got) / float64(w.hi-w.lo)
}
