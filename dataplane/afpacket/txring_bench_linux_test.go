package afpacket

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/dataplane/pktio"
	"github.com/fibd/fibd/internal/netnstest"
)

// The TX path was chosen by measurement: these benchmarks send 60-byte
// frames into a veth whose peer namespace drops them (no listener, unknown
// ethertype), once with WriteBatch (sendmmsg, 64 frames per call) and once
// through an experimental TPACKET_V2 PACKET_TX_RING (64 frames written
// into the mapped ring, one send() kick). Each reports the sending
// thread's CPU per frame (getrusage RUSAGE_THREAD), which is less exposed
// to other load on the machine than wall time.

func benchPair(b *testing.B) (*netnstest.NS, string) {
	netnstest.Require(b)
	na, nb := netnstest.New(b, "ba"), netnstest.New(b, "bb")
	la, lb := netnstest.Name("a"), netnstest.Name("b")
	netnstest.Veth(b, la, na, lb, nb)
	na.Sysctl("net/ipv6/conf/"+la+"/disable_ipv6", "1")
	nb.Sysctl("net/ipv6/conf/"+lb+"/disable_ipv6", "1")
	return na, la
}

func threadCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkTxSendmmsg(b *testing.B) {
	ns, dev := benchPair(b)
	var p *Port
	if err := ns.Do(func() (err error) { p, err = Open(dev, Config{BlockSize: 64 << 10, NumBlocks: 2}); return err }); err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	frames := make([][]byte, pktio.BatchSize)
	for i := range frames {
		frames[i] = frame(macDst, macSrc, []uint16{0x88b5}, make([]byte, 46))
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	sent := 0
	for b.Loop() {
		n, err := p.WriteBatch(frames)
		if err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	b.ReportMetric(float64((threadCPU()-cpu0).Nanoseconds())/float64(sent), "cpu-ns/frame")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sent), "ns/frame")
}

func BenchmarkTxRingV2(b *testing.B) {
	ns, dev := benchPair(b)
	const frameSize, frameNr = 2048, 1024
	var fd int
	var ring []byte
	err := ns.Do(func() error {
		var err error
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
			return err
		}
		req := unix.TpacketReq{Block_size: 1 << 20, Block_nr: frameSize * frameNr / (1 << 20), Frame_size: frameSize, Frame_nr: frameNr}
		if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
			return err
		}
		if ring, err = unix.Mmap(fd, 0, frameSize*frameNr, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(dev)
		if err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: int(ifr.Uint32())})
	})
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	defer unix.Munmap(ring)
	f := frame(macDst, macSrc, []uint16{0x88b5}, make([]byte, 46))
	// tpacket_snd takes the frame from tp_hdrlen − sizeof(sockaddr_ll):
	// TPACKET_ALIGN(sizeof(tpacket2_hdr)) = 32 bytes into the slot.
	const dataOff = 32
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	sent, slot := 0, 0
	for b.Loop() {
		queued := 0
		for range pktio.BatchSize {
			h := (*unix.Tpacket2Hdr)(unsafe.Pointer(&ring[slot*frameSize]))
			st := (*uint32)(unsafe.Pointer(&h.Status))
			if atomic.LoadUint32(st) != unix.TP_STATUS_AVAILABLE {
				break // the kernel still holds it: ring full
			}
			copy(ring[slot*frameSize+dataOff:], f)
			h.Len = uint32(len(f))
			atomic.StoreUint32(st, unix.TP_STATUS_SEND_REQUEST)
			slot = (slot + 1) % frameNr
			queued++
		}
		if _, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), 0, 0, unix.MSG_DONTWAIT, 0, 0); e != 0 && e != unix.EAGAIN && e != unix.ENOBUFS {
			b.Fatal(e)
		}
		sent += queued
	}
	b.ReportMetric(float64((threadCPU()-cpu0).Nanoseconds())/float64(max(sent, 1)), "cpu-ns/frame")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(sent, 1)), "ns/frame")
}
