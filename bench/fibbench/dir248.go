package fibbench

import (
	"net/netip"
	"slices"
	"time"

	"github.com/fibd/fibd/bench/tables"
)

// dir248 is DIR-24-8 (Gupta, Lin, McKeown, "Routing Lookups in Hardware at
// Memory Access Speeds", 1998): a flat first level indexed by the top 24
// bits of the address and 256-entry second-level blocks for the /24s that
// hold longer prefixes — at most two memory accesses per lookup, the
// practical limit of an IPv4 lookup in software (DPDK's rte_lpm). It is a
// reference for `fibbench fib` (limit_lookup_v4_ns), not something fibd
// runs: it costs 64 MiB before the first route and a rebuild of up to
// 2^24 entries for a short prefix's change.
type dir248 struct {
	tbl24   []uint32 // 1<<24 entries: a value, or blockFlag | block number
	tbllong []uint32 // 256 entries per block
}

// blockFlag marks a first-level entry that points to a second-level
// block; values (next hop + 1, 0 for none) stay below it.
const blockFlag = 1 << 31

// newDIR248 builds the table of IPv4 routes (value NextHop+1, as bartOf):
// shortest prefixes first, so a longer one overwrites what it covers.
func newDIR248(routes []tables.Route) *dir248 {
	d := &dir248{tbl24: make([]uint32, 1<<24)}
	sorted := slices.Clone(routes)
	slices.SortStableFunc(sorted, func(a, b tables.Route) int { return a.Prefix.Bits() - b.Prefix.Bits() })
	for _, r := range sorted {
		if !r.Prefix.Addr().Is4() {
			continue
		}
		b := r.Prefix.Masked().Addr().As4()
		a := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		v := uint32(1 + r.NextHop)
		bits := r.Prefix.Bits()
		if bits <= 24 {
			// No block exists yet: they come with the longer prefixes,
			// which sort after.
			first := a >> 8
			for i := first; i < first+1<<(24-bits); i++ {
				d.tbl24[i] = v
			}
			continue
		}
		i := a >> 8
		e := d.tbl24[i]
		if e&blockFlag == 0 {
			n := uint32(len(d.tbllong) >> 8)
			for range 256 {
				d.tbllong = append(d.tbllong, e)
			}
			e = blockFlag | n
			d.tbl24[i] = e
		}
		blk := d.tbllong[(e&^blockFlag)<<8:][:256]
		low := a & 0xff
		for j := low; j < low+1<<(32-bits); j++ {
			blk[j] = v
		}
	}
	return d
}

// lookup returns the value of the longest prefix holding a, 0 for none.
func (d *dir248) lookup(a uint32) uint32 {
	e := d.tbl24[a>>8]
	if e&blockFlag != 0 {
		e = d.tbllong[(e&^blockFlag)<<8|a&0xff]
	}
	return e
}

func addr4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// dir248Independent times independent lookups, as fibIndependent does.
func dir248Independent(d *dir248, probes []netip.Addr) float64 {
	var sum uint64
	start := time.Now()
	for _, a := range probes {
		sum += uint64(d.lookup(addr4(a)))
	}
	el := time.Since(start)
	sink.Add(sum)
	return float64(el.Nanoseconds()) / float64(len(probes))
}
