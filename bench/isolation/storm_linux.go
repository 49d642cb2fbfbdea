package isolation

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/dataplane/packet"
)

// stormVariants is how many distinct malformed frames the storm cycles
// through.
const stormVariants = 4096

// storm sends StormFrames malformed and mutated frames into FIB 10's port
// at StormShare of the rate fibd forwards for that port (measured first, in
// the same run), while FIB 10's own valid flow runs on the same port at
// FlowPPS and the API is asked GetInfo every 50 ms: fibd must not panic
// (it is one process: a worker's panic ends it), must answer the API
// throughout, must account for every frame it received on every port, and
// the valid flow must lose at most 1 %.
func storm(ctx context.Context, tp *topology, cfg *Config, res *Result) error {
	c10 := tp.tenants[10]
	rate, err := measureForwarding(ctx, c10, 31)
	if err != nil {
		return err
	}
	res.StormForwardingPPS = rate
	res.StormPPS = rate * cfg.StormShare

	frames := stormFrames(rand.New(rand.NewPCG(1, 14)))
	sender, err := newRawSender(c10.client, "eth0", frames)
	if err != nil {
		return err
	}
	defer sender.close()
	maxFor := time.Duration(float64(cfg.StormFrames)/res.StormPPS*float64(time.Second)) + 5*time.Second
	valid, err := startFlow(c10.client, "storm-valid", 10, 32, []netip.Addr{serverAddr}, cfg.FlowPPS, maxFor+time.Minute)
	if err != nil {
		return err
	}
	defer valid.stopFlow()
	if err := tp.waitFlowing(ctx, []*flow{valid}); err != nil {
		return err
	}
	time.Sleep(cfg.Settle)

	// The API, asked throughout.
	var asked, answered atomic.Int64
	var slowest atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			actx, cancel := context.WithTimeout(ctx, time.Second)
			t0 := time.Now()
			_, err := tp.fibd.Conn.GetInfo(actx, &fibdpb.GetInfoRequest{})
			cancel()
			asked.Add(1)
			if err == nil {
				answered.Add(1)
				if d := time.Since(t0).Microseconds(); d > slowest.Load() {
					slowest.Store(d)
				}
			}
		}
	})
	ringBefore, err := rxRingDrops(ctx, tp, c10.in)
	if err != nil {
		return err
	}
	start := valid.mark()
	t0 := time.Now()
	res.StormSent = sender.run(res.StormPPS, cfg.StormFrames, maxFor, ctx.Done())
	res.StormSeconds = time.Since(t0).Seconds()
	res.StormRefusedBySender = sender.refused
	time.Sleep(cfg.Settle)
	end := valid.mark()
	close(stop)
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	res.StormValidLossPct = lossPct(c10.sink, valid, window{start, end})
	ringAfter, err := rxRingDrops(ctx, tp, c10.in)
	if err != nil {
		return err
	}
	res.StormRxRingDrops = ringAfter - ringBefore
	res.StormAPIAsked, res.StormAPIAnswered = int(asked.Load()), int(answered.Load())
	res.StormAPISlowestMs = float64(slowest.Load()) / 1e3

	if exited, werr := tp.fibd.Exited(); exited {
		res.StormWorkerPanics = 1
		return fmt.Errorf("fibd exited during the storm: %v", werr)
	}
	// Every frame a port received is forwarded, local, queued or dropped
	// on receive with a reason, once. Read once the flows are quiet on
	// this port (the valid flow has stopped sending at end + settle).
	valid.stopFlow()
	time.Sleep(cfg.Settle)
	st, err := tp.fibd.Conn.GetStats(ctx, &fibdpb.GetStatsRequest{})
	if err != nil {
		return fmt.Errorf("stats after the storm: %w", err)
	}
	res.StormCountersBalance = true
	for _, p := range st.GetPorts() {
		c := p.GetCounters()
		accounted := c.GetForwarded() + c.GetLocal() + c.GetNeighborQueued() + c.GetDropped() - c.GetTxDropped()
		if accounted != c.GetRxPackets() {
			res.StormCountersBalance = false
			res.StormUnbalancedPorts++
			res.StormUnbalanced = append(res.StormUnbalanced, fmt.Sprintf("%s: rx %d, accounted %d (%v)",
				p.GetPort(), c.GetRxPackets(), accounted, c.GetDrops()))
		}
		if p.GetPort() == c10.in {
			res.StormDropReasons = c.GetDrops()
		}
	}
	return ctx.Err()
}

// rxRingDrops is how many frames the kernel dropped on port's interface
// because fibd's receive ring was full: loss before fibd saw the frame,
// which says the machine, not fibd's parsing, ran out of cycles.
func rxRingDrops(ctx context.Context, tp *topology, port string) (uint64, error) {
	stream, err := tp.fibd.Conn.ListPorts(ctx, &fibdpb.ListPortsRequest{Port: port})
	if err != nil {
		return 0, err
	}
	var n uint64
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("ports: %w", err)
		}
		for _, p := range m.GetPorts() {
			c := p.GetIoCounters()
			n += c["afpacket_rx_kernel_drop"] + c["xdp_rx_dropped"] + c["xdp_rx_ring_full"]
		}
	}
}

// measureForwarding sends FIB 10's client's valid frames flat out for a
// second and returns the rate that reached the sink: fibd's forwarding
// rate for that port on this machine (bounded by the generator's core as
// much as by fibd's; both share 2 cores here).
func measureForwarding(ctx context.Context, tn *tenant, flowID uint32) (float64, error) {
	var frames [][]byte
	for i := range 64 {
		frames = append(frames, udpFrame(mac(tn.id, 1), mac(tn.id, 2), clientAddr.Addr(), serverAddr, 64, marker{tn.id, flowID, uint64(i)}))
	}
	blast, err := newRawSender(tn.client, "eth0", frames)
	if err != nil {
		return 0, err
	}
	defer blast.close()
	before := tn.sink.arrivals(flowID)
	t0 := time.Now()
	blast.run(0, 1<<30, time.Second, ctx.Done())
	time.Sleep(200 * time.Millisecond)
	return float64(tn.sink.arrivals(flowID)-before) / time.Since(t0).Seconds(), ctx.Err()
}

// stormFrames makes the storm's malformed frames, each from a valid UDP
// frame of FIB 10's client to the router's MAC, broken one way each, in
// turn: cut short, a bad IHL, a total length past the frame, a bad header
// checksum, a bad version, three stacked VLAN tags, IPv4 options of every
// sort (source routes, bad lengths), fragments (first, middle, overlapping,
// past 64 KiB), TTL 0, an IPv6 header with a bogus extension chain, and
// random bytes flipped in the headers. The payload (the marker) is never
// touched, so a frame that still gets through is counted as FIB 10's.
func stormFrames(r *rand.Rand) [][]byte {
	const l3 = 14
	out := make([][]byte, 0, stormVariants)
	for i := 0; len(out) < stormVariants; i++ {
		f := udpFrame(mac(10, 1), mac(10, 2), clientAddr.Addr(), serverAddr, 64, marker{10, 33, uint64(i)})
		ip := f[l3:]
		switch i % 11 {
		case 0: // cut anywhere in the IP and UDP headers (a link
			// header is the least a packet socket sends)
			f = f[:l3+r.IntN(28)]
		case 1:
			ip[0] = 0x40 | byte(r.IntN(5)) // IHL below 5
		case 2:
			binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)+1+r.IntN(2000)))
		case 3:
			ip[10] ^= byte(1 + r.IntN(255))
		case 4:
			ip[0] = byte(r.IntN(16))<<4 | 5
			if ip[0]>>4 == 4 {
				ip[0] = 0x75
			}
		case 5: // three tags
			tags := []byte{0x81, 0x00, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x0b, 0x81, 0x00, 0x00, 0x0c}
			f = append(append(append([]byte{}, f[:12]...), tags...), f[12:]...)
		case 6: // options, well and badly formed
			opts := [][]byte{{131, 7, 4, 198, 51, 100, 2, 0}, {137, 3, 4, 0}, {68, 1, 0, 0}, {7, 40, 4, 0},
				{1, 1, 1, 0}, {byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}}[r.IntN(6)]
			f = withIPv4Options(f, opts)
		case 7: // fragments
			off := uint16(r.IntN(8192))
			flags := uint16(0x2000) // MF
			if r.IntN(2) == 0 {
				flags = 0
			}
			binary.BigEndian.PutUint16(ip[6:], flags|off)
			fixIPv4Checksum(ip)
		case 8:
			ip[8] = byte(r.IntN(2)) // TTL 0 or 1
			fixIPv4Checksum(ip)
		case 9: // IPv6 with a hop-by-hop header chain that runs off the end
			f = append(f[:12:12], 0x86, 0xdd)
			v6 := make([]byte, 40+8)
			v6[0] = 0x60
			binary.BigEndian.PutUint16(v6[4:], uint16(8+r.IntN(64)))
			v6[6], v6[7] = 0, 64 // next header hop-by-hop
			copy(v6[8:], netip.MustParseAddr("2001:db8:1::2").AsSlice())
			copy(v6[24:], netip.MustParseAddr("2001:db8:2::2").AsSlice())
			v6[40], v6[41] = byte(r.IntN(256)), byte(r.IntN(32))
			f = append(f, v6...)
		case 10: // 1–8 random bytes of the Ethernet, IP and UDP headers
			for k := 1 + r.IntN(8); k > 0; k-- {
				f[r.IntN(l3+28)] ^= byte(1 + r.IntN(255))
			}
		}
		out = append(out, f)
	}
	return out
}

// withIPv4Options inserts options (padded to 4 bytes) after the fixed IPv4
// header, fixing IHL, total length and checksum.
func withIPv4Options(f, opts []byte) []byte {
	const l3 = 14
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	g := append(append(append([]byte{}, f[:l3+20]...), opts...), f[l3+20:]...)
	ip := g[l3:]
	ip[0] = 0x40 | byte((20+len(opts))/4)
	binary.BigEndian.PutUint16(ip[2:], binary.BigEndian.Uint16(ip[2:])+uint16(len(opts)))
	fixIPv4Checksum(ip)
	return g
}

// fixIPv4Checksum recomputes the header checksum of a header whose IHL
// makes sense, and leaves any other as it is (broken on purpose).
func fixIPv4Checksum(ip []byte) {
	hl := int(ip[0]&0x0f) * 4
	if hl < 20 || hl > len(ip) {
		return
	}
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], packet.Checksum(ip[:hl]))
}
