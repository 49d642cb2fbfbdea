package neigh

import (
	"sync/atomic"

	"github.com/fibd/fibd/fib/adj"
)

// Counter names one per-FIB event or drop reason. The packet path drops
// and counts, never logs; every drop has its own counter.
type Counter uint8

const (
	ARPRxRequests Counter = iota
	ARPRxReplies
	ARPRxTruncated       // shorter than 28 bytes
	ARPRxBadFormat       // not Ethernet/IPv4
	ARPRxBadOp           // neither request nor reply
	ARPRxBadSender       // group/zero sender MAC or non-unicast sender IP
	ARPRxOffLink         // sender outside every connected subnet of the port: refused
	ARPRxAddressConflict // sender claims one of our addresses
	ARPRxNotCached       // unsolicited, no entry, not for us: RFC 826 merge rule
	ARPTxRequests
	ARPTxReplies

	NSRx
	NARx
	NDRxTruncated
	NDRxBadHeader        // not IPv6, or extension headers before ICMPv6
	NDRxBadHopLimit      // RFC 4861 §7.1: hop limit must be 255
	NDRxBadChecksum      //
	NDRxBadCode          // code must be 0
	NDRxBadTarget        // multicast target
	NDRxBadOption        // zero/overlong option, wrong LL option length, SLLA in DAD
	NDRxBadSource        // multicast IPv6 source
	NDRxBadDestination   // DAD NS not sent to a solicited-node group
	NDRxBadSolicitedFlag // NA with S=1 to a multicast destination
	NDRxBadLinkAddr      // group or zero MAC in a link-layer option
	NDRxIgnored          // RS, RA, Redirect: not neigh's business
	ICMPv6RxNotND        // other ICMPv6 types handed to HandleICMPv6
	NSRxNotLocal         // target is not one of our addresses (no proxy ND)
	NSRxOffLink          // source outside every connected subnet: answered, not cached
	NARxOffLink          // target outside every connected subnet: refused
	NDRxAddressConflict  // NA target or NS source is one of our own addresses
	NARxNoEntry          // unsolicited NA without an entry (RFC 4861 §7.2.5)
	NARxNoLinkAddr       // NA without TLLA for an INCOMPLETE entry
	NSTx
	NATx

	ResolveInvalid     // multicast, unspecified, loopback or no-port key
	ResolveOffLink     // next hop outside every connected subnet: refused
	QueueDropEntryFull // oldest packet of an entry dropped for a newer one
	QueueDropFIBFull   // FIB's packet bound reached
	QueueDropFIBBytes  // FIB's byte bound reached
	QueueDropRemoved   // entry evicted, flushed or deleted with packets queued
	QueueDelivered     // packets handed to Env.Deliver
	QueueUnreachable   // packets handed to Env.Unreachable
	ResolutionFailed   // entries that entered FAILED
	TableFull          // entry refused: at MaxEntries and nothing evictable
	Evictions          // entries evicted to make room
	SolicitRateLimited // solicitation suppressed by the FIB's rate limit
	TxNoSource         // no router address to solicit from
	TxNoPortMAC        // port has no MAC (gone?)
	UnexpectedTimer    // a timer fired in a state without timers (a bug)
	StaleCollected     // unreferenced STALE entries removed after GCStaleTime
	ARPTxAnnouncements // gratuitous ARP sent for an address of ours
	NATxAnnouncements  // unsolicited NA sent for an address of ours
	ARPRxUnsolicited   // ARP replies and gratuitous ARP from senders without an entry (arp_accept off)

	NumCounters
)

var counterNames = [NumCounters]string{
	ARPRxRequests:        "arp_rx_requests",
	ARPRxReplies:         "arp_rx_replies",
	ARPRxTruncated:       "arp_rx_truncated",
	ARPRxBadFormat:       "arp_rx_bad_format",
	ARPRxBadOp:           "arp_rx_bad_op",
	ARPRxBadSender:       "arp_rx_bad_sender",
	ARPRxOffLink:         "arp_rx_off_link",
	ARPRxAddressConflict: "arp_rx_address_conflict",
	ARPRxNotCached:       "arp_rx_not_cached",
	ARPTxRequests:        "arp_tx_requests",
	ARPTxReplies:         "arp_tx_replies",
	NSRx:                 "nd_rx_ns",
	NARx:                 "nd_rx_na",
	NDRxTruncated:        "nd_rx_truncated",
	NDRxBadHeader:        "nd_rx_bad_header",
	NDRxBadHopLimit:      "nd_rx_bad_hop_limit",
	NDRxBadChecksum:      "nd_rx_bad_checksum",
	NDRxBadCode:          "nd_rx_bad_code",
	NDRxBadTarget:        "nd_rx_bad_target",
	NDRxBadOption:        "nd_rx_bad_option",
	NDRxBadSource:        "nd_rx_bad_source",
	NDRxBadDestination:   "nd_rx_bad_destination",
	NDRxBadSolicitedFlag: "nd_rx_bad_solicited_flag",
	NDRxBadLinkAddr:      "nd_rx_bad_link_addr",
	NDRxIgnored:          "nd_rx_ignored",
	ICMPv6RxNotND:        "icmpv6_rx_not_nd",
	NSRxNotLocal:         "nd_rx_ns_not_local",
	NSRxOffLink:          "nd_rx_ns_off_link",
	NARxOffLink:          "nd_rx_na_off_link",
	NDRxAddressConflict:  "nd_rx_address_conflict",
	NARxNoEntry:          "nd_rx_na_no_entry",
	NARxNoLinkAddr:       "nd_rx_na_no_link_addr",
	NSTx:                 "nd_tx_ns",
	NATx:                 "nd_tx_na",
	ResolveInvalid:       "resolve_invalid",
	ResolveOffLink:       "resolve_off_link",
	QueueDropEntryFull:   "queue_drop_entry_full",
	QueueDropFIBFull:     "queue_drop_fib_full",
	QueueDropFIBBytes:    "queue_drop_fib_bytes",
	QueueDropRemoved:     "queue_drop_removed",
	QueueDelivered:       "queue_delivered",
	QueueUnreachable:     "queue_unreachable",
	ResolutionFailed:     "resolution_failed",
	TableFull:            "table_full",
	Evictions:            "evictions",
	SolicitRateLimited:   "solicit_rate_limited",
	TxNoSource:           "tx_no_source",
	TxNoPortMAC:          "tx_no_port_mac",
	UnexpectedTimer:      "unexpected_timer",
	StaleCollected:       "stale_collected",
	ARPTxAnnouncements:   "arp_tx_announcements",
	NATxAnnouncements:    "na_tx_announcements",
	ARPRxUnsolicited:     "arp_rx_unsolicited",
}

// Name is the counter's snake_case name, e.g. "arp_rx_off_link".
func (c Counter) Name() string {
	if c < NumCounters {
		return counterNames[c]
	}
	return "unknown"
}

// MetricName is the Prometheus name: "fibd_neigh_<name>_total", to be
// exported with a "fib" label.
func (c Counter) MetricName() string { return "fibd_neigh_" + c.Name() + "_total" }

// counters is one FIB's set, updated lock-free from any goroutine.
type counters [NumCounters]atomic.Uint64

func (c *counters) inc(k Counter)        { c[k].Add(1) }
func (c *counters) add(k Counter, n int) { c[k].Add(uint64(n)) }
func (c *counters) snapshot() (s [NumCounters]uint64) {
	for i := range c {
		s[i] = c[i].Load()
	}
	return s
}

// FIBStats is one FIB's counters and gauges.
type FIBStats struct {
	FIB adj.FIBID
	// Dynamic and Static count entries; ByState counts them per State.
	Dynamic, Static int
	ByState         [NumStates]int
	// QueuedPackets and QueuedBytes are waiting for resolution now.
	QueuedPackets, QueuedBytes int
	Counters                   [NumCounters]uint64
}

// Counter returns one counter's value.
func (s *FIBStats) Counter(c Counter) uint64 { return s.Counters[c] }

// Stats is a snapshot of every FIB's statistics, sorted by FIB.
type Stats struct {
	FIBs []FIBStats
	// EventsDropped counts events lost by slow subscribers, all together.
	EventsDropped uint64
}

// arpErrCounter maps a ParseARP error to its counter.
func arpErrCounter(err error) Counter {
	switch err {
	case ErrTruncated:
		return ARPRxTruncated
	case ErrARPOp:
		return ARPRxBadOp
	}
	return ARPRxBadFormat
}

// ndErrCounter maps a ParseNS/ParseNA error to its counter.
func ndErrCounter(err error) Counter {
	switch err {
	case ErrTruncated:
		return NDRxTruncated
	case ErrHopLimit:
		return NDRxBadHopLimit
	case ErrChecksum:
		return NDRxBadChecksum
	case ErrCode:
		return NDRxBadCode
	case ErrTarget:
		return NDRxBadTarget
	case ErrOption:
		return NDRxBadOption
	case ErrSourceAddress:
		return NDRxBadSource
	case ErrDestination:
		return NDRxBadDestination
	case ErrSolicitedFlag:
		return NDRxBadSolicitedFlag
	}
	return NDRxBadHeader
}
