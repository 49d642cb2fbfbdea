package adj

import (
	"net/netip"
	"testing"
)

// TestWatchSeesEveryStore: the watcher is told of link-layer and MTU
// stores with the adjacency's ID, on IDs of every slab chunk, and stops
// when cleared.
func TestWatchSeesEveryStore(t *testing.T) {
	var tb Table
	var ids []ID
	for i := range 300 { // more than one chunk
		ids = append(ids, tb.Acquire(Key{FIB: 1, Port: 1, Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})}))
	}
	var seen []ID
	tb.Watch(func(id ID, a *Adjacency) {
		if tb.Get(id) != a {
			t.Errorf("watch: ID %d is not its adjacency", id)
		}
		seen = append(seen, id)
	})
	tb.Get(ids[3]).SetLinkLayer(MAC{2}, Valid)
	tb.Get(ids[299]).SetMTU(1400)
	tb.Watch(nil)
	tb.Get(ids[4]).SetLinkLayer(MAC{2}, Valid)
	if len(seen) != 2 || seen[0] != ids[3] || seen[1] != ids[299] {
		t.Fatalf("watch saw %v, want [%d %d]", seen, ids[3], ids[299])
	}
}
