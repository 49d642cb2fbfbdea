package main

import (
	"fmt"
	"log/slog"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/fib"
)

// dataplaneKinds lists what --dataplane accepts. The packet-moving
// backends (afpacket, xdp, auto) are added here, in newDataplane, and
// nowhere else.
const dataplaneKinds = "none (record ports, move no packets: a route server)"

// newDataplane builds the dataplane and the neighbour table --dataplane
// asks for.
func newDataplane(kind string, reg *fib.Registry, log *slog.Logger) (control.Dataplane, control.Neighbors, error) {
	switch kind {
	case "none":
		return newNoneDataplane(), newStaticNeighbors(reg), nil
	}
	return nil, nil, fmt.Errorf("--dataplane %q: want %s", kind, dataplaneKinds)
}
