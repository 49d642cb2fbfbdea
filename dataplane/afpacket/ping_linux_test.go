package afpacket

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/internal/testenv"
)

// TestPingLatency: at a trickle rate every frame waits for the ring's
// block retire timer (TPACKET_V3 hands over blocks, not frames), so an
// echo through the router pays it once per direction. The bound is loose
// for shared CI machines; the logged RTTs are the numbers to look at.
func TestPingLatency(t *testing.T) {
	netnstest.Require(t)
	testenv.RequireTool(t, "ping")
	rt := newRouted(t)
	rt.runRouter(t)
	out, err := rt.src.Try("ping", "-c", "20", "-i", "0.05", "-W", "2", "198.51.100.1")
	if err != nil {
		t.Fatalf("ping through the router: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`= ([0-9.]+)/([0-9.]+)/([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no rtt summary in\n%s", out)
	}
	minRTT, _ := strconv.ParseFloat(m[1], 64)
	avg, _ := strconv.ParseFloat(m[2], 64)
	t.Logf("rtt min %.2f ms avg %.2f ms (retire timeout %v per direction)", minRTT, avg, DefaultRetireTimeout)
	// The minimum shows the mechanism (a quiet machine gives ~1 ms per
	// hop); the average on a loaded one is mostly scheduling delay.
	if minRTT > 10 {
		t.Errorf("minimum RTT %.1f ms: the retire timer is not bounding latency", minRTT)
	}
}
