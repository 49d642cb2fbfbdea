package xdp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/dataplane/fastpath"
)

// FastPath is the in-kernel fast path: one set of table maps shared by
// every interface whose sockets are opened with it (Options.FastPath), and
// one instance of the program per interface, each with that interface's
// own XSKMAP for the frames it punts. It implements fastpath.Tables.
type FastPath struct {
	spec *ebpf.CollectionSpec
	maps map[string]*ebpf.Map // every map but xsks
	m    fastpathMaps         // the same maps, by name

	mu        sync.Mutex
	redirects map[uint32]int // ifindex → attachments that put it in tx_ports
	// features asks the kernel whether a redirect target takes redirected
	// frames (xmiterr_linux.go); opened in the first interface's
	// namespace, nil where the kernel cannot say.
	features *featureWatch
	featInit bool
	progs    map[*ebpf.Program]struct{}
	closed   bool

	// The routes: fibd's multibit trie in the trie map, written through
	// mem (a shared mapping of it); one TrieFIB per FIB slot.
	mem  []byte
	trie *fastpath.Trie
	// fibsMem maps the fibs array, whose words SetGeneration, SetOwn and
	// DeleteFIB store atomically (fibWord).
	fibsMem []byte
	tfibs   map[uint32]*fastpath.TrieFIB

	// quiesce is a map of maps no program reads: updating its one slot
	// waits out an RCU grace period (waitPrograms).
	quiesce, quiesceInner *ebpf.Map
}

var _ fastpath.Tables = (*FastPath)(nil)

// progNameFast is the fast path program's name, under fibd's prefix so a
// leftover is recognised and replaced like the bare program.
const progNameFast = progPrefix + "_fast"

// NewFastPath creates the tables. The program is loaded per interface,
// when a socket opened with the fast path attaches there.
func NewFastPath() (*FastPath, error) {
	spec, err := loadFastpath()
	if err != nil {
		return nil, fmt.Errorf("%w: fast path object: %w", ErrXDPUnavailable, err)
	}
	fp := &FastPath{spec: spec, maps: map[string]*ebpf.Map{}, redirects: map[uint32]int{}, progs: map[*ebpf.Program]struct{}{}}
	for name, ms := range spec.Maps {
		if name == fastpathMapXsks || name == ".rodata" || name == ".bss" {
			continue
		}
		m, err := ebpf.NewMap(ms)
		if err != nil {
			fp.Close()
			return nil, fmt.Errorf("%w: create map %s: %w", ErrXDPUnavailable, name, err)
		}
		fp.maps[name] = m
	}
	fp.m = fastpathMaps{
		Adjs: fp.maps["adjs"], Config: fp.maps["config"], Egress: fp.maps["egress"], FibStats: fp.maps["fib_stats"],
		Fibs: fp.maps["fibs"], Nexts: fp.maps["nexts"], Own: fp.maps["own"], PortStats: fp.maps["port_stats"],
		Ports: fp.maps["ports"], Punts: fp.maps["punts"], Neighs: fp.maps["neighs"], Trie: fp.maps["trie"],
		TxPorts: fp.maps["tx_ports"],
	}
	if n := spec.Maps["trie"].MaxEntries; n != fastpath.TrieChunks*fastpath.TrieChunkWords {
		fp.Close()
		return nil, fmt.Errorf("fast path object's trie has %d words, want %d", n, fastpath.TrieChunks*fastpath.TrieChunkWords)
	}
	mem, err := unix.Mmap(fp.m.Trie.FD(), 0, fastpath.TrieChunks*fastpath.TrieChunkWords*8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		fp.Close()
		return nil, fmt.Errorf("%w: map the trie: %w", ErrXDPUnavailable, err)
	}
	fp.mem = mem
	if n := spec.Maps["fibs"]; n.MaxEntries != fastpath.MaxFIBs || n.ValueSize != fibWords*8 {
		fp.Close()
		return nil, fmt.Errorf("fast path object's fibs: %d values of %d bytes, want %d of %d", n.MaxEntries, n.ValueSize, fastpath.MaxFIBs, fibWords*8)
	}
	if fp.fibsMem, err = unix.Mmap(fp.m.Fibs.FD(), 0, fastpath.MaxFIBs*fibWords*8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		fp.Close()
		return nil, fmt.Errorf("%w: map the FIB slots: %w", ErrXDPUnavailable, err)
	}
	fp.trie = fastpath.NewTrie(unsafe.Slice((*uint64)(unsafe.Pointer(&mem[0])), len(mem)/8))
	fp.trie.Wait = fp.waitPrograms
	if fp.quiesceInner, err = ebpf.NewMap(&ebpf.MapSpec{Name: "fibd_quiesce_in", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}); err == nil {
		fp.quiesce, err = ebpf.NewMap(&ebpf.MapSpec{Name: "fibd_quiesce", Type: ebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1,
			InnerMap: &ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}})
	}
	if err != nil {
		fp.Close()
		return nil, fmt.Errorf("%w: grace-period map: %w", ErrXDPUnavailable, err)
	}
	fp.tfibs = map[uint32]*fastpath.TrieFIB{}
	return fp, nil
}

// Close releases the tables. Programs still attached keep their maps alive
// until they are detached.
func (fp *FastPath) Close() error {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.closed = true
	if fp.features != nil {
		fp.features.close()
	}
	for _, m := range fp.maps {
		m.Close()
	}
	for _, m := range []*ebpf.Map{fp.quiesce, fp.quiesceInner} {
		if m != nil {
			m.Close()
		}
	}
	if fp.mem != nil {
		unix.Munmap(fp.mem)
		fp.mem, fp.trie = nil, nil
	}
	if fp.fibsMem != nil {
		unix.Munmap(fp.fibsMem)
		fp.fibsMem = nil
	}
	return nil
}

// load makes the program instance for one interface: the shared tables and
// a fresh XSKMAP of queues slots.
func (fp *FastPath) load(queues int) (*loaded, error) {
	return fp.loadWith(queues, ebpf.ProgramOptions{})
}

// loadWith is load with the program's load options (the verifier's log
// level, for tests that read its statistics).
func (fp *FastPath) loadWith(queues int, popts ebpf.ProgramOptions) (*loaded, error) {
	xsks, err := ebpf.NewMap(&ebpf.MapSpec{Name: "fibd_xsks", Type: ebpf.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: uint32(max(queues, 1))})
	if err != nil {
		return nil, fmt.Errorf("create XSKMAP: %w", err)
	}
	repl := map[string]*ebpf.Map{fastpathMapXsks: xsks}
	for name, m := range fp.maps {
		repl[name] = m
	}
	spec := fp.spec.Copy()
	spec.Maps[fastpathMapXsks].MaxEntries = uint32(max(queues, 1))
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{MapReplacements: repl, Programs: popts})
	if err != nil {
		xsks.Close()
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load fast path program: %+v", ve)
		}
		return nil, fmt.Errorf("load fast path program: %w", err)
	}
	p := coll.Programs["fibd_xsk_fast"]
	delete(coll.Programs, "fibd_xsk_fast")
	coll.Close() // the maps are replacements: closing the collection keeps them
	if p == nil {
		xsks.Close()
		return nil, errors.New("fast path object has no fibd_xsk_fast program")
	}
	fp.mu.Lock()
	fp.progs[p] = struct{}{}
	fp.mu.Unlock()
	return &loaded{prog: p, xsks: xsks, fast: fp}, nil
}

// NewProgram returns an instance of the fast path program over these
// tables with a one-slot XSKMAP of its own, attached nowhere: for running
// it with BPF_PROG_RUN (tests and fuzzing compare it with the engine).
// Its XSKMAP is empty, so a punt returns XDP_PASS and a forward
// XDP_REDIRECT.
func (fp *FastPath) NewProgram() (*ebpf.Program, error) {
	l, err := fp.load(1)
	if err != nil {
		return nil, err
	}
	l.xsks.Close() // the program keeps its own reference
	return l.prog, nil
}

// AllowRedirect puts ifindex (in the calling thread's namespace) in the
// redirect map as if a fast path socket had attached there: for programs
// run with BPF_PROG_RUN. DropRedirect undoes it.
func (fp *FastPath) AllowRedirect(ifindex int) error { return fp.addRedirect(ifindex) }

// DropRedirect undoes AllowRedirect.
func (fp *FastPath) DropRedirect(ifindex int) { fp.dropRedirect(ifindex, nil) }

// addRedirect puts ifindex in the redirect map: other interfaces' programs
// may now forward to it. Called in the interface's namespace, where the
// kernel resolves the index.
func (fp *FastPath) addRedirect(ifindex int) error {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	k := uint32(ifindex)
	if fp.redirects[k] == 0 {
		if err := fp.m.TxPorts.Put(k, k); err != nil {
			return fmt.Errorf("add interface %d to the redirect map: %w", ifindex, err)
		}
	}
	if !fp.featInit {
		fp.featInit = true
		fp.features, _ = newFeatureWatch()
	}
	fp.redirects[k]++
	return nil
}

func (fp *FastPath) dropRedirect(ifindex int, p *ebpf.Program) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	delete(fp.progs, p)
	k := uint32(ifindex)
	if fp.redirects[k]--; fp.redirects[k] <= 0 {
		delete(fp.redirects, k)
		if !fp.closed {
			_ = fp.m.TxPorts.Delete(k)
		}
	}
}

// Redirectable implements fastpath.Tables: the interface runs the
// program, and its driver takes redirected frames now (a veth only while
// its peer runs XDP or GRO). The engine's mirror asks on every port sync.
func (fp *FastPath) Redirectable(ifindex uint32) bool {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if fp.redirects[ifindex] == 0 {
		return false
	}
	return fp.features == nil || fp.features.ndoXmit(int(ifindex))
}

// RunStats sums the kernel's run time and run count over the attached
// program instances (kernel.bpf_stats_enabled must be 1 for them to grow).
func (fp *FastPath) RunStats() (runTimeNs, runCount uint64, err error) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	for p := range fp.progs {
		st, err := p.Stats()
		if err != nil {
			return 0, 0, err
		}
		runTimeNs += uint64(st.Runtime.Nanoseconds())
		runCount += st.RunCount
	}
	return runTimeNs, runCount, nil
}

// SetConfig implements fastpath.Tables.
func (fp *FastPath) SetConfig(seed [4]uint64, guessCsum bool) error {
	c := fastpathFpConfig{Seed: seed}
	if guessCsum {
		c.GuessCsum = 1
	}
	return fp.m.Config.Put(uint32(0), &c)
}

func portKey(k fastpath.PortKey) fastpathPortKey {
	return fastpathPortKey{Ifindex: k.Ifindex, Tpid: k.TPID, Vid: k.VID, Inner: k.Inner, Ntags: k.Tags}
}

// SetPort implements fastpath.Tables.
func (fp *FastPath) SetPort(k fastpath.PortKey, p fastpath.Port) error {
	v := fastpathPortVal{Port: p.ID, Fib: p.FIB, FibSlot: p.FIBSlot, Mac: p.MAC}
	// fastpath.c's PORT_FAST, PORT_RPF_LOOSE and PORT_RPF_STRICT.
	if p.Fast {
		v.Flags |= 1 << 0
	}
	switch p.RPF {
	case fastpath.RPFLoose:
		v.Flags |= 1 << 1
	case fastpath.RPFStrict:
		v.Flags |= 1 << 2
	}
	kk := portKey(k)
	return fp.m.Ports.Put(&kk, &v)
}

// DeletePort implements fastpath.Tables.
func (fp *FastPath) DeletePort(k fastpath.PortKey) error {
	kk := portKey(k)
	if err := fp.m.Ports.Delete(&kk); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return err
	}
	return nil
}

// SetEgress implements fastpath.Tables.
func (fp *FastPath) SetEgress(port uint32, e fastpath.Egress) error {
	if port >= fastpath.MaxPorts {
		return fmt.Errorf("port %d beyond the fast path's %d", port, fastpath.MaxPorts)
	}
	v := fastpathEgressVal{Ifindex: e.Ifindex, Fib: e.FIB, Mtu: e.MTU, Mac: e.MAC, Tpid: e.TPID, Outer: e.Outer, Inner: e.Inner}
	if e.Up {
		v.Up = 1
	}
	return fp.m.Egress.Put(port, &v)
}

// SetRoute implements fastpath.Tables: an edit of the FIB's working
// version in the trie, which SetGeneration publishes.
func (fp *FastPath) SetRoute(fibSlot uint32, p netip.Prefix, slot uint32) error {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.trie.Set(fp.trieFIB(fibSlot), p, slot)
}

// DeleteRoute implements fastpath.Tables.
func (fp *FastPath) DeleteRoute(fibSlot uint32, p netip.Prefix) error {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.trie.Delete(fp.trieFIB(fibSlot), p)
}

func (fp *FastPath) trieFIB(slot uint32) *fastpath.TrieFIB {
	f := fp.tfibs[slot]
	if f == nil {
		f = fp.trie.NewFIB()
		fp.tfibs[slot] = f
	}
	return f
}

// SetEntry implements fastpath.Tables.
func (fp *FastPath) SetEntry(gen uint8, slot uint32, e fastpath.Entry) error {
	if slot >= fastpath.MaxSlots {
		return fmt.Errorf("slot %d beyond the fast path's %d", slot, fastpath.MaxSlots)
	}
	var v fastpathNextVal
	switch {
	case e.Gateway:
		v.Kind = 1
		v.Adj = e.Adj
		v.N = uint32(len(e.Buckets))
		copy(v.Group[:], e.Buckets)
	case e.Attached:
		v.Kind, v.Port = 2, e.Port
	}
	v.Nports = uint32(len(e.Ports))
	copy(v.Ports[:], e.Ports)
	return fp.m.Nexts.Put(uint32(gen)*fastpath.MaxSlots+slot, &v)
}

// SetAdj implements fastpath.Tables.
func (fp *FastPath) SetAdj(id uint32, a fastpath.Adj) error {
	if id >= fastpath.MaxAdjs {
		return fmt.Errorf("adjacency %d beyond the fast path's %d", id, fastpath.MaxAdjs)
	}
	v := fastpathAdjVal{Mac: a.MAC, State: a.State, Port: a.Port, Mtu: a.MTU}
	if a.Live {
		v.Live = 1
	}
	return fp.m.Adjs.Put(id, &v)
}

// SetNeighbor implements fastpath.Tables.
func (fp *FastPath) SetNeighbor(fib, port uint32, a netip.Addr, id uint32) error {
	k := fastpathNeighKey{Fib: fib, Port: port, Addr: a.As16()}
	return fp.m.Neighs.Put(&k, id)
}

// DeleteNeighbor implements fastpath.Tables.
func (fp *FastPath) DeleteNeighbor(fib, port uint32, a netip.Addr) error {
	k := fastpathNeighKey{Fib: fib, Port: port, Addr: a.As16()}
	if err := fp.m.Neighs.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return err
	}
	return nil
}

// The words of a FIB's fib_val (fastpath.c), each stored whole with one
// atomic 8-byte store through fibsMem.
const (
	fibWordGen   = 0 // gen (low 32 bits), live (high)
	fibWordOwn   = 1 // own_bits
	fibWordRoots = 2 // roots[0], roots[1]: v4 (low), v6 (high)
	fibWords     = 4
)

// fibWord is word w of FIB slot's value in the shared mapping.
func (fp *FastPath) fibWord(slot uint32, w int) *uint64 {
	return (*uint64)(unsafe.Pointer(&fp.fibsMem[(int(slot)*fibWords+w)*8]))
}

// SetGeneration implements fastpath.Tables: the FIB's working trie
// version becomes generation gen's roots, then the generation flips, each
// one atomic store of an aligned 8-byte word that packets read whole; the
// roots are stored before any packet can read that generation.
func (fp *FastPath) SetGeneration(slot uint32, gen uint8) error {
	if slot >= fastpath.MaxFIBs {
		return fmt.Errorf("FIB slot %d beyond the fast path's %d", slot, fastpath.MaxFIBs)
	}
	fp.mu.Lock()
	defer fp.mu.Unlock()
	r := fp.trie.Publish(fp.trieFIB(slot), gen)
	g := gen & 1
	atomic.StoreUint64(fp.fibWord(slot, fibWordRoots+int(g)), uint64(r[0])|uint64(r[1])<<32)
	atomic.StoreUint64(fp.fibWord(slot, fibWordGen), uint64(g)|1<<32)
	return nil
}

// Synchronize implements fastpath.Tables.
func (fp *FastPath) Synchronize() error {
	fp.mu.Lock()
	mark := fp.trie.Quiesce()
	fp.mu.Unlock()
	if err := fp.waitPrograms(); err != nil {
		return err
	}
	fp.mu.Lock()
	fp.trie.Reclaim(mark)
	fp.mu.Unlock()
	return nil
}

// waitPrograms returns after an RCU grace period. XDP programs run inside
// RCU read-side sections (NAPI's softirq, BPF_PROG_RUN's rcu_read_lock),
// and the kernel ends a system-call update of a map-of-maps with
// synchronize_rcu() (maybe_wait_bpf_programs) so that user space knows no
// program still uses the old inner map: updating one such slot, which no
// program reads, is user space's way to wait out every program run in
// flight (the kernel's own selftests wait so, prog_tests/btf_map_in_map.c).
// It takes a few milliseconds.
func (fp *FastPath) waitPrograms() error {
	if err := fp.quiesce.Put(uint32(0), fp.quiesceInner); err != nil {
		return fmt.Errorf("fast path: wait for programs in flight: %w", err)
	}
	return nil
}

// DeleteFIB implements fastpath.Tables: packets of the FIB are punted from
// now on, and its trie versions are released (their chunks are reused
// after the next grace period, Synchronize).
func (fp *FastPath) DeleteFIB(slot uint32) error {
	if slot >= fastpath.MaxFIBs {
		return fmt.Errorf("FIB slot %d beyond the fast path's %d", slot, fastpath.MaxFIBs)
	}
	fp.mu.Lock()
	defer fp.mu.Unlock()
	// Not live first: a packet that still reads the old roots after it
	// walks chunks that wait for a grace period before reuse.
	for w := range fibWords {
		atomic.StoreUint64(fp.fibWord(slot, w), 0)
	}
	if f := fp.tfibs[slot]; f != nil {
		fp.trie.Drop(f)
		delete(fp.tfibs, slot)
	}
	return fp.m.FibStats.Put(slot, make([]uint64, ebpf.MustPossibleCPU()))
}

// OwnBit is the program's own_bit: which bit of a FIB's filter an address
// sets, from its last 32 bits.
func OwnBit(a netip.Addr) uint64 {
	b := a.As16()
	return 1 << ((binary.BigEndian.Uint32(b[12:]) * 0x9e3779b1) >> 26)
}

// SetOwn implements fastpath.Tables. The FIB's filter word keeps every bit
// it ever set (a stale bit costs one hash lookup, never a wrong answer).
func (fp *FastPath) SetOwn(fib, slot uint32, a netip.Addr, own bool) error {
	k := fastpathOwnKey{Fib: fib, Addr: a.As16()} // As16 maps IPv4 to ::ffff:a.b.c.d
	if !own {
		if err := fp.m.Own.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
		return nil
	}
	if err := fp.m.Own.Put(&k, uint32(1)); err != nil {
		return err
	}
	if slot >= fastpath.MaxFIBs {
		return fmt.Errorf("FIB slot %d beyond the fast path's %d", slot, fastpath.MaxFIBs)
	}
	fp.mu.Lock()
	defer fp.mu.Unlock()
	w := fp.fibWord(slot, fibWordOwn)
	atomic.StoreUint64(w, atomic.LoadUint64(w)|OwnBit(a))
	return nil
}

// PortCounters implements fastpath.Tables.
func (fp *FastPath) PortCounters(port uint32) (fastpath.Counters, error) {
	var per []fastpathCounters
	if err := fp.m.PortStats.Lookup(port, &per); err != nil {
		return fastpath.Counters{}, err
	}
	var c fastpath.Counters
	for _, v := range per {
		c.RxPackets += v.RxPackets
		c.RxBytes += v.RxBytes
		c.Forwarded += v.Forwarded
		c.TxPackets += v.TxPackets
		c.TxBytes += v.TxBytes
	}
	return c, nil
}

// ResetPortCounters implements fastpath.Tables.
func (fp *FastPath) ResetPortCounters(port uint32) error {
	if port >= fastpath.MaxPorts {
		return nil
	}
	return fp.m.PortStats.Put(port, make([]fastpathCounters, ebpf.MustPossibleCPU()))
}

// FIBForwarded implements fastpath.Tables.
func (fp *FastPath) FIBForwarded(slot uint32) (uint64, error) {
	var per []uint64
	if err := fp.m.FibStats.Lookup(slot, &per); err != nil {
		return 0, err
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// Punts implements fastpath.Tables.
func (fp *FastPath) Punts() ([]uint64, error) {
	out := make([]uint64, len(fastpath.PuntReasons))
	for i := range out {
		var per []uint64
		if err := fp.m.Punts.Lookup(uint32(i), &per); err != nil {
			return nil, err
		}
		for _, v := range per {
			out[i] += v
		}
	}
	return out, nil
}
