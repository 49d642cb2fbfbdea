package isolation

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/internal/netnstest"
)

// icmp floods FIB 10 with TTL=1 packets at half of what fibd forwards for
// it (measured first, in the same run), each an ICMP time exceeded the
// router would make, while FIB 20's client sends TTL=1 probes at 100 pps:
// FIB 20's probes must still be answered (≥ 99 %), and its flow lose no
// more than it does in the same window without the flood (+ 0.1 %).
func icmp(ctx context.Context, tp *topology, cfg *Config, res *Result) error {
	c10, c20 := tp.tenants[10], tp.tenants[20]
	// fibd's forwarding rate for FIB 10's client, flat out for a second.
	rate, err := measureForwarding(ctx, c10, 21)
	if err != nil {
		return err
	}
	res.ICMPForwardingPPS = rate
	res.ICMPFloodPPS = rate / 2

	// TTL=1 frames: FIB 10's flood and FIB 20's probes.
	var flood [][]byte
	for i := range 64 {
		flood = append(flood, udpFrame(mac(10, 1), mac(10, 2), clientAddr.Addr(), serverAddr, 1, marker{10, 23, uint64(i)}))
	}
	probe := [][]byte{udpFrame(mac(20, 1), mac(20, 2), clientAddr.Addr(), serverAddr, 1, marker{20, 22, 0})}
	catch, err := startICMPCatcher(c20.client, "eth0", 40000+22)
	if err != nil {
		return err
	}
	defer catch.close()

	// One window without the flood, one with it, alike in all else.
	windowRun := func(name string, flood [][]byte, floodPPS float64) (victimLoss, answered float64, err error) {
		victim, err := startFlow(c20.client, "icmp-victim-"+name, 20, 24, []netip.Addr{serverAddr}, cfg.FlowPPS, cfg.ICMPFor+time.Minute)
		if err != nil {
			return 0, 0, err
		}
		defer victim.stopFlow()
		if err := tp.waitFlowing(ctx, []*flow{victim}); err != nil {
			return 0, 0, err
		}
		time.Sleep(cfg.Settle)
		prober, err := newRawSender(c20.client, "eth0", probe)
		if err != nil {
			return 0, 0, err
		}
		defer prober.close()
		var flooder *rawSender
		if flood != nil {
			if flooder, err = newRawSender(c10.client, "eth0", flood); err != nil {
				return 0, 0, err
			}
			defer flooder.close()
		}
		start := victim.mark()
		answers0 := catch.n.Load()
		stop := make(chan struct{})
		floodSent := make(chan int, 1)
		if flooder != nil {
			go func() { floodSent <- flooder.run(floodPPS, 1<<30, cfg.ICMPFor, stop) }()
		}
		probes := prober.run(100, int(cfg.ICMPFor.Seconds()*100), cfg.ICMPFor+time.Second, ctx.Done())
		close(stop)
		if flooder != nil {
			res.ICMPFloodSent = <-floodSent
		}
		time.Sleep(cfg.Settle)
		end := victim.mark()
		time.Sleep(200 * time.Millisecond)
		got := catch.n.Load() - answers0
		if probes > 0 {
			answered = 100 * float64(got) / float64(probes)
		}
		return lossPct(c20.sink, victim, window{start, end}), answered, ctx.Err()
	}
	var quietAnswered float64
	if res.ICMPBaselineVictimLossPct, quietAnswered, err = windowRun("quiet", nil, 0); err != nil {
		return fmt.Errorf("without the flood: %w", err)
	}
	res.ICMPBaselineAnsweredPct = quietAnswered
	if res.ICMPVictimLossPct, res.ICMPVictimAnsweredPct, err = windowRun("flood", flood, res.ICMPFloodPPS); err != nil {
		return fmt.Errorf("with the flood: %w", err)
	}
	return nil
}

// icmpCatcher counts the ICMP time exceeded messages arriving on an
// interface whose quoted packet is UDP from srcPort.
type icmpCatcher struct {
	fd   int
	n    atomic.Uint64
	stop atomic.Bool
	done chan struct{}
}

func startICMPCatcher(ns *netnstest.NS, ifname string, srcPort uint16) (*icmpCatcher, error) {
	c := &icmpCatcher{done: make(chan struct{})}
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
		if err != nil {
			return err
		}
		c.fd = fd
		idx, err := ifindex(ifname)
		if err != nil {
			return err
		}
		tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: idx})
	})
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(c.done)
		buf := make([]byte, 2048)
		for !c.stop.Load() {
			n, _, err := unix.Recvfrom(c.fd, buf, 0)
			if err != nil || n < 14+20+8+20+8 {
				continue
			}
			b := buf[14:n]
			ihl := int(b[0]&0xf) * 4
			if b[9] != unix.IPPROTO_ICMP || len(b) < ihl+8+20+8 {
				continue
			}
			msg := b[ihl:]
			if msg[0] != 11 || msg[1] != 0 { // time exceeded in transit
				continue
			}
			inner := msg[8:]
			iihl := int(inner[0]&0xf) * 4
			if inner[9] == unix.IPPROTO_UDP && len(inner) >= iihl+8 && binary.BigEndian.Uint16(inner[iihl:]) == srcPort {
				c.n.Add(1)
			}
		}
	}()
	return c, nil
}

func (c *icmpCatcher) close() {
	c.stop.Store(true)
	<-c.done
	_ = unix.Close(c.fd)
}
