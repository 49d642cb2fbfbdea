package fwdbench

import (
	"fmt"
	"log/slog"

	"github.com/fibd/fibd/dataplane/backend"
)

// ForIO returns the Options `fibbench forward --io=io` runs: fibd's own
// dataplane on that packet I/O with a few routes and with the full table,
// against the bare loop on the same I/O. On XDP it also measures fibd on
// AF_PACKET for ratio_vs_afpacket. The caller sets Duration, Sink and Log.
func ForIO(io string, log *slog.Logger) (Options, error) {
	// The XDP sink counts and drops before the sink's IP stack, so the
	// forwarder's CPU per packet is its own work, not the sink's input path.
	o := Options{IO: io, DataplaneName: "fibd-" + io, Sink: SinkXDP}
	switch io {
	case backend.AFPacket:
		o.Dataplane = FIBD(backend.AFPacket, false, log)
		o.FullTable = FIBD(backend.AFPacket, true, log)
	case backend.XDP:
		o.Dataplane = FIBD(backend.XDP, false, log)
		o.FullTable = FIBD(backend.XDP, true, log)
		o.Bare = BareXDP
		o.AFPacket, o.AFPacketName = FIBD(backend.AFPacket, false, log), "fibd-afpacket"
	default:
		return Options{}, fmt.Errorf("%w: %q", ErrUnknownIO, io)
	}
	return o, nil
}
