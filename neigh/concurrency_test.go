package neigh_test

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/neigh"
)

func TestPacketPathAllocatesNothing(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{})
	kStatic := key(fibA, port1, netip.MustParseAddr("192.0.2.9"))
	h.tab.AddStatic(kStatic, macN3)
	kDyn := toReachable(t, h, families[1])
	miss := key(fibA, port1, netip.MustParseAddr("192.0.2.99"))
	pkt := make([]byte, 64)
	n := testing.AllocsPerRun(1000, func() {
		if _, _, ok := h.tab.Lookup(kStatic); !ok {
			t.Fatal("miss")
		}
		if _, _, ok := h.tab.Lookup(miss); ok {
			t.Fatal("hit")
		}
		if _, ok := h.tab.Resolve(kDyn, pkt); !ok {
			t.Fatal("unresolved")
		}
		if _, ok := h.tab.Resolve(kStatic, pkt); !ok {
			t.Fatal("unresolved")
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per lookup/resolve", n)
	}
}

// macOf gives each test address its own MAC, so a reader can tell a torn
// or misattributed read from a correct one.
func macOf(a netip.Addr) adj.MAC {
	b := a.As16()
	return adj.MAC{0x02, 0x55, b[12], b[13], b[14], b[15]}
}

func TestPacketPathConcurrentWithWriters(t *testing.T) {
	h := newHarness(t, neigh.FIBConfig{MaxEntries: 100})
	var keys []adj.Key
	for i := range 200 {
		keys = append(keys, key(fibA, port1, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 2)})))
	}
	const rounds = 3000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 3 {
		wg.Go(func() {
			pkt := []byte("payload")
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[(i*7+r)%len(keys)]
				if mac, st, ok := h.tab.Lookup(k); ok && st == adj.Valid && mac != macOf(k.Addr) {
					t.Errorf("Lookup(%v) = %v", k, mac)
					return
				}
				if mac, ok := h.tab.Resolve(k, pkt); ok && mac != macOf(k.Addr) {
					t.Errorf("Resolve(%v) = %v", k, mac)
					return
				}
			}
		})
	}
	for i := range rounds {
		k := keys[i%len(keys)]
		switch i % 5 {
		case 0:
			h.tab.AddStatic(k, macOf(k.Addr))
		case 1:
			h.tab.DeleteStatic(keys[(i+100)%len(keys)])
		case 2:
			h.tab.HandleARP(fibA, port1, macOf(k.Addr), arpBytes(t, neigh.ARP{Op: neigh.ARPReply, SenderMAC: macOf(k.Addr), SenderIP: k.Addr, TargetMAC: macPort1, TargetIP: v4Local}))
		case 3:
			h.clk.Advance(700 * time.Millisecond)
		case 4:
			if i%100 == 4 {
				h.tab.Flush(fibA, port1)
			}
			h.tab.Stats()
		}
	}
	close(stop)
	wg.Wait()
}
