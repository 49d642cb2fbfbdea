package dataplane_test

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/fastpath"
)

// tableOp is one write the mirror made, in order.
type tableOp struct {
	kind string // "entry", "generation", "sync", "fib", "adj"
	gen  uint8
	slot uint32
	adj  fastpath.Adj
}

// recordingTables is a fastpath.Tables that records the mirror's writes
// and holds nothing: what the order of writes promises packets is checked
// from the log.
type recordingTables struct {
	mu  sync.Mutex
	ops []tableOp
}

func (r *recordingTables) add(op tableOp) error {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
	return nil
}

func (r *recordingTables) log() []tableOp {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tableOp(nil), r.ops...)
}

func (r *recordingTables) SetConfig([4]uint64, bool) error                      { return nil }
func (r *recordingTables) SetPort(fastpath.PortKey, fastpath.Port) error        { return nil }
func (r *recordingTables) DeletePort(fastpath.PortKey) error                    { return nil }
func (r *recordingTables) SetEgress(uint32, fastpath.Egress) error              { return nil }
func (r *recordingTables) SetRoute(uint32, netip.Prefix, uint32) error          { return nil }
func (r *recordingTables) DeleteRoute(uint32, netip.Prefix) error               { return nil }
func (r *recordingTables) SetNeighbor(uint32, uint32, netip.Addr, uint32) error { return nil }
func (r *recordingTables) DeleteNeighbor(uint32, uint32, netip.Addr) error      { return nil }
func (r *recordingTables) SetOwn(uint32, uint32, netip.Addr, bool) error        { return nil }
func (r *recordingTables) PortCounters(uint32) (fastpath.Counters, error) {
	return fastpath.Counters{}, nil
}
func (r *recordingTables) ResetPortCounters(uint32) error      { return nil }
func (r *recordingTables) FIBForwarded(uint32) (uint64, error) { return 0, nil }
func (r *recordingTables) Punts() ([]uint64, error)            { return nil, nil }
func (r *recordingTables) Redirectable(uint32) bool            { return true }
func (r *recordingTables) SetEntry(gen uint8, slot uint32, _ fastpath.Entry) error {
	return r.add(tableOp{kind: "entry", gen: gen, slot: slot})
}
func (r *recordingTables) SetAdj(id uint32, a fastpath.Adj) error {
	return r.add(tableOp{kind: "adj", slot: id, adj: a})
}
func (r *recordingTables) SetGeneration(slot uint32, gen uint8) error {
	return r.add(tableOp{kind: "generation", gen: gen, slot: slot})
}
func (r *recordingTables) DeleteFIB(slot uint32) error {
	return r.add(tableOp{kind: "fib", slot: slot})
}
func (r *recordingTables) Synchronize() error { return r.add(tableOp{kind: "sync"}) }

// TestFastPathWaitsForPacketsInFlight: after the mirror flips a FIB to a
// new generation, a packet that read the old one may still be running.
// Until a grace period (Synchronize) has passed, the mirror must not
// rewrite the old generation's entries, hand a slot the old generation
// named to anything else, or retire an adjacency — each would let that
// packet read half of a newer batch, or another route's next hop.
func TestFastPathWaitsForPacketsInFlight(t *testing.T) {
	tables := &recordingTables{}
	r := newRigWith(t, 2, func(c *dataplane.Config) { c.FastPath = tables })
	r.port("eth0", 0, 10, "192.0.2.1/24")
	out := r.port("eth1", 0, 10, "198.51.100.1/24")
	for i := 2; i < 2+16; i++ {
		r.neighbor(10, out, fmt.Sprintf("198.51.100.%d", i), ifMAC(0x40+i))
	}
	// 16 routes on 16 gateways, then each moved to the next gateway and
	// some withdrawn: entries are replaced, emptied and their slots
	// freed, batch after batch.
	for round := range 6 {
		for i := range 16 {
			p := fmt.Sprintf("203.0.113.%d/32", i)
			if round%3 == 2 && i%4 == 0 {
				if err := r.fib(10).Delete(netip.MustParsePrefix(p), "static"); err != nil {
					t.Fatal(err)
				}
				continue
			}
			r.route(10, p, via(fmt.Sprintf("198.51.100.%d", 2+(i+round)%16)))
		}
		if !r.e.WaitFastPath(5 * time.Second) {
			t.Fatal("the mirror did not catch up")
		}
	}

	ops := tables.log()
	// Per FIB slot: the generation packets read, and whether a grace
	// period has passed since the last flip.
	type state struct {
		gen     uint8
		flipped bool // flipped, and no grace period since
	}
	fibs := map[uint32]*state{}
	// An entry written in the generation packets no longer read, while a
	// packet that read it before the flip may still be running, is the
	// race.
	flips, syncs := 0, 0
	for i, op := range ops {
		switch op.kind {
		case "generation":
			st := fibs[op.slot]
			if st == nil {
				st = &state{}
				fibs[op.slot] = st
			}
			st.gen, st.flipped = op.gen, true
			flips++
		case "sync":
			for _, st := range fibs {
				st.flipped = false
			}
			syncs++
		case "entry":
			for fslot, st := range fibs {
				if st.flipped && op.gen != st.gen {
					t.Errorf("op %d: entry slot %d written in generation %d right after FIB slot %d flipped to %d, before a grace period",
						i, op.slot, op.gen, fslot, st.gen)
				}
			}
		case "adj":
			if !op.adj.Live {
				for fslot, st := range fibs {
					if st.flipped {
						t.Errorf("op %d: adjacency %d retired right after FIB slot %d flipped, before a grace period", i, op.slot, fslot)
					}
				}
			}
		}
	}
	if flips < 6 || syncs < flips/2 {
		t.Errorf("%d flips and %d grace periods: the test did not exercise the mirror", flips, syncs)
	}
	t.Logf("%d table writes: %d flips, %d grace periods", len(ops), flips, syncs)
}
