// Package isolation measures whether one tenant of fibd can hurt another:
// `fibbench isolation` builds two customers, FIB 10 and FIB 20, on separate
// router interfaces with identical addressing, runs a live flow for each at
// a fixed rate to a server behind its gateway, and then lets FIB 10 do
// something harsh (scenarios) while both flows are counted at their sinks.
//
// Every frame a flow sends carries its FIB's marker, its flow and a
// sequence number in the UDP payload, and every sink checks each frame it
// receives: the marker must be its own FIB's, the source MAC the router
// port it is wired to, the destination MAC its own. A frame that fails is
// misdelivered — another tenant's traffic, or a rewrite with another
// port's addresses — and any one is a failure of fibd's isolation.
//
// The topology, per tenant T (10 and 20), with the same addresses in both:
//
//	cT (192.0.2.2) ── cT port of FIB T (192.0.2.1) [fibd] (198.51.100.1) sT port ── sT (198.51.100.2)
//
// sT is the gateway and the server: it owns 203.0.113.10 and, for the
// churn flow, 198.18.0.0/16 (benchmarking addresses), and discards what it
// receives on a UDP socket that is never read. fibd runs in a namespace
// of its own, configured through its API like any daemon would.
package isolation

import (
	"time"
)

// Scenario names, in the order Run takes them.
const (
	ScenarioChurn = "churn"
	ScenarioScan  = "scan"
	ScenarioFlood = "flood"
	ScenarioICMP  = "icmp"
	ScenarioStorm = "storm"
)

// Scenarios lists every scenario.
var Scenarios = []string{ScenarioChurn, ScenarioScan, ScenarioFlood, ScenarioICMP, ScenarioStorm}

// Config tunes a run. The zero value runs every scenario at full size.
type Config struct {
	// FibdPath is the fibd binary; required.
	FibdPath string
	// IO is fibd's --io (default "auto": XDP where it attaches).
	IO string
	// Scenarios to run; nil runs all.
	Scenarios []string
	// Routes bounds the table the churn scenario re-points (0: the whole
	// shipped IPv4 table, 615,151 routes).
	Routes int
	// Repoints is how many times churn re-points the table; default 3.
	Repoints int
	// FlowPPS is each live flow's rate; default 10,000.
	FlowPPS int
	// ScanPPS and ScanFor: the scan's rate of new destinations (default
	// 20,000/s) and length (default 30 s).
	ScanPPS int
	ScanFor time.Duration
	// FloodSenders, FloodPPS and FloodBound: how many distinct senders
	// the flood claims (default 100,000), how fast (default 50,000/s), and
	// FIB 10's neighbour bound meanwhile (default 4,096).
	FloodSenders, FloodPPS, FloodBound int
	// ICMPFor is the length of each of the icmp scenario's two windows
	// (default 10 s).
	ICMPFor time.Duration
	// StormFrames and StormShare: how many malformed frames the storm
	// sends (default 10 million) and at what share of FIB 10's measured
	// forwarding rate (default 0.8).
	StormFrames int
	StormShare  float64
	// Settle is how long flows run before and after a scenario's harsh
	// part; default 1 s.
	Settle time.Duration
	// Log receives progress lines.
	Log func(format string, args ...any)
}

func (c *Config) defaults() {
	if c.IO == "" {
		c.IO = "auto"
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = Scenarios
	}
	if c.ScanPPS == 0 {
		c.ScanPPS = 20000
	}
	if c.ScanFor == 0 {
		c.ScanFor = 30 * time.Second
	}
	if c.FloodSenders == 0 {
		c.FloodSenders = 100000
	}
	if c.FloodPPS == 0 {
		c.FloodPPS = 50000
	}
	if c.FloodBound == 0 {
		c.FloodBound = 4096
	}
	if c.ICMPFor == 0 {
		c.ICMPFor = 10 * time.Second
	}
	if c.Repoints == 0 {
		c.Repoints = 3
	}
	if c.FlowPPS == 0 {
		c.FlowPPS = 10000
	}
	if c.StormFrames == 0 {
		c.StormFrames = 10_000_000
	}
	if c.StormShare == 0 {
		c.StormShare = 0.8
	}
	if c.Settle == 0 {
		c.Settle = time.Second
	}
	if c.Log == nil {
		c.Log = func(string, ...any) {}
	}
}

// Result is what `fibbench isolation` prints: one flat object, each
// scenario's figures named after it, plus misdelivered_frames over the
// whole run.
type Result struct {
	IO      string  `json:"io"`
	FlowPPS int     `json:"flow_pps"`
	Seconds float64 `json:"seconds"`
	// MisdeliveredFrames counts, over every scenario, frames that reached
	// the wrong sink, or the right one with another port's MAC.
	MisdeliveredFrames uint64 `json:"misdelivered_frames"`

	// churn: the table re-pointed Repoints times in FIB 10 (new gateways
	// each time, whose static neighbours are added before and the old
	// ones deleted after, so adjacencies are freed and reused), while
	// FIB 20 churns neighbours of its own.
	ChurnRoutes            int       `json:"churn_routes,omitempty"`
	ChurnRepoints          int       `json:"churn_repoints,omitempty"`
	ChurnRepointSeconds    []float64 `json:"churn_repoint_seconds,omitempty"`
	ChurnSeconds           float64   `json:"churn_seconds,omitempty"`
	ChurnNeighborOps       int       `json:"churn_fib20_neighbor_ops,omitempty"`
	ChurnMisdelivered      uint64    `json:"churn_misdelivered_frames"`
	UnchangedPrefixLossPct float64   `json:"unchanged_prefix_loss_pct"`
	ChurnVictimLossPct     float64   `json:"churn_victim_loss_pct"`
	ChurnOwnLossPct        float64   `json:"churn_own_loss_pct"`
	RepointedPrefixLossPct float64   `json:"repointed_prefix_loss_pct"`
	ChurnFramesCounted     uint64    `json:"churn_frames_counted"`

	// scan: distinct unused addresses of FIB 10's connected /16 at
	// ScanPPS for ScanFor, FIB 10's gateway re-checked through PROBE.
	ScanSent                uint64  `json:"scan_sent,omitempty"`
	ScanSeconds             float64 `json:"scan_seconds,omitempty"`
	ScanLiveNeighborsFailed int     `json:"scan_live_neighbors_failed"`
	// ScanSolicitationsPerS is the ARP requests for the scanned subnet that
	// reached its link, per second: what the scan cost (bounded by FIB
	// 10's solicitation budget, not by the scan's rate).
	ScanSolicitationsPerS float64 `json:"scan_solicitations_per_s"`
	ScanOwnLossPct        float64 `json:"scan_own_loss_pct"`
	ScanVictimLossPct     float64 `json:"scan_victim_loss_pct"`

	// flood: FloodSenders gratuitous ARP, ARP requests for the router and
	// unsolicited NA from distinct senders on FIB 10's port.
	FloodSent              int     `json:"flood_sent,omitempty"`
	FloodSeconds           float64 `json:"flood_seconds,omitempty"`
	FloodBound             int     `json:"flood_table_bound,omitempty"`
	FloodTableEntriesMax   int     `json:"flood_table_entries_max"`
	FloodReferencedEvicted int     `json:"flood_referenced_evicted"`
	FloodOwnLossPct        float64 `json:"flood_own_loss_pct"`
	FloodVictimLossPct     float64 `json:"flood_victim_loss_pct"`

	// icmp: TTL=1 into FIB 10 at half its measured forwarding rate, FIB
	// 20 probed with TTL=1 at 100 pps; the same window without the flood
	// first.
	ICMPForwardingPPS         float64 `json:"icmp_fib10_forwarding_pps,omitempty"`
	ICMPFloodPPS              float64 `json:"icmp_flood_pps,omitempty"`
	ICMPFloodSent             int     `json:"icmp_flood_sent,omitempty"`
	ICMPBaselineVictimLossPct float64 `json:"icmp_baseline_victim_loss_pct"`
	ICMPBaselineAnsweredPct   float64 `json:"icmp_baseline_answered_pct"`
	ICMPVictimLossPct         float64 `json:"icmp_victim_loss_pct"`
	ICMPVictimAnsweredPct     float64 `json:"icmp_victim_answered_pct"`

	// storm: StormFrames malformed and mutated frames into FIB 10's port
	// at StormShare of its measured forwarding rate, FIB 10's valid flow
	// on the same port, the API asked every 50 ms.
	StormForwardingPPS float64 `json:"storm_fib10_forwarding_pps,omitempty"`
	StormPPS           float64 `json:"storm_pps,omitempty"`
	StormSent          int     `json:"storm_sent,omitempty"`
	StormSeconds       float64 `json:"storm_seconds,omitempty"`
	// StormRefusedBySender counts frames the generator's own socket would
	// not send (none expected: every variant is at least a link header).
	StormRefusedBySender int `json:"storm_refused_by_sender"`
	// StormWorkerPanics is 1 when fibd died during the storm (a worker's
	// panic ends the process), else 0.
	StormWorkerPanics int `json:"storm_worker_panics"`
	// StormAPIAsked/Answered count GetInfo calls (1 s deadline each)
	// during the storm; StormAPISlowestMs is the slowest answer.
	StormAPIAsked     int     `json:"storm_api_asked,omitempty"`
	StormAPIAnswered  int     `json:"storm_api_answered,omitempty"`
	StormAPISlowestMs float64 `json:"storm_api_slowest_ms,omitempty"`
	// StormCountersBalance: on every port, rx_packets = forwarded + local
	// + neighbor_queued + receive drops; StormUnbalanced says where not.
	StormCountersBalance bool `json:"storm_counters_balance"`
	// StormUnbalancedPorts counts the ports that do not balance (the
	// report's target reads it); StormUnbalanced says how.
	StormUnbalancedPorts int               `json:"storm_unbalanced_ports"`
	StormUnbalanced      []string          `json:"storm_unbalanced,omitempty"`
	StormDropReasons     map[string]uint64 `json:"storm_fib10_port_drops,omitempty"`
	StormValidLossPct    float64           `json:"storm_valid_loss_pct"`
	// StormRxRingDrops counts frames the kernel dropped on FIB 10's port
	// during the storm because fibd's receive ring was full.
	StormRxRingDrops uint64 `json:"storm_rx_ring_drops"`
}
