package neigh

// pending holds copies of the packets waiting for one neighbour. The queue
// owns the bytes: the dataplane's RX buffers and UMEM frames go back to the
// ring as soon as Resolve returns.
type pending struct {
	pkts  [][]byte
	bytes int
}

// enqueueLocked copies pkt onto e's queue within the per-entry, per-FIB and
// byte bounds. A full entry drops its oldest packet (the newest is the one a
// retransmitting sender cares about); a full FIB drops the new packet, so
// one busy neighbour cannot push out everyone else's.
func (t *Table) enqueueLocked(e *entry, pkt []byte) {
	f := e.fib
	if len(e.queue.pkts) >= f.cfg.QueuePerEntry {
		old := e.queue.pkts[0]
		e.queue.pkts[0] = nil
		e.queue.pkts = e.queue.pkts[1:]
		e.queue.bytes -= len(old)
		f.queuedPkts--
		f.queuedBytes -= len(old)
		f.ctr.inc(QueueDropEntryFull)
	}
	if f.queuedPkts >= f.cfg.QueuePerFIB {
		f.ctr.inc(QueueDropFIBFull)
		return
	}
	if f.queuedBytes+len(pkt) > f.cfg.QueueBytesPerFIB {
		f.ctr.inc(QueueDropFIBBytes)
		return
	}
	e.queue.pkts = append(e.queue.pkts, append([]byte(nil), pkt...))
	e.queue.bytes += len(pkt)
	f.queuedPkts++
	f.queuedBytes += len(pkt)
}

// takeQueueLocked empties e's queue and returns its packets (nil if none)
// for a hand-back after the lock is released.
func (t *Table) takeQueueLocked(e *entry) [][]byte {
	pkts := e.queue.pkts
	if len(pkts) == 0 {
		return nil
	}
	e.fib.queuedPkts -= len(pkts)
	e.fib.queuedBytes -= e.queue.bytes
	e.queue = pending{}
	return pkts
}
