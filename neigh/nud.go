package neigh

import "github.com/fibd/fibd/fib/adj"

// The RFC 4861 §7.3.3 event handlers, one per event, each an exhaustive
// switch over the states. ARP packets are mapped onto the same events (see
// the package doc). Every handler runs with Table.mu held and leaves Env
// work in w.

// handlePacketQueuedLocked is "a packet is to be sent to the neighbour". It
// returns the MAC when the packet may be sent now; otherwise a copy of pkt
// is queued.
func (t *Table) handlePacketQueuedLocked(e *entry, pkt []byte, w *work) (adj.MAC, bool) {
	switch e.state {
	case None:
		// "the sender creates one, sets its state to INCOMPLETE, initiates
		// Address Resolution, and then queues the data packet"
		t.enqueueLocked(e, pkt)
		t.setStateLocked(e, Incomplete, w)
		return adj.MAC{}, false
	case Incomplete:
		t.enqueueLocked(e, pkt)
		return adj.MAC{}, false
	case Failed:
		// Like Linux's NUD_FAILED: new traffic starts a fresh resolution
		// (within the FIB's solicitation budget; see DefaultFailedLifetime).
		t.enqueueLocked(e, pkt)
		t.setStateLocked(e, Incomplete, w)
		return adj.MAC{}, false
	case Stale:
		// "The first time a node sends a packet to a neighbor whose entry
		// is STALE, the sender changes the state to DELAY"
		t.setStateLocked(e, Delay, w)
		return e.mac, true
	case Reachable, Delay, Probe, Permanent:
		return e.mac, true
	}
	return adj.MAC{}, false
}

// handleProbeLocked is an incoming solicitation carrying the sender's MAC:
// an NS with a Source Link-Layer option (RFC 4861 §7.2.3), or an ARP packet
// (request, or gratuitous) from the neighbour.
func (t *Table) handleProbeLocked(e *entry, mac adj.MAC, w *work) {
	switch e.state {
	case None, Incomplete, Failed:
		// "If an entry does not already exist, the node SHOULD create a new
		// one and set its reachability state to STALE"; an INCOMPLETE entry
		// gets the address and its queue is sent.
		e.mac = mac
		t.setStateLocked(e, Stale, w)
	case Reachable, Delay, Probe:
		// "If an entry already exists, and the cached link-layer address
		// differs …, the cached address should be replaced …, and the
		// entry's reachability state MUST be set to STALE."
		if e.mac != mac {
			e.mac = mac
			t.setStateLocked(e, Stale, w)
		}
	case Stale:
		if e.mac != mac {
			t.setMACLocked(e, mac)
		}
	case Permanent:
		// Static entries are the operator's word.
	}
}

// confirmation carries what an advertisement says: an NA's flags and
// target link-layer option, or an ARP reply to us (solicited, override).
type confirmation struct {
	mac       adj.MAC
	hasMAC    bool
	solicited bool
	override  bool
	router    bool
}

// handleConfirmationLocked is an incoming advertisement (RFC 4861 §7.2.5).
func (t *Table) handleConfirmationLocked(e *entry, c confirmation, w *work) {
	switch e.state {
	case None:
		// Only ARP with arp_accept creates entries from replies; nothing
		// was solicited, so the address is unconfirmed.
		if !c.hasMAC {
			return
		}
		e.mac, e.router = c.mac, c.router
		t.setStateLocked(e, Stale, w)
	case Incomplete, Failed:
		if !c.hasMAC {
			// "If the link layer has addresses and no Target Link-Layer
			// Address option is included, the receiving node SHOULD
			// silently discard the received advertisement."
			e.fib.ctr.inc(NARxNoLinkAddr)
			return
		}
		e.mac, e.router = c.mac, c.router
		if c.solicited {
			t.setStateLocked(e, Reachable, w)
		} else {
			t.setStateLocked(e, Stale, w)
		}
	case Reachable, Stale, Delay, Probe:
		differs := c.hasMAC && c.mac != e.mac
		if !c.override && differs {
			// "If the Override flag is clear and the supplied link-layer
			// address differs …: if the state of the entry is REACHABLE,
			// set it to STALE, but do not update the entry in any other
			// way." Otherwise ignore — the router flag included.
			if e.state == Reachable {
				t.setStateLocked(e, Stale, w)
			}
			return
		}
		e.router = c.router
		if differs {
			e.mac = c.mac
		}
		switch {
		case c.solicited:
			t.setStateLocked(e, Reachable, w)
		case differs:
			t.setStateLocked(e, Stale, w)
		}
	case Permanent:
	}
}

// handleUpperLayerConfirmationLocked is forward-progress from an upper
// layer (RFC 4861 §7.3.1): as good as a solicited advertisement, for an
// entry that already has a MAC.
func (t *Table) handleUpperLayerConfirmationLocked(e *entry, w *work) {
	switch e.state {
	case Reachable, Stale, Delay, Probe:
		t.setStateLocked(e, Reachable, w)
	case None, Incomplete, Failed, Permanent:
	}
}

// handleTimerLocked is the expiry of e's one timer: retransmission in
// INCOMPLETE and PROBE, the end of REACHABLE and DELAY, and the garbage
// collection of FAILED.
func (t *Table) handleTimerLocked(e *entry, w *work) {
	cfg := &e.fib.cfg
	switch e.state {
	case Incomplete:
		if e.probes < cfg.MaxMulticastSolicit {
			t.solicitLocked(e, false, w)
			t.armLocked(e, cfg.RetransTimer)
			return
		}
		// MAX_MULTICAST_SOLICIT sent and RetransTimer passed since the
		// last: resolution failed.
		t.setStateLocked(e, Failed, w)
	case Probe:
		if e.probes < cfg.MaxUnicastSolicit {
			t.solicitLocked(e, true, w)
			t.armLocked(e, cfg.RetransTimer)
			return
		}
		t.setStateLocked(e, Failed, w)
	case Reachable:
		// "When ReachableTime milliseconds have passed since receipt of the
		// last reachability confirmation …, the entry's state changes from
		// REACHABLE to STALE."
		t.setStateLocked(e, Stale, w)
	case Delay:
		// "If the entry is still in the DELAY state when the timer expires,
		// the entry's state changes to PROBE."
		t.setStateLocked(e, Probe, w)
	case Failed:
		// Failed long enough: forget it, so the adjacency goes back to
		// Incomplete and the next packet resolves afresh.
		t.removeLocked(e)
	case Stale:
		// Unused since its last confirmation for GCStaleTime: collect it,
		// unless a route depends on it (then its next packet checks it).
		if t.referencedLocked(e) {
			t.armLocked(e, cfg.GCStaleTime)
			return
		}
		e.fib.ctr.inc(StaleCollected)
		t.removeLocked(e)
	case None, Permanent:
		e.fib.ctr.inc(UnexpectedTimer)
	}
}
