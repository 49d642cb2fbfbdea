package dataplane

import "github.com/fibd/fibd/dataplane/pktio"

// The packet-I/O contract lives in the leaf package pktio, which the
// backends import; these names keep the engine's API in one place.

// BatchSize is pktio.BatchSize: the frames a worker moves per call.
const BatchSize = pktio.BatchSize

// MaxFrame is pktio.MaxFrame: the size of every receive buffer.
const MaxFrame = pktio.MaxFrame

// MaxJumboFrame is pktio.MaxJumboFrame: the largest frame of any
// interface.
const MaxJumboFrame = pktio.MaxJumboFrame

type (
	// RxMeta is pktio.RxMeta.
	RxMeta = pktio.RxMeta
	// PacketIO is pktio.PacketIO.
	PacketIO = pktio.PacketIO
	// ChecksumReporter is pktio.ChecksumReporter.
	ChecksumReporter = pktio.ChecksumReporter
	// CounterReporter is pktio.CounterReporter.
	CounterReporter = pktio.CounterReporter
)

// ErrClosed is pktio.ErrClosed.
var ErrClosed = pktio.ErrClosed
