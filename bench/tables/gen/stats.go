package main

import "net/netip"

// stats describes a generated table's shape, for the README.
type stats struct {
	hist      map[int][2]int // prefix length → [base, aggregate] counts
	depth     []int          // depth → routes with that many covering routes
	covered   int            // routes with at least one shorter covering route
	coveredNH int            // of those, routes whose closest cover has another next hop
	maxDepth  int
	nextHops  [nextHops]int // routes per next-hop index
}

// computeStats walks the sorted entries with a stack of the routes that
// cover the current one: in Prefix.Compare order a covering route comes
// right before the routes it covers, so the stack is the nesting path.
func computeStats(entries []entry) stats {
	st := stats{hist: make(map[int][2]int)}
	var stack []entry
	for _, e := range entries {
		for len(stack) > 0 && !covers(stack[len(stack)-1].prefix, e.prefix) {
			stack = stack[:len(stack)-1]
		}
		d := len(stack)
		for len(st.depth) <= d {
			st.depth = append(st.depth, 0)
		}
		st.depth[d]++
		st.maxDepth = max(st.maxDepth, d)
		if d > 0 {
			st.covered++
			if nextHop(stack[d-1].asn) != nextHop(e.asn) {
				st.coveredNH++
			}
		}
		h := st.hist[e.prefix.Bits()]
		if e.aggregate {
			h[1]++
		} else {
			h[0]++
		}
		st.hist[e.prefix.Bits()] = h
		st.nextHops[nextHop(e.asn)]++
		stack = append(stack, e)
	}
	return st
}

// covers reports whether outer is a strictly shorter prefix containing inner.
func covers(outer, inner netip.Prefix) bool {
	return outer.Bits() < inner.Bits() && outer.Contains(inner.Addr())
}
