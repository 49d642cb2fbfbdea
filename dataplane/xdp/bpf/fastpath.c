// SPDX-License-Identifier: (MIT OR GPL-2.0)
//
// fastpath.c — fibd's XDP program: forward the common case in the kernel,
// hand everything else to the AF_XDP socket of the receiving queue, where
// fibd's user-space engine answers as it always has.
//
// The program forwards only what the engine would forward unchanged but for
// the rewrite it does here, and punts whenever it is not sure: the engine is
// the reference, the program a cache of its answers for one frame shape.
// Forwarded: a unicast IPv4 (no options, not a fragment) or IPv6 (no
// extension header) packet addressed to the port's MAC, on an up port
// whose reverse-path check (if any) it passes, whose route is a gateway (one path or ECMP) or an attached
// subnet in the port's FIB with a VALID neighbour on an up egress port of
// the same FIB, with
// TTL/hop limit > 1 and a length within the egress MTU. Everything else —
// misses, local delivery, ICMP to generate, STALE/INCOMPLETE neighbours,
// lookup-in-FIB routes, options, fragments, ARP/ND,
// multicast — is punted, counted by reason.
//
// Maps that change under traffic are hashes without preallocation: an
// update replaces the element and frees the old one after an RCU grace
// period, so a packet reads an adjacency's MAC with its state, or a FIB's
// generation word, whole — never half of one write. The route trie is an
// array user space writes in place, but only in chunks no published
// version reaches (dataplane/fastpath/trie.go).
//
// The FIB lives in maps that the user-space mirror writes (fastpath.go):
// fibd's multibit trie with roots per FIB and generation (fib_val), forwarding
// entries in an array with one half per generation, adjacencies in an
// array by adjacency ID. The mirror writes a batch into the FIB's inactive
// generation, flips the FIB's generation word, then replays the entries into
// the other; a packet reads the word once, so it sees one whole batch.

#include "fibd.h"

#define MAX_PORTS 4096
#define MAX_FIB_SLOTS 4096 // FIBs the fast path serves; the mirror numbers them
#define MAX_ADJS 65536
#define MAX_NEXTS 65536 // forwarding-entry slots per generation
#define ECMP_INLINE 32  // ECMP buckets an entry carries; more are punted
#define RPF_PORTS 4     // distinct egress ports an entry lists for strict uRPF
#define TRIE_CHUNKS (1 << 18) // must match the Go side's fastpath.TrieChunks

// Must match the Go side's puntReasonNames (fastpath.go).
enum punt {
	PUNT_NO_PORT,	    // no port for the interface and tags, or tags we do not parse
	PUNT_PORT_SLOW,	    // the port's interface is down
	PUNT_NOT_FOR_US,    // destination MAC is not the port's (group or other host)
	PUNT_NOT_IP,	    // ARP, other EtherTypes
	PUNT_BAD_HEADER,    // a header the engine must judge (bad checksum, length, version)
	PUNT_OPTIONS,	    // IPv4 options or IPv6 extension headers
	PUNT_FRAGMENT,	    // fragments
	PUNT_SPECIAL_ADDR,  // martian, link-local, multicast or broadcast addresses
	PUNT_TTL,	    // TTL or hop limit ≤ 1: ICMP time exceeded
	PUNT_PARTIAL_CSUM,  // a TCP/UDP checksum left partial by the sender
	PUNT_NO_FIB,	    // the FIB has no mirrored tables yet
	PUNT_MISS,	    // no route: ICMP unreachable
	PUNT_NOT_GATEWAY,   // local, attached, blackhole, unreachable, lookup-in-FIB …
	PUNT_BIG_GROUP,	    // an ECMP group with more buckets than the entry carries
	PUNT_NEIGHBOUR,	    // neighbour not VALID (INCOMPLETE, STALE, FAILED)
	PUNT_EGRESS,	    // egress port down, gone, in another FIB, or not on XDP
	PUNT_MTU,	    // longer than the egress MTU: fragment or ICMP too big
	PUNT_HEADROOM,	    // the link-layer rewrite failed (no room for tags)
	PUNT_OWN_SOURCE,    // from one of the router's own addresses: a martian
	PUNT_RPF,	    // the port's reverse-path check did not pass here
	PUNT_MAX,
};

// Port flags.
#define PORT_FAST (1U << 0) // interface up: the fast path may forward
#define PORT_RPF_LOOSE (1U << 1)  // uRPF: the source needs a route that forwards
#define PORT_RPF_STRICT (1U << 2) // uRPF: ... leaving through this port

struct port_key {
	__u32 ifindex;
	__u16 tpid; // outer tag's TPID (0: untagged)
	__u16 vid;  // outer VID
	__u16 inner; // inner VID (QinQ; inner TPID is 802.1Q)
	__u16 ntags;
};

struct port_val {
	__u32 port;
	__u32 fib;
	__u32 flags;
	__u8 mac[6]; // the interface's: frames to other MACs are not ours
	__u16 pad;
	__u32 fib_slot; // the FIB's index in fibs and fib_stats
};

struct egress_val {
	__u32 ifindex;
	__u32 fib;
	__u32 mtu;
	__u32 up;
	__u8 mac[6];
	__u16 tpid; // outer tag's TPID, 0 for 802.1Q
	__u16 outer; // outer TCI, 0 for untagged
	__u16 inner; // inner TCI, 0 for none
};

struct root_val {
	__u32 v4, v6; // root chunks in trie; 0: the family misses
};

// A FIB's slot in an array. Every field that changes under traffic is an
// aligned 8-byte word, which user space stores whole through its mapping
// of the array: a generation's roots first, the flip to it after, so a
// packet that reads the new generation finds its roots.
struct fib_val {
	__u32 gen;  // 0 or 1: which half of the tables packets read
	__u32 live; // 0: the FIB's tables are not (yet, or any more) mirrored
	// own_bits filters the own map: bit own_bit(a) is set for each of the
	// FIB's addresses, so most sources are cleared without a lookup.
	__u64 own_bits;
	struct root_val roots[2]; // by generation
};

struct own_key {
	__u32 fib;
	__u8 addr[16]; // IPv4 as ::ffff:a.b.c.d
};


// Forwarding-entry kinds; everything else is punted.
#define NEXT_GATEWAY 1
#define NEXT_ATTACHED 2 // the destination itself, on port: its neighbour entry

struct next_val {
	__u32 kind;
	__u32 n;   // ECMP buckets in group; 0: single path adj
	__u32 adj;
	__u32 port; // NEXT_ATTACHED's egress port
	__u32 group[ECMP_INLINE];
	// The distinct ports the entry leaves through (its attached port, its
	// gateway's, its ECMP members'), for strict uRPF: adjacency ports
	// never change, so the mirror lists them when it writes the entry.
	// nports above RPF_PORTS: too many to list (punted).
	__u32 nports;
	__u32 ports[RPF_PORTS];
};

// A resolved (VALID) neighbour, for attached destinations: what the
// engine's neighbour lookup finds, by the adjacency neigh publishes into.
struct neigh_key {
	__u32 fib;
	__u32 port;
	__u8 addr[16]; // IPv4 as ::ffff:a.b.c.d
};

// Adjacency states (fib/adj.State).
#define ADJ_VALID 1

struct adj_val {
	__u8 mac[6];
	__u8 state;
	__u8 live; // 1 while the mirror holds the ID
	__u32 port;
	__u32 mtu; // 0: the egress port's
};

struct fp_config {
	__u64 seed[4];	   // packet.FlowHash's key
	__u32 guess_csum; // punt TCP/UDP checksums that look partial (as the engine fills them)
	__u32 pad;
};

struct counters {
	__u64 rx_packets, rx_bytes;
	__u64 forwarded;
	__u64 tx_packets, tx_bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct port_key);
	__type(value, struct port_val);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PORTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct egress_val);
} egress SEC(".maps");

// fibs is mapped into user space, which stores each changed word with one
// atomic 8-byte store: a system-call update copies the value with memcpy,
// which promises no word is written whole.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_FIB_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct fib_val);
} fibs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct own_key);
	__type(value, __u32);
} own SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct neigh_key);
	__type(value, __u32);
} neighs SEC(".maps");

// The routes: fibd's multibit trie (dataplane/fastpath/trie.go), 8-bit
// strides, chunks of 256 words in one array that user space writes
// through a shared mapping. A FIB's roots per generation are in its
// fib_val; chunk 0 is empty, so a missing root misses.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TRIE_CHUNKS * 256);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} trie SEC(".maps");


struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * MAX_NEXTS);
	__type(key, __u32);
	__type(value, struct next_val);
} nexts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ADJS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct adj_val);
} adjs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fp_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_PORTS);
	__type(key, __u32);
	__type(value, struct counters);
} port_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_FIB_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} fib_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PUNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} punts SEC(".maps");

// The generated Go types for these are what the mirror writes.
const struct port_key *unused_port_key __attribute__((unused));
const struct port_val *unused_port_val __attribute__((unused));
const struct egress_val *unused_egress_val __attribute__((unused));
const struct fib_val *unused_fib_val __attribute__((unused));
const struct own_key *unused_own_key __attribute__((unused));
const struct neigh_key *unused_neigh_key __attribute__((unused));
const struct root_val *unused_root_val __attribute__((unused));
const struct next_val *unused_next __attribute__((unused));
const struct adj_val *unused_adj __attribute__((unused));
const struct fp_config *unused_config __attribute__((unused));
const struct counters *unused_counters __attribute__((unused));

static __always_inline int punt(struct xdp_md *ctx, __u32 why)
{
	__u64 *c = bpf_map_lookup_elem(&punts, &why);
	if (c)
		*c += 1;
	// A queue without a socket falls through to the kernel stack, as the
	// bare redirect program always did.
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

// The 128-bit product's halves xored, with 32-bit multiplies (BPF has no
// 64×64→128): packet.mix.
static __always_inline __u64 mix(__u64 a, __u64 b)
{
	__u64 al = (__u32)a, ah = a >> 32, bl = (__u32)b, bh = b >> 32;
	__u64 p0 = al * bl, p1 = al * bh, p2 = ah * bl, p3 = ah * bh;
	__u64 mid = (p0 >> 32) + (__u32)p1 + (__u32)p2;
	__u64 lo = (mid << 32) | (__u32)p0;
	__u64 hi = p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);
	return hi ^ lo;
}

// packet.FlowHash on addresses as 16 bytes (IPv4 mapped), protocol and
// ports: the same member for a flow whichever path forwards it.
static __always_inline __u32 flow_hash(const struct fp_config *cfg, __u64 s0, __u64 s1, __u64 d0, __u64 d1, __u64 l4)
{
	__u64 h = mix(s0 ^ cfg->seed[0], s1 ^ cfg->seed[1]);
	h = mix(h ^ d0, d1 ^ cfg->seed[2]);
	h = mix(h ^ l4, cfg->seed[3]);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (__u32)h;
}

static __always_inline int has_ports(__u8 proto)
{
	return proto == 6 || proto == 17 || proto == 33 || proto == 132 || proto == 136;
}

static __always_inline __u16 fold(__u32 s)
{
	s = (s >> 16) + (s & 0xffff);
	s = (s >> 16) + (s & 0xffff);
	return (__u16)s;
}

// Where a looks-partial check reads the transport checksum, and the
// header's minimum length (packet.l4ChecksumOffset for TCP and UDP).
static __always_inline int csum_field(__u8 proto, int *off, int *min)
{
	if (proto == 6) {
		*off = 16, *min = 20;
		return 1;
	}
	if (proto == 17) {
		*off = 6, *min = 8;
		return 1;
	}
	return 0;
}

// own_bit picks a source's bit in fib_val.own_bits from its last 32 bits
// (the mirror computes the same).
static __always_inline __u64 own_bit(__u32 last_be)
{
	return 1ULL << ((bswap32(last_be) * 0x9e3779b1U) >> 26);
}

// own_source reports whether src (16 bytes, IPv4 mapped) is one of the
// FIB's own addresses (the engine's edge filter drops those).
static __always_inline int own_source(const struct fib_val *fv, __u32 fib, const __u8 *src16, __u32 last_be)
{
	if (!(fv->own_bits & own_bit(last_be)))
		return 0;
	struct own_key k = {.fib = fib};
	__builtin_memcpy(k.addr, src16, 16);
	return bpf_map_lookup_elem(&own, &k) != 0;
}

// own_source4 is own_source for an IPv4 source, which is mapped to 16
// bytes only when the filter lets it through.
static __always_inline int own_source4(const struct fib_val *fv, __u32 fib, __u32 src)
{
	if (!(fv->own_bits & own_bit(src)))
		return 0;
	struct own_key k = {.fib = fib, .addr = {[10] = 0xff, [11] = 0xff}};
	*(__u32 *)(k.addr + 12) = src;
	return bpf_map_lookup_elem(&own, &k) != 0;
}

struct pkt {
	__u32 fib;
	__u32 fib_slot;
	__u32 in_port;
	__u32 rx_len;
	__u32 flags; // the port's
	__u32 l3len;
	__u8 v6;
	__u8 tags;
	// The flow's addresses (as 16 bytes) and protocol/ports, for the ECMP
	// hash, computed only for a group.
	__u64 s0, s1, d0, d1, l4;
};

// finish forwards a looked-up packet: entry slot of the FIB's generation
// gen, then neighbour, egress, MTU, rewrite and redirect.
static __always_inline int finish(struct xdp_md *ctx, struct pkt *pk, const struct fp_config *cfg, __u32 gen, __u32 slot,
				  int l3off)
{
	__u32 idx = gen * MAX_NEXTS + slot;
	struct next_val *n = bpf_map_lookup_elem(&nexts, &idx);
	if (!n || (n->kind != NEXT_GATEWAY && n->kind != NEXT_ATTACHED))
		return punt(ctx, PUNT_NOT_GATEWAY);
	__u32 id = n->adj;
	int attached = n->kind == NEXT_ATTACHED;
	if (attached) {
		struct neigh_key nk = {.fib = pk->fib, .port = n->port};
		*(__u64 *)nk.addr = bswap64(pk->d0);
		*(__u64 *)(nk.addr + 8) = bswap64(pk->d1);
		__u32 *nid = bpf_map_lookup_elem(&neighs, &nk);
		if (!nid)
			return punt(ctx, PUNT_NEIGHBOUR);
		id = *nid;
	} else if (n->n) {
		if (n->n > ECMP_INLINE)
			return punt(ctx, PUNT_BIG_GROUP);
		__u32 hash = flow_hash(cfg, pk->s0, pk->s1, pk->d0, pk->d1, pk->l4);
		__u32 b = (__u32)(((__u64)hash * n->n) >> 32);
		if (b >= ECMP_INLINE)
			return punt(ctx, PUNT_BIG_GROUP);
		id = n->group[b];
	}
	struct adj_val *a = bpf_map_lookup_elem(&adjs, &id);
	if (!a || !a->live || a->state != ADJ_VALID)
		return punt(ctx, PUNT_NEIGHBOUR);
	__u32 op = attached ? n->port : a->port;
	struct egress_val *e = bpf_map_lookup_elem(&egress, &op);
	if (!e || !e->up || e->fib != pk->fib || !e->ifindex)
		return punt(ctx, PUNT_EGRESS);
	// The engine applies a path MTU to gateways only.
	__u32 mtu = e->mtu;
	if (!attached && a->mtu && a->mtu < mtu)
		mtu = a->mtu;
	if (pk->l3len > mtu)
		return punt(ctx, PUNT_MTU);

	// The frame leaves as the engine sends it: its IP packet without the
	// Ethernet padding, behind a header with the egress port's tags. The
	// resizing comes first because it can fail: a punted frame must reach
	// the engine as it arrived (trimming the padding changes nothing the
	// engine reads), and nothing after it can fail.
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	int ntags = e->outer ? (e->inner ? 2 : 1) : 0;
	int hdr = 14 + 4 * ntags;
	__u32 want = l3off + pk->l3len;
	__u32 have = (__u32)(end - data);
	if (have > want && bpf_xdp_adjust_tail(ctx, -(int)(have - want)))
		return punt(ctx, PUNT_HEADROOM);
	if (bpf_xdp_adjust_head(ctx, l3off - hdr))
		return punt(ctx, PUNT_HEADROOM);
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (hdr > 22 || data + hdr + 20 > end)
		return XDP_ABORTED; // cannot happen: the IP header follows
	__u8 *ip = data + hdr;
	if (pk->v6) {
		ip[7]--;
	} else {
		// packet.UpdateChecksum(hc, old, old-0x0100), byte for byte.
		__u16 old = ((__u16)ip[8] << 8) | ip[9];
		__u16 nw = old - 0x0100;
		__u16 hc = ((__u16)ip[10] << 8) | ip[11];
		__u32 s = (__u32)(__u16)~hc + (__u32)(__u16)~old + (__u32)nw;
		__u16 c = ~fold(s);
		ip[8]--;
		ip[10] = c >> 8;
		ip[11] = c & 0xff;
	}
	__u8 *h = data;
	__builtin_memcpy(h, a->mac, 6);
	__builtin_memcpy(h + 6, e->mac, 6);
	__u16 et = pk->v6 ? 0x86dd : 0x0800;
	if (ntags == 0) {
		*(__be16 *)(h + 12) = bswap16(et);
	} else if (ntags == 1) {
		*(__be16 *)(h + 12) = bswap16(e->tpid ? e->tpid : 0x8100);
		*(__be16 *)(h + 14) = bswap16(e->outer);
		*(__be16 *)(h + 16) = bswap16(et);
	} else {
		*(__be16 *)(h + 12) = bswap16(e->tpid ? e->tpid : 0x8100);
		*(__be16 *)(h + 14) = bswap16(e->outer);
		*(__be16 *)(h + 16) = bswap16(0x8100);
		*(__be16 *)(h + 18) = bswap16(e->inner);
		*(__be16 *)(h + 20) = bswap16(et);
	}
	__u32 txlen = (__u32)(end - data);

	__u32 ip_ = pk->in_port;
	struct counters *c = bpf_map_lookup_elem(&port_stats, &ip_);
	if (c) {
		c->rx_packets++;
		c->rx_bytes += pk->rx_len;
		c->forwarded++;
	}
	c = bpf_map_lookup_elem(&port_stats, &op);
	if (c) {
		c->tx_packets++;
		c->tx_bytes += txlen;
	}
	__u32 fid = pk->fib_slot;
	__u64 *fc = bpf_map_lookup_elem(&fib_stats, &fid);
	if (fc)
		*fc += 1;
	return bpf_redirect_map(&tx_ports, e->ifindex, 0);
}

// trie_lookup walks the trie from root over the address's first levels
// bytes (4 or 16; the address is hi, lo as big-endian numbers, an IPv4 one
// in hi's top 32 bits) and returns the longest match's entry slot + 1, 0
// on a miss. Each chunk holds the prefixes ending at its level, so the
// walk keeps the last value it passed.
//
// It is a global function, which the verifier checks once on its own
// rather than at each of its four call sites (destination and uRPF
// source, IPv4 and IPv6) with each caller's state: inlined, the source
// lookups doubled the instructions the verifier processed.
__attribute__((noinline)) __u32 trie_lookup(__u32 root, __u64 hi, __u64 lo, __u32 levels)
{
	__u32 best = 0, c = root;
	for (__u32 l = 0; l < levels && l < 16 && c; l++) {
		__u64 half = l < 8 ? hi : lo;
		__u32 i = (c << 8) | (__u32)((half >> (56 - 8 * (l & 7))) & 0xff);
		__u64 *w = bpf_map_lookup_elem(&trie, &i);
		if (!w)
			break;
		__u64 v = *w;
		if (v & 0xffffff)
			best = v & 0xffffff;
		c = v >> 32;
	}
	return best;
}

// rpf_pass is the engine's reversePath where the fast path can decide it:
// the route back to the source (hi, lo, levels as trie_lookup's, in
// generation gen) must
// be a gateway or an attached subnet, and under strict leave through the
// ingress port — the attached port, the gateway's, or any ECMP member's.
// It returns 0 when that fails or when the answer is the engine's to give
// (no route, a lookup-in-FIB chain, a backup path, too many ports): the
// packet is punted, and the engine passes or drops it.
static __always_inline int rpf_pass(const struct pkt *pk, __u32 gen, __u32 root, __u64 hi, __u64 lo, __u32 levels)
{
	__u32 hit = trie_lookup(root, hi, lo, levels);
	if (!hit)
		return 0;
	__u32 idx = gen * MAX_NEXTS + hit - 1;
	struct next_val *n = bpf_map_lookup_elem(&nexts, &idx);
	if (!n || (n->kind != NEXT_GATEWAY && n->kind != NEXT_ATTACHED))
		return 0;
	if (!(pk->flags & PORT_RPF_STRICT))
		return 1;
	__u32 np = n->nports;
	if (np > RPF_PORTS)
		return 0;
	int ok = 0;
#pragma unroll
	for (int i = 0; i < RPF_PORTS; i++)
		ok |= (__u32)i < np && n->ports[i] == pk->in_port;
	return ok;
}

static __always_inline int ipv4(struct xdp_md *ctx, struct pkt *pk, const struct fp_config *cfg, int l3off)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *ip = data + l3off;
	if ((void *)(ip + 20) > end)
		return punt(ctx, PUNT_BAD_HEADER);
	if (ip[0] != 0x45)
		return punt(ctx, (ip[0] >> 4) == 4 && (ip[0] & 15) > 5 ? PUNT_OPTIONS : PUNT_BAD_HEADER);
	__u32 tl = ((__u32)ip[2] << 8) | ip[3];
	if (tl < 20 || (void *)ip + tl > end)
		return punt(ctx, PUNT_BAD_HEADER);
	__u32 s = 0;
#pragma unroll
	for (int i = 0; i < 20; i += 2)
		s += ((__u32)ip[i] << 8) | ip[i + 1];
	if (fold(s) != 0xffff)
		return punt(ctx, PUNT_BAD_HEADER);
	if ((ip[6] & 0x3f) || ip[7])
		return punt(ctx, PUNT_FRAGMENT);
	__u8 *sa = ip + 12, *da = ip + 16;
	// packet.classify4: martian, link-local, broadcast and multicast.
	if (sa[0] == 0 || sa[0] == 127 || sa[0] >= 224 || (sa[0] == 169 && sa[1] == 254) ||
	    da[0] == 0 || da[0] == 127 || da[0] >= 224 || (da[0] == 169 && da[1] == 254))
		return punt(ctx, PUNT_SPECIAL_ADDR);
	if (ip[8] <= 1)
		return punt(ctx, PUNT_TTL);
	__u8 proto = ip[9];
	__u32 l4len = tl - 20;
	__u8 *l4 = ip + 20;
	int off, min;
	if (cfg->guess_csum && csum_field(proto, &off, &min) && l4len >= (__u32)min) {
		if ((void *)(l4 + (proto == 6 ? 20 : 8)) > end)
			return punt(ctx, PUNT_BAD_HEADER);
		__u32 ps = (((__u32)sa[0] << 8) | sa[1]) + (((__u32)sa[2] << 8) | sa[3]) +
			   (((__u32)da[0] << 8) | da[1]) + (((__u32)da[2] << 8) | da[3]) + proto + l4len;
		__u16 field = proto == 6 ? ((__u16)l4[16] << 8) | l4[17] : ((__u16)l4[6] << 8) | l4[7];
		if (field == fold(ps))
			return punt(ctx, PUNT_PARTIAL_CSUM);
	}
	__u64 ports = (__u64)proto << 32;
	if (has_ports(proto) && l4len >= 4) {
		if ((void *)(l4 + 4) > end)
			return punt(ctx, PUNT_BAD_HEADER);
		ports |= ((__u64)l4[0] << 24) | ((__u64)l4[1] << 16) | ((__u64)l4[2] << 8) | l4[3];
	}
	__u32 src = *(__u32 *)sa, dst = *(__u32 *)da;
	struct fib_val *fv = bpf_map_lookup_elem(&fibs, &pk->fib_slot);
	if (!fv || !fv->live)
		return punt(ctx, PUNT_NO_FIB);
	if (own_source4(fv, pk->fib, src))
		return punt(ctx, PUNT_OWN_SOURCE);
	__u32 gen = fv->gen & 1;
	if ((pk->flags & (PORT_RPF_LOOSE | PORT_RPF_STRICT)) &&
	    !rpf_pass(pk, gen, fv->roots[gen].v4, (__u64)bswap32(src) << 32, 0, 4))
		return punt(ctx, PUNT_RPF);
	__u32 hit = trie_lookup(fv->roots[gen].v4, (__u64)bswap32(dst) << 32, 0, 4);
	if (!hit)
		return punt(ctx, PUNT_MISS);
	pk->l3len = tl;
	pk->v6 = 0;
	pk->s0 = 0, pk->s1 = 0x0000ffff00000000ULL | bswap32(src);
	pk->d0 = 0, pk->d1 = 0x0000ffff00000000ULL | bswap32(dst);
	pk->l4 = ports;
	return finish(ctx, pk, cfg, gen, hit - 1, l3off);
}

static __always_inline int is_ext(__u8 nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 || nh == 135 || nh == 139 || nh == 140;
}

static __always_inline int reserved6(const __u8 *a)
{
	__u64 hi = *(__u64 *)a;
	__u16 mid = *(__u16 *)(a + 8);
	__u16 x = *(__u16 *)(a + 10);
	return hi == 0 && mid == 0 && (x == 0 || x == 0xffff);
}

static __always_inline int ipv6(struct xdp_md *ctx, struct pkt *pk, const struct fp_config *cfg, int l3off)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *ip = data + l3off;
	if ((void *)(ip + 40) > end)
		return punt(ctx, PUNT_BAD_HEADER);
	if ((ip[0] >> 4) != 6)
		return punt(ctx, PUNT_BAD_HEADER);
	__u32 l3len = 40 + (((__u32)ip[4] << 8) | ip[5]);
	if ((void *)ip + l3len > end)
		return punt(ctx, PUNT_BAD_HEADER);
	__u8 nh = ip[6];
	if (is_ext(nh))
		return punt(ctx, nh == 44 ? PUNT_FRAGMENT : PUNT_OPTIONS);
	__u8 *sa = ip + 8, *da = ip + 24;
	// packet.classify6.
	if (sa[0] == 0xff || reserved6(sa) || (sa[0] == 0xfe && (sa[1] & 0xc0) == 0x80) ||
	    da[0] == 0xff || reserved6(da) || (da[0] == 0xfe && (da[1] & 0xc0) == 0x80))
		return punt(ctx, PUNT_SPECIAL_ADDR);
	if (ip[7] <= 1)
		return punt(ctx, PUNT_TTL);
	__u32 l4len = l3len - 40;
	__u8 *l4 = ip + 40;
	int off, min;
	if (cfg->guess_csum && csum_field(nh, &off, &min) && l4len >= (__u32)min) {
		if ((void *)(l4 + (nh == 6 ? 20 : 8)) > end)
			return punt(ctx, PUNT_BAD_HEADER);
		__u32 ps = nh + (l4len >> 16) + (l4len & 0xffff);
#pragma unroll
		for (int i = 0; i < 16; i += 2)
			ps += (((__u32)sa[i] << 8) | sa[i + 1]) + (((__u32)da[i] << 8) | da[i + 1]);
		__u16 field = nh == 6 ? ((__u16)l4[16] << 8) | l4[17] : ((__u16)l4[6] << 8) | l4[7];
		if (field == fold(ps))
			return punt(ctx, PUNT_PARTIAL_CSUM);
	}
	__u64 ports = (__u64)nh << 32;
	if (has_ports(nh) && l4len >= 4) {
		if ((void *)(l4 + 4) > end)
			return punt(ctx, PUNT_BAD_HEADER);
		ports |= ((__u64)l4[0] << 24) | ((__u64)l4[1] << 16) | ((__u64)l4[2] << 8) | l4[3];
	}
	struct fib_val *fv = bpf_map_lookup_elem(&fibs, &pk->fib_slot);
	if (!fv || !fv->live)
		return punt(ctx, PUNT_NO_FIB);
	if (own_source(fv, pk->fib, sa, *(__u32 *)(sa + 12)))
		return punt(ctx, PUNT_OWN_SOURCE);
	__u32 gen = fv->gen & 1;
	pk->s0 = bswap64(*(__u64 *)sa), pk->s1 = bswap64(*(__u64 *)(sa + 8));
	pk->d0 = bswap64(*(__u64 *)da), pk->d1 = bswap64(*(__u64 *)(da + 8));
	if ((pk->flags & (PORT_RPF_LOOSE | PORT_RPF_STRICT)) && !rpf_pass(pk, gen, fv->roots[gen].v6, pk->s0, pk->s1, 16))
		return punt(ctx, PUNT_RPF);
	__u32 hit = trie_lookup(fv->roots[gen].v6, pk->d0, pk->d1, 16);
	if (!hit)
		return punt(ctx, PUNT_MISS);
	pk->l3len = l3len;
	pk->v6 = 1;
	pk->l4 = ports;
	return finish(ctx, pk, cfg, gen, hit - 1, l3off);
}

// l3 classifies the frame's port by its tags (ntags of them, the IP header
// at l3off) and dispatches on the EtherType.
static __always_inline int l3(struct xdp_md *ctx, struct port_key *pkey, __u16 et, int l3off)
{
	struct port_val *pv = bpf_map_lookup_elem(&ports, pkey);
	if (!pv)
		return punt(ctx, PUNT_NO_PORT);
	if (!(pv->flags & PORT_FAST))
		return punt(ctx, PUNT_PORT_SLOW);
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + 14 > end)
		return punt(ctx, PUNT_BAD_HEADER);
	__u8 *d = data;
	if (*(__u32 *)d != *(__u32 *)pv->mac || *(__u16 *)(d + 4) != *(__u16 *)(pv->mac + 4))
		return punt(ctx, PUNT_NOT_FOR_US);
	__u32 k = 0;
	const struct fp_config *cfg = bpf_map_lookup_elem(&config, &k);
	if (!cfg)
		return punt(ctx, PUNT_NO_FIB);
	struct pkt pk = {.fib = pv->fib, .fib_slot = pv->fib_slot, .in_port = pv->port, .rx_len = (__u32)(end - data), .flags = pv->flags};
	if (et == 0x0800)
		return ipv4(ctx, &pk, cfg, l3off);
	if (et == 0x86dd)
		return ipv6(ctx, &pk, cfg, l3off);
	return punt(ctx, PUNT_NOT_IP);
}

SEC("xdp")
int fibd_xsk_fast(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + 14 > end)
		return punt(ctx, PUNT_BAD_HEADER);
	__u8 *h = data;
	struct port_key pkey = {.ifindex = ctx->ingress_ifindex};
	__u16 et = ((__u16)h[12] << 8) | h[13];
	if (et != 0x8100 && et != 0x88a8)
		return l3(ctx, &pkey, et, 14);
	if (data + 18 > end)
		return punt(ctx, PUNT_BAD_HEADER);
	pkey.tpid = et;
	pkey.vid = (((__u16)h[14] << 8) | h[15]) & 0x0fff;
	pkey.ntags = 1;
	et = ((__u16)h[16] << 8) | h[17];
	if (et != 0x8100 && et != 0x88a8) {
		if (pkey.vid == 0x0fff)
			return punt(ctx, PUNT_BAD_HEADER);
		return l3(ctx, &pkey, et, 18);
	}
	if (data + 22 > end)
		return punt(ctx, PUNT_BAD_HEADER);
	if (et != 0x8100)
		return punt(ctx, PUNT_NO_PORT); // the engine's QinQ ports take an 802.1Q inner tag only
	pkey.inner = (((__u16)h[18] << 8) | h[19]) & 0x0fff;
	pkey.ntags = 2;
	et = ((__u16)h[20] << 8) | h[21];
	if (et == 0x8100 || et == 0x88a8 || pkey.vid == 0x0fff || pkey.inner == 0x0fff)
		return punt(ctx, PUNT_BAD_HEADER);
	return l3(ctx, &pkey, et, 22);
}

char _license[] SEC("license") = "Dual MIT/GPL";
