package tables

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func sample(t *testing.T) []Route {
	t.Helper()
	v4, err := LoadV4()
	if err != nil {
		t.Fatal(err)
	}
	v6, err := LoadV6()
	if err != nil {
		t.Fatal(err)
	}
	return append(v4[:6000:6000], v6[:2000]...)
}

// TestMRTRoundTrip: WriteMRT's dump reads back, through gobgp's parser,
// as the same prefixes with each next-hop index's peer, next hop and AS.
func TestMRTRoundTrip(t *testing.T) {
	routes := sample(t)
	var buf bytes.Buffer
	if err := WriteMRT(&buf, routes); err != nil {
		t.Fatal(err)
	}
	if !IsMRT(buf.Bytes()) {
		t.Fatal("IsMRT does not recognise WriteMRT's output")
	}
	var got []MRTRoute
	if err := ParseMRT(bytes.NewReader(buf.Bytes()), func(r MRTRoute) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(routes) {
		t.Fatalf("%d routes back, wrote %d", len(got), len(routes))
	}
	for i, r := range routes {
		id, v6, as := mrtPeer(r.NextHop)
		want := MRTRoute{Prefix: r.Prefix, NextHop: id, PeerAS: as, OriginAS: as, Entries: 1}
		if r.Prefix.Addr().Is6() {
			want.NextHop = v6
		}
		if got[i] != want {
			t.Fatalf("route %d: %+v, want %+v", i, got[i], want)
		}
	}
}

// TestMRTReproducible: the same routes give the same bytes (pinned, so a
// change of gobgp's encoder or of the layout shows).
func TestMRTReproducible(t *testing.T) {
	routes := sample(t)
	var a, b bytes.Buffer
	if err := WriteMRT(&a, routes); err != nil {
		t.Fatal(err)
	}
	if err := WriteMRT(&b, routes); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two writes differ")
	}
	sum := sha256.Sum256(a.Bytes())
	t.Logf("sha256 %s, %d bytes", hex.EncodeToString(sum[:]), a.Len())
}

func TestParseMRTRejectsTruncated(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMRT(&buf, sample(t)[:10]); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	err := ParseMRT(bytes.NewReader(b[:len(b)-3]), func(MRTRoute) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Fatalf("truncated dump: %v", err)
	}
}

func FuzzParseMRT(f *testing.F) {
	var buf bytes.Buffer
	rs := []Route{{netip.MustParsePrefix("198.18.0.0/24"), 3}, {netip.MustParsePrefix("2001:db8::/32"), 5}}
	if err := WriteMRT(&buf, rs); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = ParseMRT(bytes.NewReader(b), func(r MRTRoute) error {
			if !r.Prefix.IsValid() || r.Prefix.Masked() != r.Prefix {
				t.Fatalf("prefix %v", r.Prefix)
			}
			return nil
		})
	})
}

const ipRouteSample = `default via 192.0.2.254 dev eth0 proto static metric 20
192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.1
198.51.100.0/24 nhid 12 proto bgp metric 20
	nexthop via 192.0.2.2 dev eth0 weight 1
	nexthop via 192.0.2.3 dev eth0 weight 3
blackhole 203.0.113.0/25 proto static
unreachable 203.0.113.128/25
203.0.113.7 via 192.0.2.2 dev eth0
local 192.0.2.1 dev eth0 table local proto kernel scope host src 192.0.2.1
2001:db8:ff::/48 via 2001:db8:1::10 dev eth0 proto static metric 20 pref medium
default via fe80::1 dev eth0 proto ra metric 1024 expires 1799sec hoplimit 64 pref medium
198.18.0.0/24 via inet6 2001:db8:1::2 dev eth0
`

func TestParseIPRoute(t *testing.T) {
	if !IsIPRoute("default via 192.0.2.254 dev eth0") || !IsIPRoute("192.0.2.0/24 dev eth0") || IsIPRoute("192.0.2.0/24 7") {
		t.Fatal("IsIPRoute")
	}
	var got []string
	err := ParseIPRoute(strings.NewReader(ipRouteSample), func(r IPRoute) error {
		s := r.Type + " " + r.Prefix.String() + " proto=" + r.Proto + " table=" + r.Table
		for _, h := range r.Hops {
			s += " [" + h.Gateway.String() + " " + h.Dev + " " + string(rune('0'+h.Weight)) + "]"
		}
		got = append(got, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"unicast 0.0.0.0/0 proto=static table= [192.0.2.254 eth0 1]",
		"unicast 192.0.2.0/24 proto=kernel table= [invalid IP eth0 1]",
		"unicast 198.51.100.0/24 proto=bgp table= [192.0.2.2 eth0 1] [192.0.2.3 eth0 3]",
		"blackhole 203.0.113.0/25 proto=static table=",
		"unreachable 203.0.113.128/25 proto= table=",
		"unicast 203.0.113.7/32 proto= table= [192.0.2.2 eth0 1]",
		"local 192.0.2.1/32 proto=kernel table=local [invalid IP eth0 1]",
		"unicast 2001:db8:ff::/48 proto=static table= [2001:db8:1::10 eth0 1]",
		"unicast ::/0 proto=ra table= [fe80::1 eth0 1]",
		"unicast 198.18.0.0/24 proto= table= [2001:db8:1::2 eth0 1]",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []string{"198.51.100.1/24 dev eth0", "nexthop via 192.0.2.2", "10.0.0.0/8 via nonsense", "x/y dev eth0"} {
		if err := ParseIPRoute(strings.NewReader(bad), func(IPRoute) error { return nil }); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseIPRoute(f *testing.F) {
	f.Add(ipRouteSample)
	f.Fuzz(func(t *testing.T, s string) {
		_ = ParseIPRoute(strings.NewReader(s), func(r IPRoute) error {
			if !r.Prefix.IsValid() || r.Prefix.Masked() != r.Prefix {
				t.Fatalf("prefix %v", r.Prefix)
			}
			return nil
		})
	})
}
