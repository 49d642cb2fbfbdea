package afpacket

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane/pktio"
	"github.com/fibd/fibd/internal/netnstest"
)

// udp4 is an Ethernet+IPv4+UDP frame of flow (src port sport → 198.51.100.1:9).
func udp4(sport uint16) []byte {
	ip := []byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1}
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	sum = sum&0xffff + sum>>16
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := binary.BigEndian.AppendUint16(nil, sport)
	udp = append(udp, 0, 9, 0, 8, 0, 0)
	return frame(net.HardwareAddr{2, 0, 0, 0, 0, 2}, net.HardwareAddr{2, 0, 0, 0, 0, 1}, []uint16{0x0800}, append(ip, udp...))
}

// One interface read through a fanout group of two sockets: every frame
// arrives exactly once, on one of them; the flows are spread over both;
// and a flow's frames all land on the same socket, in order.
func TestOpenGroupSpreadsFlows(t *testing.T) {
	netnstest.Require(t)
	na, nb := netnstest.New(t, "fa"), netnstest.New(t, "fb")
	la, lb := netnstest.Name("a"), netnstest.Name("b")
	netnstest.Run(t, "ip", "link", "add", la, "numtxqueues", "2", "numrxqueues", "2", "type", "veth", "peer", "name", lb, "numtxqueues", "2", "numrxqueues", "2")
	for _, e := range []struct {
		name string
		ns   *netnstest.NS
	}{{la, na}, {lb, nb}} {
		netnstest.Run(t, "ip", "link", "set", e.name, "netns", e.ns.Name)
		e.ns.Exec("ip", "link", "set", e.name, "up")
		e.ns.Sysctl("net/ipv6/conf/"+e.name+"/disable_ipv6", "1")
	}
	tx := openIn(t, na, la, Config{})
	var group []*Port
	if err := nb.Do(func() (err error) { group, err = OpenGroup(lb, 2, Config{}); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range group {
			_ = p.Close()
		}
	})
	if len(group) != 2 {
		t.Fatalf("OpenGroup(2) opened %d", len(group))
	}
	const flows, perFlow = 32, 8
	var wg sync.WaitGroup
	got := make([]map[uint16][]int, len(group)) // per socket: flow → sequence numbers seen
	stop := make(chan struct{})
	for i, p := range group {
		got[i] = map[uint16][]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			bufs := make([][]byte, pktio.BatchSize)
			for j := range bufs {
				bufs[j] = make([]byte, pktio.MaxFrame)
			}
			meta := make([]pktio.RxMeta, pktio.BatchSize)
			for {
				select {
				case <-stop:
					return
				default:
				}
				n, err := p.ReadBatch(bufs, meta)
				if err != nil {
					return
				}
				for j := range n {
					f := bufs[j][:meta[j].Len]
					if len(f) < 14+28 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
						continue
					}
					sport := binary.BigEndian.Uint16(f[34:])
					got[i][sport] = append(got[i][sport], int(binary.BigEndian.Uint16(f[18:]))) // IP ID: sequence
				}
			}
		}()
	}
	for seq := range perFlow {
		var batch [][]byte
		for fl := range flows {
			f := udp4(uint16(40000 + fl))
			binary.BigEndian.PutUint16(f[18:], uint16(seq)) // the IP ID carries the sequence (checksum left stale: not checked here)
			batch = append(batch, f)
		}
		if n, err := tx.WriteBatch(batch); err != nil || n != len(batch) {
			t.Fatalf("WriteBatch: %d of %d, %v", n, len(batch), err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		total := 0
		for _, p := range group {
			total += int(p.Stats().RxFrames)
		}
		if total >= flows*perFlow || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range group {
		_ = p.Close()
	}
	close(stop)
	wg.Wait()
	total, used := 0, 0
	owner := map[uint16]int{}
	for i := range got {
		if len(got[i]) > 0 {
			used++
		}
		for sport, seqs := range got[i] {
			if o, ok := owner[sport]; ok {
				t.Errorf("flow %d arrived on sockets %d and %d", sport, o, i)
			}
			owner[sport] = i
			for k, s := range seqs {
				if s != k {
					t.Errorf("flow %d on socket %d: sequence %v, want 0..%d in order", sport, i, seqs, perFlow-1)
					break
				}
			}
			total += len(seqs)
		}
	}
	if total != flows*perFlow {
		t.Errorf("received %d frames, want %d", total, flows*perFlow)
	}
	if used != len(group) {
		t.Errorf("%d flows all went to one socket of %d", flows, len(group))
	}
}
