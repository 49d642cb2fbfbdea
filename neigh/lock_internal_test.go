package neigh

import (
	"net/netip"
	"testing"
	"time"

	"github.com/fibd/fibd/fib/adj"
)

// openEnv is an Env where every address is on-link and nothing is local;
// what it is asked to send it drops.
type openEnv struct{}

func (openEnv) PortMAC(adj.PortID) (adj.MAC, bool) { return adj.MAC{2, 0, 0, 0, 0, 1}, true }
func (openEnv) SourceFor(adj.FIBID, adj.PortID, netip.Addr) (netip.Addr, bool) {
	return netip.MustParseAddr("192.0.2.1"), true
}
func (openEnv) IsLocal(adj.FIBID, adj.PortID, netip.Addr) bool          { return false }
func (openEnv) OnLink(adj.FIBID, adj.PortID, netip.Addr) bool           { return true }
func (openEnv) Transmit(adj.FIBID, adj.PortID, adj.MAC, uint16, []byte) {}
func (openEnv) Deliver(adj.Key, adj.MAC, [][]byte)                      {}
func (openEnv) Unreachable(adj.Key, [][]byte)                           {}

// TestOneFIBsLockDoesNotStopAnother: while FIB 10's state is locked — as a
// flood of its ARP or a scan's resolutions hold it over and over — FIB
// 20's slow path (a new neighbour, an ARP packet, a static entry, a timer)
// goes on. With one table-wide mutex it waited.
func TestOneFIBsLockDoesNotStopAnother(t *testing.T) {
	tab, err := New(Config{Adj: new(adj.Table), Env: openEnv{}})
	if err != nil {
		t.Fatal(err)
	}
	f10 := tab.lockFIB(10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		k := adj.Key{FIB: 20, Port: 2, Addr: netip.MustParseAddr("192.0.2.7")}
		tab.Resolve(k, []byte("x"))
		_ = tab.AddStatic(adj.Key{FIB: 20, Port: 2, Addr: netip.MustParseAddr("192.0.2.8")}, adj.MAC{2, 0, 0, 0, 0, 8})
		tab.List(20, func(Entry) bool { return true })
		_ = tab.Stats // Stats visits every FIB, so it waits for FIB 10 by design
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		f10.mu.Unlock()
		t.Fatal("FIB 20's slow path waited for FIB 10's lock")
	}
	f10.mu.Unlock()
}
