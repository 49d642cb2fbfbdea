package control

import (
	"testing"

	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/neigh"
)

// TestEnumsCoverTheDomain: every state the domain can report has its
// proto enum value — none goes out as UNSPECIFIED.
func TestEnumsCoverTheDomain(t *testing.T) {
	for k := fib.NextMiss; k <= fib.NextUnresolved; k++ {
		if resolutionToPB(k.String()) == fibdpb.Resolution_RESOLUTION_UNSPECIFIED {
			t.Errorf("route resolution %q has no enum value", k)
		}
	}
	for _, r := range []string{"miss", "loop"} { // Lookup's own results
		if resolutionToPB(r) == fibdpb.Resolution_RESOLUTION_UNSPECIFIED {
			t.Errorf("lookup result %q has no enum value", r)
		}
	}
	for s := neigh.Incomplete; s < neigh.NumStates; s++ {
		if neighborStateToPB(s.String()) == fibdpb.NeighborState_NEIGHBOR_STATE_UNSPECIFIED {
			t.Errorf("neighbour state %q has no enum value", s)
		}
	}
	for _, s := range []string{"up", "down"} {
		if portStateToPB(s) == fibdpb.PortState_PORT_STATE_UNSPECIFIED {
			t.Errorf("port state %q has no enum value", s)
		}
	}
}
