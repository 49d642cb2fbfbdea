package fastpath

import (
	"errors"
	"net/netip"
)

// The fast path's routes live in a multibit trie with 8-bit strides laid
// out in one array of 64-bit words that the XDP program reads and user
// space writes through a shared mapping. A chunk is 256 words, one per
// value of the address byte at its level; chunk 0 is never used, so a zero
// word means "nothing here". A word holds
//
//	bits  0-23  entry slot + 1 of the longest prefix stored in this chunk
//	            that covers the word (0: none)
//	bits 24-31  that prefix's length (user space only: which prefix owns it)
//	bits 32-63  the child chunk for the next address byte (0: none)
//
// A prefix of length L is stored in the chunk of level (L-1)/8 (level 0
// also holds the default route), expanded over the 2^(8·level+8-L) words it
// covers there and nowhere else: no value is pushed down into children, so
// a change touches one chunk. A lookup walks at most 4 chunks for IPv4 and
// 16 for IPv6, keeping the last value it passed — against the BPF LPM
// trie's walk of one node per distinguishing bit over millions of nodes.
//
// Versions are copy-on-write. A FIB's working version is edited in place
// only in chunks made since its last Publish; a chunk a published version
// may reach is copied first. Publish hands out the working roots, and a
// chunk no version reaches is retired: it is reused only after the
// backend has waited out every program run that may have read a root
// reaching it (Quiesce, then Reclaim), so a packet that read an old root a
// moment before it was replaced never walks a reused chunk.
const (
	TrieChunkWords = 256
	trieValueMask  = 1<<24 - 1
)

// ErrTrieFull is returned when the trie has no free chunk; the edit is
// incomplete and the FIB's working version must not be published.
var ErrTrieFull = errors.New("fast path trie: out of chunks")

// Trie is the chunk store shared by every FIB. It is not safe for
// concurrent use; the backend serialises writes.
type Trie struct {
	mem  []uint64 // chunks × TrieChunkWords, shared with the program
	meta []chunkMeta
	next uint32 // chunks [1, next) have been handed out at least once
	free []uint32
	// retired chunks wait for a grace period; retiredSeq counts every
	// chunk ever retired and reclaimedSeq those made free again, so a
	// Quiesce mark names a prefix of retired.
	retired      []uint32
	retiredSeq   uint64
	reclaimedSeq uint64
	batch        uint32 // last batch number handed to a FIB
	// Wait, when set, returns once every program run that began before
	// it was called has ended (an RCU grace period). A full trie calls
	// it to reclaim retired chunks rather than fail.
	Wait func() error
}

type chunkMeta struct {
	ref      int32  // parents pointing here: words in other chunks and roots
	batch    uint32 // the FIB batch that made it; mutable while that batch is open
	prefixes uint16 // prefixes stored in it
	children uint16 // words with a child
}

// NewTrie uses mem (a multiple of TrieChunkWords words, all zero) as the
// chunk array.
func NewTrie(mem []uint64) *Trie {
	return &Trie{mem: mem, meta: make([]chunkMeta, len(mem)/TrieChunkWords), next: 1}
}

// Chunks reports the chunks in use (reachable or waiting for a grace
// period) and the capacity.
func (t *Trie) Chunks() (used, capacity int) {
	return int(t.next) - 1 - len(t.free), len(t.meta) - 1
}

// TrieFIB is one FIB's versions in a Trie.
type TrieFIB struct {
	work      [2]uint32    // working roots, IPv4 and IPv6
	published [2][2]uint32 // by generation, then family
	batch     uint32       // open batch; 0 once published
	routes    map[netip.Prefix]uint32
}

// NewFIB returns an empty FIB: both families miss in every version.
func (t *Trie) NewFIB() *TrieFIB {
	return &TrieFIB{routes: map[netip.Prefix]uint32{}}
}

func family(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 0
	}
	return 1
}

func (t *Trie) word(c uint32, b byte) *uint64 { return &t.mem[int(c)*TrieChunkWords+int(b)] }

func (t *Trie) alloc(f *TrieFIB) (uint32, error) {
	var c uint32
	if n := len(t.free); n > 0 {
		c, t.free = t.free[n-1], t.free[:n-1]
	} else if int(t.next) < len(t.meta) {
		c = t.next
		t.next++
	} else if len(t.retired) > 0 && t.Wait != nil {
		mark := t.Quiesce()
		if err := t.Wait(); err != nil {
			return 0, err
		}
		t.Reclaim(mark)
		return t.alloc(f)
	} else {
		return 0, ErrTrieFull
	}
	clear(t.mem[int(c)*TrieChunkWords : int(c+1)*TrieChunkWords])
	t.meta[c] = chunkMeta{ref: 1, batch: f.open(t)}
	return c, nil
}

// Quiesce marks the chunks retired so far. Once every program run that
// began before the call has ended, Reclaim(mark) makes them reusable.
func (t *Trie) Quiesce() uint64 { return t.retiredSeq }

// Reclaim frees the chunks retired before Quiesce returned mark.
func (t *Trie) Reclaim(mark uint64) {
	if mark <= t.reclaimedSeq {
		return
	}
	n := int(mark - t.reclaimedSeq)
	t.free = append(t.free, t.retired[:n]...)
	t.retired = append(t.retired[:0], t.retired[n:]...)
	t.reclaimedSeq = mark
}

func (f *TrieFIB) open(t *Trie) uint32 {
	if f.batch == 0 {
		t.batch++
		if t.batch == 0 {
			t.batch++
		}
		f.batch = t.batch
	}
	return f.batch
}

// unref drops one reference to c; a chunk nobody reaches drops its
// children's references and is retired.
func (t *Trie) unref(c uint32) {
	if c == 0 {
		return
	}
	m := &t.meta[c]
	if m.ref--; m.ref > 0 {
		return
	}
	if m.children > 0 {
		for b := 0; b < TrieChunkWords; b++ {
			t.unref(uint32(*t.word(c, byte(b)) >> 32))
		}
	}
	t.retired = append(t.retired, c)
	t.retiredSeq++
}

// writable returns a chunk the FIB may edit in place for *ref (a root or a
// word's child field): c itself if this batch made it, else a copy that
// replaces it, or a new chunk where there was none.
func (t *Trie) writable(f *TrieFIB, c uint32) (uint32, bool, error) {
	if c != 0 && f.batch != 0 && t.meta[c].batch == f.batch {
		return c, false, nil
	}
	n, err := t.alloc(f)
	if err != nil {
		return 0, false, err
	}
	if c == 0 {
		return n, true, nil
	}
	copy(t.mem[int(n)*TrieChunkWords:int(n+1)*TrieChunkWords], t.mem[int(c)*TrieChunkWords:int(c+1)*TrieChunkWords])
	t.meta[n].prefixes, t.meta[n].children = t.meta[c].prefixes, t.meta[c].children
	if t.meta[c].children > 0 {
		for b := 0; b < TrieChunkWords; b++ {
			if k := uint32(*t.word(n, byte(b)) >> 32); k != 0 {
				t.meta[k].ref++
			}
		}
	}
	t.unref(c)
	return n, false, nil
}

// maxLevels is the chunks on the longest path: an IPv6 /128.
const maxLevels = 16

// path makes the chunks from the root to the prefix's level writable and
// returns them, root first, and how many there are (0: create is false
// and the path does not exist).
func (t *Trie) path(f *TrieFIB, p netip.Prefix, create bool) ([maxLevels]uint32, int, error) {
	var chunks [maxLevels]uint32
	fam := family(p)
	a := p.Addr().AsSlice()
	level := 0
	if p.Bits() > 0 {
		level = (p.Bits() - 1) / 8
	}
	if f.work[fam] == 0 && !create {
		return chunks, 0, nil
	}
	r, _, err := t.writable(f, f.work[fam])
	if err != nil {
		return chunks, 0, err
	}
	f.work[fam] = r
	chunks[0] = r
	for l := 0; l < level; l++ {
		w := t.word(chunks[l], a[l])
		old := uint32(*w >> 32)
		if old == 0 && !create {
			return chunks, 0, nil
		}
		c, made, err := t.writable(f, old)
		if err != nil {
			return chunks, 0, err
		}
		if made {
			t.meta[chunks[l]].children++
		}
		*w = *w&trieValueWordMask | uint64(c)<<32
		chunks[l+1] = c
	}
	return chunks, level + 1, nil
}

const trieValueWordMask = 1<<32 - 1

// span is the word range a prefix covers in its chunk.
func span(p netip.Prefix) (first, n int) {
	bits, level := p.Bits(), 0
	if bits > 0 {
		level = (bits - 1) / 8
	}
	free := 8*level + 8 - bits
	b := int(p.Addr().AsSlice()[level])
	return b &^ (1<<free - 1), 1 << free
}

// Set stores p → entry slot in the FIB's working version.
func (t *Trie) Set(f *TrieFIB, p netip.Prefix, slot uint32) error {
	p = p.Masked()
	if slot+1 > trieValueMask {
		return errors.New("fast path trie: entry slot out of range")
	}
	old, had := f.routes[p]
	if had && old == slot {
		return nil // a replay of what the version already holds
	}
	chunks, n, err := t.path(f, p, true)
	if err != nil {
		return err
	}
	c := chunks[n-1]
	if !had {
		t.meta[c].prefixes++
	}
	f.routes[p] = slot
	bits := uint64(p.Bits())
	first, words := span(p)
	for b := first; b < first+words; b++ {
		w := t.word(c, byte(b))
		if *w&trieValueMask == 0 || (*w>>24)&0xff <= bits {
			*w = *w&^trieValueWordMask | bits<<24 | uint64(slot+1)
		}
	}
	return nil
}

// Delete removes p from the FIB's working version; words it owned fall
// back to the longest shorter prefix stored in the same chunk.
func (t *Trie) Delete(f *TrieFIB, p netip.Prefix) error {
	p = p.Masked()
	if _, ok := f.routes[p]; !ok {
		return nil
	}
	chunks, n, err := t.path(f, p, false)
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("fast path trie: a stored prefix has no path") // never: Set made it
	}
	delete(f.routes, p)
	c := chunks[n-1]
	t.meta[c].prefixes--
	bits := p.Bits()
	level := n - 1
	lowest := 8*level + 1
	if level == 0 {
		lowest = 0
	}
	var repl uint64
	for l := bits - 1; l >= lowest; l-- {
		q, _ := p.Addr().Prefix(l)
		if s, ok := f.routes[q]; ok {
			repl = uint64(l)<<24 | uint64(s+1)
			break
		}
	}
	first, words := span(p)
	for b := first; b < first+words; b++ {
		w := t.word(c, byte(b))
		if *w&trieValueMask != 0 && int(*w>>24&0xff) == bits {
			*w = *w&^trieValueWordMask | repl
		}
	}
	// Prune the chunks left empty, deepest first.
	a := p.Addr().AsSlice()
	for l := level; l >= 0; l-- {
		c := chunks[l]
		if t.meta[c].prefixes > 0 || t.meta[c].children > 0 {
			break
		}
		if l == 0 {
			f.work[family(p)] = 0
		} else {
			w := t.word(chunks[l-1], a[l-1])
			*w &= trieValueWordMask
			t.meta[chunks[l-1]].children--
		}
		t.unref(c)
	}
	return nil
}

// Publish makes the working version generation gen's and returns its
// roots (IPv4, IPv6) for the program; the version gen held before is
// released. Edits after it copy what it reaches.
func (t *Trie) Publish(f *TrieFIB, gen uint8) [2]uint32 {
	g := gen & 1
	for fam := range 2 {
		if r := f.work[fam]; r != 0 {
			t.meta[r].ref++
		}
		t.unref(f.published[g][fam])
		f.published[g][fam] = f.work[fam]
	}
	f.batch = 0
	return f.published[g]
}

// Drop releases every version of the FIB.
func (t *Trie) Drop(f *TrieFIB) {
	for fam := range 2 {
		t.unref(f.work[fam])
		f.work[fam] = 0
		for g := range 2 {
			t.unref(f.published[g][fam])
			f.published[g][fam] = 0
		}
	}
	clear(f.routes)
	f.batch = 0
}

// Lookup walks a version's root the way the program does: the entry slot
// of the longest match, or false for a miss.
func (t *Trie) Lookup(root uint32, a netip.Addr) (uint32, bool) {
	b := a.AsSlice()
	var best uint64
	for c, l := root, 0; c != 0 && l < len(b); l++ {
		w := *t.word(c, b[l])
		if v := w & trieValueMask; v != 0 {
			best = v
		}
		c = uint32(w >> 32)
	}
	if best == 0 {
		return 0, false
	}
	return uint32(best - 1), true
}
