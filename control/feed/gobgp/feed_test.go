package gobgp

import (
	"strings"
	"testing"

	"github.com/osrg/gobgp/v4/api"
)

// TestResyncClosesOnEveryEOR: the resync waits for every configured peer
// to be established and to send End-of-RIB for each of its families,
// whatever the order; a timeout closes it naming who is missing.
func TestResyncClosesOnEveryEOR(t *testing.T) {
	var why []string
	rs := &resync{want: map[peerKey]bool{{"192.0.2.10", ipv4}: false, {"192.0.2.10", ipv6}: false, {"192.0.2.20", ipv4}: false},
		up: map[string]bool{"192.0.2.10": true, "192.0.2.20": false}, end: func(r string) { why = append(why, r) }}
	f := New(nil, Config{FIB: 10})
	eor := func(peer string, fam familyKey) *api.Path {
		return &api.Path{Family: &api.Family{Afi: fam.afi, Safi: fam.safi}, NeighborIp: peer}
	}
	f.path(nil, rs, eor("192.0.2.10", ipv4))
	f.path(nil, rs, eor("192.0.2.20", ipv4)) // EOR before the peer event says up
	f.path(nil, rs, eor("192.0.2.99", ipv4)) // not a configured peer
	if len(why) != 0 {
		t.Fatalf("closed early: %v", why)
	}
	f.path(nil, rs, eor("192.0.2.10", ipv6))
	if len(why) != 0 {
		t.Fatalf("closed with 192.0.2.20 down: %v", why)
	}
	f.peerEvent(rs, &api.WatchEventResponse_PeerEvent{Peer: &api.Peer{Conf: &api.PeerConf{NeighborAddress: "192.0.2.20"},
		State: &api.PeerState{SessionState: api.PeerState_SESSION_STATE_ESTABLISHED}}})
	if len(why) != 1 || !strings.Contains(why[0], "End-of-RIB") {
		t.Fatalf("did not close when complete: %v", why)
	}
	rs.timeout()
	if len(why) != 1 {
		t.Fatalf("closed twice: %v", why)
	}
	if f.Stats().EORs != 4 {
		t.Errorf("eors %d", f.Stats().EORs)
	}

	rs2 := &resync{want: map[peerKey]bool{{"192.0.2.30", ipv4}: false}, up: map[string]bool{"192.0.2.30": false},
		end: func(r string) { why = append(why, r) }}
	rs2.timeout()
	if len(why) != 2 || !strings.Contains(why[1], "192.0.2.30") {
		t.Fatalf("timeout: %v", why)
	}
}

func TestPathConversion(t *testing.T) {
	p := &api.Path{Nlri: &api.NLRI{Nlri: &api.NLRI_Prefix{Prefix: &api.IPAddressPrefix{Prefix: "198.51.100.7", PrefixLen: 24}}},
		Pattrs: []*api.Attribute{{Attr: &api.Attribute_NextHop{NextHop: &api.NextHopAttribute{NextHop: "192.0.2.10"}}}}}
	if pfx, ok := prefixOf(p); !ok || pfx.String() != "198.51.100.0/24" {
		t.Fatalf("prefix %v %v", pfx, ok)
	}
	if nh := nextHop(p); nh.String() != "192.0.2.10" {
		t.Fatalf("next hop %v", nh)
	}
	v6 := &api.Path{Pattrs: []*api.Attribute{{Attr: &api.Attribute_MpReach{MpReach: &api.MpReachNLRIAttribute{
		NextHops: []string{"2001:db8::1", "fe80::1"}}}}}}
	if nh := nextHop(v6); nh.String() != "2001:db8::1" {
		t.Fatalf("v6 next hop %v", nh)
	}
	bad := &api.Path{Nlri: &api.NLRI{Nlri: &api.NLRI_Prefix{Prefix: &api.IPAddressPrefix{Prefix: "192.0.2.1", PrefixLen: 33}}}}
	if _, ok := prefixOf(bad); ok {
		t.Fatal("a /33 accepted")
	}
}
