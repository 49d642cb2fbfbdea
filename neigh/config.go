package neigh

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fibd/fibd/fib/adj"
)

// Protocol constants from RFC 4861 §10 ("Protocol Constants"). Linux uses
// the same values for ARP, and so does neigh.
const (
	// ReachableTime is REACHABLE_TIME: how long a confirmation lasts.
	ReachableTime = 30 * time.Second
	// RetransTimer is RETRANS_TIMER: the interval between solicitations.
	RetransTimer = 1 * time.Second
	// DelayFirstProbeTime is DELAY_FIRST_PROBE_TIME: how long DELAY waits
	// for an upper-layer confirmation before probing.
	DelayFirstProbeTime = 5 * time.Second
	// MaxMulticastSolicit is MAX_MULTICAST_SOLICIT: multicast (ARP:
	// broadcast) solicitations before resolution fails.
	MaxMulticastSolicit = 3
	// MaxUnicastSolicit is MAX_UNICAST_SOLICIT: unicast probes before a
	// PROBE entry fails.
	MaxUnicastSolicit = 3
	// MinRandomFactor and MaxRandomFactor bound the jitter applied to
	// BaseReachableTime (RFC 4861 §6.3.2: uniformly distributed between
	// MIN_RANDOM_FACTOR and MAX_RANDOM_FACTOR times the base value).
	MinRandomFactor = 0.5
	MaxRandomFactor = 1.5
)

// Defaults that are fibd's own, not the RFC's.
const (
	// DefaultMaxEntries bounds dynamic entries per FIB. A /16 of hosts
	// behind one router is unusual; 16Ki keeps a scan of a /16 from pushing
	// out every useful entry while fitting a few MiB per FIB.
	DefaultMaxEntries = 16384
	// DefaultQueuePerEntry is how many packets wait for one neighbour —
	// enough for a TCP initial window's worth of SYN retries and a burst of
	// UDP, as Linux's default of a few packets per entry.
	DefaultQueuePerEntry = 8
	// DefaultQueuePerFIB bounds queued packets across a FIB.
	DefaultQueuePerFIB = 1024
	// DefaultQueueBytesPerFIB bounds the bytes those packets hold (the queue
	// owns copies: RX buffers and UMEM frames go back to the ring).
	DefaultQueueBytesPerFIB = 1 << 20
	// DefaultSolicitRate and DefaultSolicitBurst rate-limit solicitations
	// per FIB (token bucket): a scan of an unused subnet must not turn the
	// router into a broadcast amplifier.
	DefaultSolicitRate  = 200 // per second
	DefaultSolicitBurst = 100
	// DefaultReservedSolicitRate and DefaultReservedSolicitBurst are a
	// second budget per FIB that only neighbours that matter may use: an
	// entry a route uses (a gateway), and a known neighbour whose
	// reachability is being checked (PROBE, or one that had a MAC). A scan
	// empties the first budget and never this one.
	DefaultReservedSolicitRate  = 100 // per second
	DefaultReservedSolicitBurst = 50
	// DefaultFailedLifetime is how long a FAILED entry is kept (listed,
	// its adjacency marked failed so routes through it answer ICMP
	// unreachable); then it is removed. Traffic to a FAILED entry starts a
	// fresh resolution at once, as Linux's NUD_FAILED does, within the
	// FIB's solicitation budget.
	DefaultFailedLifetime = 20 * time.Second
	// DefaultGCStaleTime is how long an unreferenced STALE entry is kept
	// (Linux: gc_stale_time, 60 s): nothing has used it since its last
	// confirmation, and a scan's learned senders must not stay forever.
	DefaultGCStaleTime = 60 * time.Second
)

// FIBConfig holds one FIB's timers and limits. A zero field means "the
// default": DefaultFIBConfig's value, itself the RFC 4861 constant where
// there is one.
type FIBConfig struct {
	BaseReachableTime   time.Duration
	RetransTimer        time.Duration
	DelayFirstProbeTime time.Duration
	MaxMulticastSolicit int
	MaxUnicastSolicit   int
	FailedLifetime      time.Duration

	// MaxEntries bounds dynamic entries (static ones are exempt). When it is
	// reached, creating an entry evicts the least useful one: FAILED first,
	// then STALE, then any other, oldest state change first.
	MaxEntries int
	// QueuePerEntry, QueuePerFIB and QueueBytesPerFIB bound the packets
	// waiting for resolution.
	QueuePerEntry    int
	QueuePerFIB      int
	QueueBytesPerFIB int
	// SolicitRate (per second) and SolicitBurst bound solicitations sent
	// from the FIB. Replies to solicitations are not limited.
	SolicitRate  float64
	SolicitBurst int
	// ReservedSolicitRate and ReservedSolicitBurst are the budget that only
	// neighbours that matter may use (see DefaultReservedSolicitRate);
	// when it is spent they use the general one too.
	ReservedSolicitRate  float64
	ReservedSolicitBurst int
	// GCStaleTime is how long an unreferenced STALE entry lives.
	GCStaleTime time.Duration
	// ARPAccept, like Linux's arp_accept, lets an ARP reply or gratuitous
	// ARP from a sender the router has no entry for create one (STALE).
	// Off by default: only a request for one of the router's addresses
	// (RFC 826's merge rule) or the router's own resolution creates
	// entries, so a flood of replies cannot fill the table.
	ARPAccept bool
}

// DefaultFIBConfig returns the RFC 4861 constants and fibd's default limits.
func DefaultFIBConfig() FIBConfig {
	return FIBConfig{
		BaseReachableTime:   ReachableTime,
		RetransTimer:        RetransTimer,
		DelayFirstProbeTime: DelayFirstProbeTime,
		MaxMulticastSolicit: MaxMulticastSolicit,
		MaxUnicastSolicit:   MaxUnicastSolicit,
		FailedLifetime:      DefaultFailedLifetime,
		MaxEntries:          DefaultMaxEntries,
		QueuePerEntry:       DefaultQueuePerEntry,
		QueuePerFIB:         DefaultQueuePerFIB,
		QueueBytesPerFIB:    DefaultQueueBytesPerFIB,
		SolicitRate:         DefaultSolicitRate,
		SolicitBurst:        DefaultSolicitBurst,

		ReservedSolicitRate:  DefaultReservedSolicitRate,
		ReservedSolicitBurst: DefaultReservedSolicitBurst,
		GCStaleTime:          DefaultGCStaleTime,
	}
}

// ErrInvalidConfig is returned (wrapped) for a negative timer or limit.
var ErrInvalidConfig = errors.New("neigh: invalid configuration")

// withDefaults fills zero fields from def and rejects negative ones.
func (c FIBConfig) withDefaults(def FIBConfig) (FIBConfig, error) {
	durs := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"BaseReachableTime", &c.BaseReachableTime, def.BaseReachableTime},
		{"RetransTimer", &c.RetransTimer, def.RetransTimer},
		{"DelayFirstProbeTime", &c.DelayFirstProbeTime, def.DelayFirstProbeTime},
		{"FailedLifetime", &c.FailedLifetime, def.FailedLifetime},
		{"GCStaleTime", &c.GCStaleTime, def.GCStaleTime},
	}
	for _, d := range durs {
		if *d.v < 0 {
			return c, fmt.Errorf("%w: %s %v is negative", ErrInvalidConfig, d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	ints := []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxMulticastSolicit", &c.MaxMulticastSolicit, def.MaxMulticastSolicit},
		{"MaxUnicastSolicit", &c.MaxUnicastSolicit, def.MaxUnicastSolicit},
		{"MaxEntries", &c.MaxEntries, def.MaxEntries},
		{"QueuePerEntry", &c.QueuePerEntry, def.QueuePerEntry},
		{"QueuePerFIB", &c.QueuePerFIB, def.QueuePerFIB},
		{"QueueBytesPerFIB", &c.QueueBytesPerFIB, def.QueueBytesPerFIB},
		{"SolicitBurst", &c.SolicitBurst, def.SolicitBurst},
		{"ReservedSolicitBurst", &c.ReservedSolicitBurst, def.ReservedSolicitBurst},
	}
	for _, i := range ints {
		if *i.v < 0 {
			return c, fmt.Errorf("%w: %s %d is negative", ErrInvalidConfig, i.name, *i.v)
		}
		if *i.v == 0 {
			*i.v = i.def
		}
	}
	for _, r := range []struct {
		name string
		v    *float64
		def  float64
	}{{"SolicitRate", &c.SolicitRate, def.SolicitRate}, {"ReservedSolicitRate", &c.ReservedSolicitRate, def.ReservedSolicitRate}} {
		if *r.v < 0 {
			return c, fmt.Errorf("%w: %s %v is negative", ErrInvalidConfig, r.name, *r.v)
		}
		if *r.v == 0 {
			*r.v = r.def
		}
	}
	return c, nil
}

// Config configures a Table.
type Config struct {
	// Adj is the shared adjacency table. Required.
	Adj *adj.Table
	// Env is the dataplane side. Required.
	Env Env
	// Clock defaults to RealClock.
	Clock Clock
	// Rand defaults to a PCG seeded from the runtime.
	Rand Rand
	// Defaults applies to every FIB without its own SetConfig; zero fields
	// take DefaultFIBConfig's values.
	Defaults FIBConfig
	// Logger defaults to slog.Default(). neigh never logs per packet.
	Logger *slog.Logger
}
