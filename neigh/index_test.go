package neigh

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/fibd/fibd/fib/adj"
)

// TestIndexAgainstMap drives the lock-free index with seeded random inserts
// and deletes and compares every key's presence with a plain map, across
// growth, tombstone purges and shrinking.
func TestIndexAgainstMap(t *testing.T) {
	for seed := range uint64(5) {
		r := rand.New(rand.NewPCG(seed, seed))
		ix := index{seed: r.Uint64()}
		golden := map[adj.Key]*entry{}
		var universe []adj.Key
		for i := range 3000 {
			a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
			if i%2 == 1 {
				a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
			}
			universe = append(universe, adj.Key{FIB: adj.FIBID(i % 3), Port: adj.PortID(i % 2), Addr: a})
		}
		for op := range 40000 {
			k := universe[r.IntN(len(universe))]
			// Bias towards growth first, then towards shrinking.
			insert := r.IntN(100) < 70
			if op > 20000 {
				insert = r.IntN(100) < 30
			}
			if e, ok := golden[k]; ok && !insert {
				ix.deleteLocked(e)
				ix.shrinkLocked()
				delete(golden, k)
			} else if !ok && insert {
				e := &entry{key: k}
				ix.insertLocked(e)
				golden[k] = e
			}
			if op%997 == 0 {
				for _, k := range universe {
					if got, want := ix.find(k), golden[k]; got != want {
						t.Fatalf("seed %d op %d: find(%v) = %p, want %p", seed, op, k, got, want)
					}
				}
				if ix.live != len(golden) {
					t.Fatalf("live %d, want %d", ix.live, len(golden))
				}
			}
		}
	}
}

// A lookup touches one slot and the entry's key and word; with entry in the
// 192-byte size class those always sit in one cache line.
func TestEntryHotFieldsShareACacheLine(t *testing.T) {
	if s := unsafe.Sizeof(entry{}); s != 192 {
		t.Fatalf("entry is %d bytes; adjust its padding to keep it at 192", s)
	}
	if end := unsafe.Offsetof(entry{}.word) + 8; end > 64 {
		t.Fatalf("key and word end at byte %d, beyond the first cache line", end)
	}
}
