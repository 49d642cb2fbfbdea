package neigh

import (
	"fmt"

	"github.com/fibd/fibd/fib/adj"
)

// State is a neighbour entry's state in the RFC 4861 §7.3.2 machine.
type State uint8

const (
	// None is an entry that has just been created and not yet entered the
	// machine, or one that has been removed. Lookup never reports it.
	None State = iota
	// Incomplete: resolution is in progress; a multicast solicitation (ARP:
	// broadcast request) has been sent and no answer has arrived.
	Incomplete
	// Reachable: positive confirmation within the last ReachableTime.
	Reachable
	// Stale: the MAC is usable but unconfirmed; nothing happens until a
	// packet is sent to it.
	Stale
	// Delay: a packet was sent to a Stale neighbour; wait
	// DelayFirstProbeTime for an upper-layer confirmation before probing.
	Delay
	// Probe: unicast solicitations are being sent to the cached MAC.
	Probe
	// Failed: resolution or probing got no answer. Queued packets were
	// handed to Env.Unreachable; the next packet restarts resolution.
	Failed
	// Permanent: a static entry. No timers, never evicted, survives Flush.
	Permanent

	// NumStates is the number of states, for arrays indexed by State.
	NumStates
)

var stateNames = [NumStates]string{
	None:       "none",
	Incomplete: "incomplete",
	Reachable:  "reachable",
	Stale:      "stale",
	Delay:      "delay",
	Probe:      "probe",
	Failed:     "failed",
	Permanent:  "permanent",
}

func (s State) String() string {
	if s < NumStates {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// AdjState maps a neighbour state onto the three states the dataplane reads
// from an adjacency.
func (s State) AdjState() adj.State {
	switch s {
	case Reachable, Delay, Probe, Permanent:
		return adj.Valid
	case Stale:
		return adj.Stale
	case Failed:
		return adj.Failed
	case None, Incomplete:
		return adj.Incomplete
	}
	return adj.Incomplete
}

// usable reports whether packets may be sent to the cached MAC without
// involving the state machine. Stale is usable too, but sending on a Stale
// entry is an event (Stale → Delay), so the fast path leaves it to the
// locked path.
func (s State) usable() bool {
	switch s {
	case Reachable, Delay, Probe, Permanent:
		return true
	case None, Incomplete, Stale, Failed:
		return false
	}
	return false
}
