package dataplane

import (
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/fibd/fibd/dataplane/fastpath"
	"github.com/fibd/fibd/dataplane/packet"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// The mirror keeps an in-kernel fast path's tables (fastpath.Tables) equal
// to what the engine forwards with: every FIB's published snapshot, the
// adjacencies its entries use, and the ports. It is the engine's side of
// the fast path; the backend only stores what it is told.
//
// Routes and forwarding entries arrive from fib's forwarding observer,
// publication by publication, and are applied on the mirror's goroutine:
// into the FIB's inactive generation, then a flip, then a grace period
// (Tables.Synchronize), then the same writes into the other generation.
// A FIB's publications waiting together are applied as one, which is
// still whole batches (apply).
// Adjacency stores (neighbour changes) are written through at once by
// adj.Table's watcher: one map write. Ports, egress state and the FIBs'
// own addresses are re-read when the engine says they changed (kick) and
// every syncEvery, and written where they differ.
type mirror struct {
	e   *Engine
	t   fastpath.Tables
	log *slog.Logger

	stopObs func()
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}

	qmu   sync.Mutex
	queue []*fib.Forwarding
	// waiters are closed after the next pass of the loop (barrier).
	waiters []chan struct{}

	// Owned by the loop goroutine.
	fibs  map[adj.FIBID]*fibMirror
	slots slotAlloc
	ports map[fastpath.PortKey]fastpath.Port
	egr   map[uint32]fastpath.Egress
	own   map[ownKey]bool
	seen  map[uint32]*Port // the port each ID's counters belong to
	// overflow are the FIBs whose routes did not fit the fast path's
	// trie: punted whole until they are deleted.
	overflow map[adj.FIBID]bool

	// amu guards adjacency holds: the watcher runs on neigh's goroutines.
	amu  sync.Mutex
	held map[adj.ID]int // slots (in either generation) using each adjacency, and neighs
	// neighs are the VALID neighbours listed for attached destinations,
	// by their adjacency (which the listing holds).
	neighs map[adj.ID]adj.Key

	vmu    sync.Mutex
	synced map[adj.FIBID]uint64 // the FIB versions both generations hold
	// slots number the FIBs for the fast path's arrays (guarded by vmu:
	// the engine reads them for counters).
	slots4  map[adj.FIBID]uint32
	freeFIB []uint32
	nextFIB uint32
}

// fibSlot returns FIB id's slot, giving it one (cleared) on first use;
// false when every slot is taken (the FIB is then punted).
func (m *mirror) fibSlot(id adj.FIBID) (uint32, bool) {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	if s, ok := m.slots4[id]; ok {
		return s, true
	}
	var s uint32
	switch {
	case len(m.freeFIB) > 0:
		s = m.freeFIB[len(m.freeFIB)-1]
		m.freeFIB = m.freeFIB[:len(m.freeFIB)-1]
	case m.nextFIB < fastpath.MaxFIBs:
		s = m.nextFIB
		m.nextFIB++
	default:
		return 0, false
	}
	m.check(m.t.DeleteFIB(s), "FIB slot")
	m.slots4[id] = s
	return s, true
}

// slotOf returns FIB id's slot if it has one.
func (m *mirror) slotOf(id adj.FIBID) (uint32, bool) {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	s, ok := m.slots4[id]
	return s, ok
}

// takeFIBSlot punts FIB id's packets and takes its slot away from it;
// returnFIBSlot makes the slot available to another FIB, after a grace
// period (ports that named the slot a moment ago must not find another
// FIB's tables there).
func (m *mirror) takeFIBSlot(id adj.FIBID) (uint32, bool) {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	s, ok := m.slots4[id]
	if ok {
		m.check(m.t.DeleteFIB(s), "FIB slot")
		delete(m.slots4, id)
	}
	return s, ok
}

func (m *mirror) returnFIBSlot(s uint32) {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	m.freeFIB = append(m.freeFIB, s)
}

// fibMirror is what one FIB's tables hold, in both generations once a
// publication is replayed.
type fibMirror struct {
	gen     uint8                   // the generation packets read
	routes  map[netip.Prefix]uint32 // prefix → slot
	entries map[uint32]uint32       // forwarding entry → slot
	content map[uint32]slotContent  // slot → what it holds
	version uint64
	started bool // the FIB's generation word exists
}

type slotContent struct {
	e    fastpath.Entry
	adjs []adj.ID // held while the slot holds this content
}

type ownKey struct {
	fib  adj.FIBID
	addr netip.Addr
}

// slotAlloc hands out forwarding-entry slots; slot 0 is never handed out
// (an all-zero entry: punt).
type slotAlloc struct {
	next uint32
	free []uint32
}

func (s *slotAlloc) get() (uint32, bool) {
	if n := len(s.free); n > 0 {
		v := s.free[n-1]
		s.free = s.free[:n-1]
		return v, true
	}
	if s.next == 0 {
		s.next = 1
	}
	if s.next >= fastpath.MaxSlots {
		return 0, false
	}
	s.next++
	return s.next - 1, true
}

func (s *slotAlloc) put(v uint32) { s.free = append(s.free, v) }

// syncEvery bounds how stale port state can be when a change was not
// kicked (an MTU change the link watcher saw, an address added).
const syncEvery = 100 * time.Millisecond

func newMirror(e *Engine, t fastpath.Tables) (*mirror, error) {
	m := &mirror{e: e, t: t, log: e.log, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		fibs: map[adj.FIBID]*fibMirror{}, ports: map[fastpath.PortKey]fastpath.Port{}, egr: map[uint32]fastpath.Egress{},
		own: map[ownKey]bool{}, seen: map[uint32]*Port{}, overflow: map[adj.FIBID]bool{}, held: map[adj.ID]int{}, neighs: map[adj.ID]adj.Key{}, synced: map[adj.FIBID]uint64{},
		slots4: map[adj.FIBID]uint32{}}
	if err := t.SetConfig(packet.FlowSeed(), true); err != nil {
		return nil, err
	}
	e.adjs.Watch(m.adjChanged)
	// Neighbours resolved before the watch began are listed now (Range
	// holds the table's lock, so the listing happens after it).
	var ids []adj.ID
	e.adjs.Range(func(id adj.ID, _ *adj.Adjacency) bool { ids = append(ids, id); return true })
	for _, id := range ids {
		if a := e.adjs.Get(id); a != nil {
			m.adjChanged(id, a)
		}
	}
	m.stopObs = e.reg.ObserveForwarding(m.observe)
	go m.loop()
	return m, nil
}

// observe is fib's forwarding observer: it runs under the FIB's writer
// lock, so it only queues.
func (m *mirror) observe(d *fib.Forwarding) {
	m.qmu.Lock()
	m.queue = append(m.queue, d)
	m.qmu.Unlock()
	m.poke()
}

func (m *mirror) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *mirror) close() {
	m.stopObs()
	m.e.adjs.Watch(nil)
	close(m.stop)
	<-m.done
}

func (m *mirror) loop() {
	defer close(m.done)
	tick := time.NewTicker(syncEvery)
	defer tick.Stop()
	for {
		m.qmu.Lock()
		q, ws := m.queue, m.waiters
		m.queue, m.waiters = nil, nil
		m.qmu.Unlock()
		m.apply(q)
		m.syncPorts()
		for _, w := range ws {
			close(w)
		}
		select {
		case <-m.stop:
			return
		case <-m.kick:
		case <-tick.C:
		}
	}
}

// apply applies queued publications in two phases. First, for each FIB,
// a deletion (dropping what was queued before it) and then one merged
// publication: entries into the inactive generation, routes into the
// trie's working version, the flip. Then one grace period for all of them
// (Tables.Synchronize), after which no packet still reads an old
// generation, and only then the replay into the old generation and the
// release of the slots, adjacencies and FIB slots the old content named.
// FIBs are independent, so taking each FIB's publications together (its
// own order kept) still shows packets whole batches, and the grace
// period's cost — milliseconds — is paid once per pass, however many
// publications it carries.
func (m *mirror) apply(q []*fib.Forwarding) {
	type plan struct{ del, pub *fib.Forwarding }
	plans := map[adj.FIBID]*plan{}
	var order []adj.FIBID
	for _, d := range q {
		p := plans[d.FIB]
		if p == nil {
			p = &plan{}
			plans[d.FIB] = p
			order = append(order, d.FIB)
		}
		switch {
		case d.Deleted:
			p.del, p.pub = d, nil
		case p.pub == nil:
			p.pub = d
		default:
			p.pub = merge(p.pub, d)
		}
	}
	var after []func()
	for _, id := range order {
		p := plans[id]
		if p.del != nil {
			after = append(after, m.applyOne(p.del))
		}
		if p.pub != nil {
			after = append(after, m.applyOne(p.pub))
		}
	}
	if len(after) == 0 {
		return
	}
	m.check(m.t.Synchronize(), "grace period")
	for _, f := range after {
		f()
	}
}

// merge folds b, published after a, into a (absolute values: later wins).
// A full state replaces what came before it.
func merge(a, b *fib.Forwarding) *fib.Forwarding {
	if b.Full {
		return b
	}
	out := &fib.Forwarding{FIB: a.FIB, Version: b.Version, Full: a.Full}
	out.Routes = append(append(out.Routes, a.Routes...), b.Routes...)
	out.Entries = append(append(out.Entries, a.Entries...), b.Entries...)
	return out
}

// applyOne applies a publication up to its flip and returns what must
// wait for the grace period after it: the replay into the old generation,
// releases, and the FIB's synced version.
func (m *mirror) applyOne(d *fib.Forwarding) (after func()) {
	fm := m.fibs[d.FIB]
	synced := func() { m.setSynced(d.FIB, d.Version) }
	if d.Deleted {
		if fm != nil {
			release := m.dropFIB(d.FIB, fm)
			delete(m.overflow, d.FIB)
			return func() { release(); synced() }
		}
		delete(m.overflow, d.FIB)
		return synced
	}
	if m.overflow[d.FIB] {
		return synced
	}
	if fm != nil && !d.Full && len(d.Routes)+len(d.Entries) == 0 {
		return synced
	}
	if fm == nil {
		fm = &fibMirror{routes: map[netip.Prefix]uint32{}, entries: map[uint32]uint32{}, content: map[uint32]slotContent{}}
		m.fibs[d.FIB] = fm
	}
	// Full lists everything that exists: whatever the mirror has beyond it
	// goes.
	routes, entries := d.Routes, d.Entries
	if d.Full {
		want := make(map[netip.Prefix]bool, len(routes))
		for _, r := range routes {
			want[r.Prefix] = true
		}
		for p := range fm.routes {
			if !want[p] {
				routes = append(routes, fib.FwdRoute{Prefix: p})
			}
		}
		live := make(map[uint32]bool, len(entries))
		for _, e := range entries {
			live[e.Entry] = true
		}
		for i := range fm.entries {
			if !live[i] {
				entries = append(entries, fib.FwdEntry{Entry: i})
			}
		}
	}
	// Plan the slots: new content for an entry's slot, slots to free.
	type write struct {
		slot uint32
		c    slotContent
	}
	var writes []write
	var retired []slotContent // contents replaced: their holds end after the replay
	var freed []uint32
	for _, en := range entries {
		slot, had := fm.entries[en.Entry]
		if en.Next == nil {
			if had {
				delete(fm.entries, en.Entry)
				retired = append(retired, fm.content[slot])
				delete(fm.content, slot)
				freed = append(freed, slot)
			}
			continue
		}
		if !had {
			var ok bool
			if slot, ok = m.slots.get(); !ok {
				m.log.Warn("fast path: forwarding-entry slots exhausted; routes on this entry are punted", "fib", d.FIB, "entry", en.Entry)
				continue
			}
			fm.entries[en.Entry] = slot
		} else {
			retired = append(retired, fm.content[slot])
		}
		c := m.contentOf(en.Next)
		fm.content[slot] = c
		writes = append(writes, write{slot, c})
	}
	type rw struct {
		p    netip.Prefix
		slot uint32 // 0 (an all-zero entry: punt) if the entry got no slot
		del  bool
	}
	var rws []rw
	for _, r := range routes {
		if r.Entry == 0 {
			if _, ok := fm.routes[r.Prefix]; ok {
				delete(fm.routes, r.Prefix)
				rws = append(rws, rw{p: r.Prefix, del: true})
			}
			continue
		}
		slot := fm.entries[r.Entry]
		fm.routes[r.Prefix] = slot
		rws = append(rws, rw{p: r.Prefix, slot: slot})
	}
	// Entries into the inactive generation, the routes into the trie's
	// working version, flip, then the entries into the other.
	next := fm.gen ^ 1
	if !fm.started {
		next = 1
	}
	writeEntries := func(g uint8) {
		for _, w := range writes {
			m.check(m.t.SetEntry(g, w.slot, w.c.e), "entry")
		}
	}
	fslot, ok := m.fibSlot(d.FIB)
	if !ok {
		m.log.Warn("fast path: FIB slots exhausted; the FIB is punted", "fib", d.FIB)
		return func() {}
	}
	// The contents the plan replaced or removed, which fm no longer holds.
	releaseReplaced := func() {
		for _, c := range retired {
			m.release(c.adjs)
		}
		for _, s := range freed {
			m.slots.put(s)
		}
	}
	writeEntries(next)
	for _, r := range rws {
		var err error
		if r.del {
			err = m.t.DeleteRoute(fslot, r.p)
		} else {
			err = m.t.SetRoute(fslot, r.p, r.slot)
		}
		if err != nil {
			// The working version is incomplete: publishing it would
			// forward on shorter prefixes than the FIB holds. The FIB
			// is punted to user space, which has all of it, until it
			// is deleted.
			m.log.Warn("fast path: route table full; the FIB is punted", "fib", d.FIB, "err", err)
			release := m.dropFIB(d.FIB, fm) // what fm still holds
			m.overflow[d.FIB] = true
			return func() { release(); releaseReplaced(); synced() }
		}
	}
	m.check(m.t.SetGeneration(fslot, next), "generation")
	old := fm.gen
	fm.gen, fm.started = next, true
	fm.version = d.Version
	return func() {
		writeEntries(old)
		releaseReplaced()
		synced()
	}
}

// dropFIB makes the FIB's packets punted and forgets it; it returns the
// release of its entry slots, adjacencies and FIB slot, for after the
// grace period (a packet that read the FIB a moment before may still use
// them).
func (m *mirror) dropFIB(id adj.FIBID, fm *fibMirror) (release func()) {
	fslot, had := m.takeFIBSlot(id) // drops its routes too
	delete(m.fibs, id)
	return func() {
		for slot, c := range fm.content {
			m.release(c.adjs)
			m.slots.put(slot)
		}
		if had {
			m.returnFIBSlot(fslot)
		}
	}
}

// contentOf turns a forwarding entry into what the fast path stores, and
// holds its adjacencies (the entry holds them now; the hold keeps the IDs
// from reuse while the maps may name them).
func (m *mirror) contentOf(n *fib.Next) slotContent {
	if n.Kind == fib.NextAttached {
		return slotContent{e: fastpath.Entry{Attached: true, Port: uint32(n.Port), Ports: []uint32{uint32(n.Port)}}}
	}
	if n.Kind != fib.NextGateway {
		return slotContent{}
	}
	c := slotContent{e: fastpath.Entry{Gateway: true, Adj: uint32(n.Adj)}}
	members := []adj.ID{n.Adj}
	if n.Group != nil {
		members = n.Group
		c.e.Buckets = make([]uint32, len(n.Group))
		for i, id := range n.Group {
			c.e.Buckets[i] = uint32(id)
		}
	}
	c.e.Ports = m.portsOf(members)
	c.adjs = append([]adj.ID(nil), n.Adjacencies()...)
	m.hold(c.adjs)
	return c
}

// portsOf lists the distinct ports adjacencies ids leave through, for the
// program's strict uRPF check (the engine's reversePath reads the same
// adjacency ports; an adjacency's port never changes). An adjacency the
// table no longer has, or more than RPFPorts ports, make it nil: no port
// passes the program's check, so strict uRPF traffic on the entry is
// punted to the engine.
func (m *mirror) portsOf(ids []adj.ID) []uint32 {
	var ports []uint32
	for _, id := range ids {
		a := m.e.adjs.Get(id)
		if a == nil {
			return nil
		}
		p := uint32(a.Port())
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	if len(ports) > fastpath.RPFPorts {
		return nil
	}
	return ports
}

func (m *mirror) hold(ids []adj.ID) {
	m.amu.Lock()
	defer m.amu.Unlock()
	for _, id := range ids {
		m.holdLocked(id)
	}
}

func (m *mirror) holdLocked(id adj.ID) {
	if id == adj.None || id >= fastpath.MaxAdjs {
		return
	}
	m.held[id]++
	if m.held[id] == 1 {
		m.e.adjs.Hold(id)
		m.writeAdjLocked(id)
	}
}

func (m *mirror) release(ids []adj.ID) {
	m.amu.Lock()
	defer m.amu.Unlock()
	for _, id := range ids {
		m.releaseLocked(id)
	}
}

func (m *mirror) releaseLocked(id adj.ID) {
	if id == adj.None || id >= fastpath.MaxAdjs {
		return
	}
	if m.held[id]--; m.held[id] > 0 {
		return
	}
	delete(m.held, id)
	m.check(m.t.SetAdj(uint32(id), fastpath.Adj{}), "adjacency")
	m.e.adjs.Unhold(id)
}

// adjChanged is adj.Table's watcher: a neighbour's MAC or state, or a
// path MTU, changed; write it through if the fast path uses it. A
// neighbour that turns VALID is listed for attached destinations (the
// engine finds the same entry through neigh), and unlisted — before its
// adjacency is rewritten — as soon as it is not: STALE, INCOMPLETE and
// FAILED neighbours are the engine's, and a removed one publishes
// INCOMPLETE before it goes.
func (m *mirror) adjChanged(id adj.ID, a *adj.Adjacency) {
	m.amu.Lock()
	defer m.amu.Unlock()
	k := a.Key()
	_, st := a.LinkLayer()
	_, listed := m.neighs[id]
	want := st == adj.Valid && k.Addr.IsValid() && id < fastpath.MaxAdjs && !m.directedBroadcast(k)
	switch {
	case want && !listed:
		m.holdLocked(id) // writes the adjacency
		m.neighs[id] = k
		m.check(m.t.SetNeighbor(uint32(k.FIB), uint32(k.Port), k.Addr, uint32(id)), "neighbour")
	case !want && listed:
		old := m.neighs[id]
		delete(m.neighs, id)
		m.check(m.t.DeleteNeighbor(uint32(old.FIB), uint32(old.Port), old.Addr), "neighbour")
		m.writeAdjLocked(id)
		m.releaseLocked(id)
	case m.held[id] > 0:
		m.writeAdjLocked(id)
	}
}

// directedBroadcast reports whether k's address is a connected subnet's
// broadcast address in its FIB, which the engine never forwards to.
func (m *mirror) directedBroadcast(k adj.Key) bool {
	f, ok := m.e.reg.Get(k.FIB)
	return ok && k.Addr.Is4() && f.IsDirectedBroadcast(k.Addr)
}

// writeAdjLocked writes what the adjacency holds now: concurrent stores
// each end here under amu, and the last one writes the latest state.
func (m *mirror) writeAdjLocked(id adj.ID) {
	a := m.e.adjs.Get(id)
	if a == nil {
		return
	}
	mac, st := a.LinkLayer()
	m.check(m.t.SetAdj(uint32(id), fastpath.Adj{MAC: mac, State: uint8(st), Live: true, Port: uint32(a.Port()), MTU: a.MTU()}), "adjacency")
}

func (m *mirror) check(err error, what string) {
	if err != nil {
		m.log.Warn("fast path: table write failed", "table", what, "err", err)
	}
}

func (m *mirror) setSynced(id adj.FIBID, v uint64) {
	m.vmu.Lock()
	m.synced[id] = v
	m.vmu.Unlock()
}

// barrier returns once the loop has made a full pass (applied what was
// queued, synced the ports) after the call, or timeout passed.
func (m *mirror) barrier(timeout time.Duration) bool {
	w := make(chan struct{})
	m.qmu.Lock()
	m.waiters = append(m.waiters, w)
	m.qmu.Unlock()
	m.poke()
	select {
	case <-w:
		return true
	case <-time.After(timeout):
		return false
	}
}

// syncedAll reports whether every FIB's current version is in both
// generations.
func (m *mirror) syncedAll() bool {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	for _, f := range m.e.reg.List() {
		if m.synced[f.ID()] < f.Version() {
			return false
		}
	}
	return true
}

// fastRPF is each RPFMode as the fast path's tables spell it.
var fastRPF = [numRPFModes]fastpath.RPF{RPFOff: fastpath.RPFOff, RPFLoose: fastpath.RPFLoose, RPFStrict: fastpath.RPFStrict}

// fastIO is implemented by packet I/O that runs the fast path.
type fastIO interface{ FastPathActive() bool }

// syncPorts writes the ports' ingress and egress entries and the FIBs' own
// addresses where they differ from what the engine has now.
func (m *mirror) syncPorts() {
	wantPorts := map[fastpath.PortKey]fastpath.Port{}
	wantEgr := map[uint32]fastpath.Egress{}
	// Redirectable asks the kernel (netlink): once per interface, not per
	// port, however many VLANs share it.
	redirectable := map[int]bool{}
	for _, p := range *m.e.ports.Load() {
		if p == nil || uint32(p.id) >= fastpath.MaxPorts {
			continue
		}
		f := p.fib.Load()
		l := p.ifc.live.Load()
		if f == nil || l == nil {
			wantEgr[uint32(p.id)] = fastpath.Egress{}
			continue
		}
		if m.seen[uint32(p.id)] != p {
			// Port IDs are reused: a new port's counters start from zero,
			// before it is in the tables.
			m.check(m.t.ResetPortCounters(uint32(p.id)), "port counters")
			m.seen[uint32(p.id)] = p
		}
		fast := len(l.ios) > 0
		for _, io := range l.ios {
			if fi, ok := io.(fastIO); !ok || !fi.FastPathActive() {
				fast = false
			}
		}
		up := p.ifc.linkUp.Load() && p.ifc.healthy()
		k := fastpath.PortKey{Ifindex: uint32(l.index)}
		switch {
		case p.tags.Outer == 0:
		case p.tags.Inner == 0:
			k.TPID, k.VID, k.Tags = p.tags.OuterTPID, p.tags.Outer&0x0fff, 1
		default:
			k.TPID, k.VID, k.Inner, k.Tags = p.tags.OuterTPID, p.tags.Outer&0x0fff, p.tags.Inner&0x0fff, 2
		}
		s := unpackSettings(p.settings.Load())
		if fslot, ok := m.fibSlot(f.ID()); fast && ok {
			wantPorts[k] = fastpath.Port{ID: uint32(p.id), FIB: uint32(f.ID()), FIBSlot: fslot, MAC: l.mac, Fast: up, RPF: fastRPF[s.RPF]}
		}
		e := fastpath.Egress{FIB: uint32(f.ID()), MTU: uint32(p.ifc.mtu.Load()), Up: p.ifc.linkUp.Load(), MAC: l.mac,
			TPID: p.tags.OuterTPID, Outer: p.tags.Outer, Inner: p.tags.Inner}
		if fast {
			ok, asked := redirectable[l.index]
			if !asked {
				ok = m.t.Redirectable(uint32(l.index))
				redirectable[l.index] = ok
			}
			if ok {
				e.Ifindex = uint32(l.index)
			}
		}
		wantEgr[uint32(p.id)] = e
	}
	syncTable(m.ports, wantPorts, func(k fastpath.PortKey, v fastpath.Port) { m.check(m.t.SetPort(k, v), "port") },
		func(k fastpath.PortKey) { m.check(m.t.DeletePort(k), "port") })
	syncTable(m.egr, wantEgr, func(id uint32, v fastpath.Egress) { m.check(m.t.SetEgress(id, v), "egress") },
		func(id uint32) { m.check(m.t.SetEgress(id, fastpath.Egress{}), "egress") })
	wantOwn := map[ownKey]bool{}
	for _, f := range m.e.reg.List() {
		for _, ps := range f.AllAddresses() {
			for _, p := range ps {
				wantOwn[ownKey{f.ID(), p.Addr().Unmap()}] = true
			}
		}
	}
	for k := range wantOwn {
		if fslot, ok := m.fibSlot(k.fib); ok && !m.own[k] {
			m.check(m.t.SetOwn(uint32(k.fib), fslot, k.addr, true), "own address")
			m.own[k] = true
		}
	}
	for k := range m.own {
		if fslot, ok := m.slotOf(k.fib); !wantOwn[k] {
			if ok {
				m.check(m.t.SetOwn(uint32(k.fib), fslot, k.addr, false), "own address")
			}
			delete(m.own, k)
		}
	}
}

// syncTable makes have (what a table holds) equal to want, writing only
// the entries that differ.
func syncTable[K, V comparable](have, want map[K]V, set func(K, V), del func(K)) {
	for k, v := range want {
		if old, ok := have[k]; !ok || old != v {
			set(k, v)
			have[k] = v
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			del(k)
			delete(have, k)
		}
	}
}

// FastPathStats is what the in-kernel fast path did.
type FastPathStats struct {
	Enabled bool
	// Interfaces run the fast path program (native XDP).
	Interfaces []string
	Forwarded  uint64
	// Punts counts frames handed to the engine, by reason.
	Punts map[string]uint64
}

// FastPath reports the fast path's counters; Enabled is false without one.
func (e *Engine) FastPath() FastPathStats {
	if e.fast == nil {
		return FastPathStats{}
	}
	st := FastPathStats{Enabled: true, Punts: map[string]uint64{}}
	if ps, err := e.fast.t.Punts(); err == nil {
		for i, n := range ps {
			if n > 0 && i < len(fastpath.PuntReasons) {
				st.Punts[fastpath.PuntReasons[i]] = n
			}
		}
	}
	e.mu.Lock()
	for name, ifc := range e.mu.ifaces {
		if l := ifc.live.Load(); l != nil && len(l.ios) > 0 {
			if fi, ok := l.ios[0].(fastIO); ok && fi.FastPathActive() {
				st.Interfaces = append(st.Interfaces, name)
			}
		}
	}
	e.mu.Unlock()
	for _, p := range *e.ports.Load() {
		if p != nil {
			if c, err := e.fast.t.PortCounters(uint32(p.id)); err == nil {
				st.Forwarded += c.Forwarded
			}
		}
	}
	return st
}

// WaitFastPath waits until the fast path's tables hold every FIB's current
// version in both generations and the ports as they are now (tests and
// benchmarks, before they send), or timeout passes. It reports whether
// they do; true without a fast path.
func (e *Engine) WaitFastPath(timeout time.Duration) bool {
	if e.fast == nil {
		return true
	}
	deadline := time.Now().Add(timeout)
	for {
		if !e.fast.barrier(time.Until(deadline)) {
			return false
		}
		if e.fast.syncedAll() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
