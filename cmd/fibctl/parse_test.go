package main

import (
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/fibd/fibd/control/fibdpb"
)

func TestParseRoute(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // prototext of the route, "" for an error
	}{
		{[]string{"198.51.100.0/24", "via", "192.0.2.2"}, `prefix:"198.51.100.0/24" paths:{kind:PATH_KIND_GATEWAY gateway:"192.0.2.2"}`},
		{[]string{"198.51.100.0/24", "via", "192.0.2.2", "dev", "eth1.100", "weight", "3", "via", "192.0.2.3"},
			`prefix:"198.51.100.0/24" paths:{kind:PATH_KIND_GATEWAY gateway:"192.0.2.2" port:"eth1.100" weight:3} paths:{kind:PATH_KIND_GATEWAY gateway:"192.0.2.3"}`},
		{[]string{"198.51.100.0/24", "nexthop", "via", "192.0.2.2", "nexthop", "via", "192.0.2.3"},
			`prefix:"198.51.100.0/24" paths:{kind:PATH_KIND_GATEWAY gateway:"192.0.2.2"} paths:{kind:PATH_KIND_GATEWAY gateway:"192.0.2.3"}`},
		{[]string{"192.0.2.0/24", "dev", "eth1"}, `prefix:"192.0.2.0/24" paths:{kind:PATH_KIND_ATTACHED port:"eth1"}`},
		{[]string{"blackhole", "198.18.0.0/15"}, `prefix:"198.18.0.0/15" paths:{kind:PATH_KIND_BLACKHOLE}`},
		{[]string{"198.18.0.0/15", "unreachable"}, `prefix:"198.18.0.0/15" paths:{kind:PATH_KIND_UNREACHABLE}`},
		{[]string{"0.0.0.0/0", "lookup", "20"}, `prefix:"0.0.0.0/0" paths:{kind:PATH_KIND_LOOKUP fib_id:20}`},
		{[]string{"198.51.100.0/24"}, ""},
		{[]string{"via", "192.0.2.2"}, ""},
		{[]string{"198.51.100.0/24", "via"}, ""},
		{[]string{"198.51.100.0/24", "weight", "2"}, ""},
		{[]string{"198.51.100.0/24", "via", "192.0.2.2", "weight", "x"}, ""},
		{[]string{"blackhole", "prohibit", "198.51.100.0/24"}, ""},
		{[]string{"default", "via", "192.0.2.2"}, `prefix:"0.0.0.0/0" paths:{kind:PATH_KIND_GATEWAY gateway:"192.0.2.2"}`},
		{[]string{"default", "via", "2001:db8::1"}, `prefix:"::/0" paths:{kind:PATH_KIND_GATEWAY gateway:"2001:db8::1"}`},
		{[]string{"192.0.2.7", "via", "192.0.2.2"}, `prefix:"192.0.2.7/32" paths:{kind:PATH_KIND_GATEWAY gateway:"192.0.2.2"}`},
		{[]string{"blackhole", "2001:db8::7"}, `prefix:"2001:db8::7/128" paths:{kind:PATH_KIND_BLACKHOLE}`},
		{[]string{"default", "default", "via", "192.0.2.2"}, ""},
		{[]string{"198.51.100.0/24", "via", "192.0.2.2", "metric", "0"}, ""},
		{[]string{"198.51.100.0/24", "via", "192.0.2.2", "metric", "256"}, ""},
		{[]string{"198.51.100.0/24", "via", "192.0.2.2", "bogus"}, ""},
		{[]string{"198.51.100.0/24", "lookup", "x"}, ""},
	} {
		spec, err := parseRoute(tc.args)
		r := spec.route
		if tc.want == "" {
			if err == nil {
				t.Errorf("parseRoute(%q) = %v, want an error", tc.args, r)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseRoute(%q): %v", tc.args, err)
			continue
		}
		var want = r.ProtoReflect().New().Interface()
		if err := prototext.Unmarshal([]byte(tc.want), want); err != nil {
			t.Fatal(err)
		}
		if got, w := prototext.Format(r), prototext.Format(want); got != w {
			t.Errorf("parseRoute(%q) = %s, want %s", tc.args, got, w)
		}
	}
}

// TestParseRouteTableAndMetric: iproute2's "table N" is the FIB the route
// goes in, "metric N" its preference; "lookup N" is a leak.
func TestParseRouteTableAndMetric(t *testing.T) {
	spec, err := parseRoute([]string{"198.51.100.0/24", "via", "192.0.2.2", "metric", "7", "table", "customer-a"})
	if err != nil || spec.table != "customer-a" || spec.metric != 7 || len(spec.route.GetPaths()) != 1 ||
		spec.route.GetPaths()[0].GetKind() != fibdpb.PathKind_PATH_KIND_GATEWAY {
		t.Fatalf("table/metric: %+v %v", spec, err)
	}
	spec, err = parseRoute([]string{"0.0.0.0/0", "lookup", "20", "table", "10"})
	if err != nil || spec.table != "10" || spec.route.GetPaths()[0].GetFibId() != 20 {
		t.Fatalf("lookup and table: %+v %v", spec, err)
	}
	// A delete may name the route's type or gateways; only the prefix counts.
	spec, err = parseRouteArgs([]string{"blackhole", "198.18.0.0/15", "table", "10"}, true)
	if err != nil || spec.route.GetPrefix() != "198.18.0.0/15" || spec.table != "10" {
		t.Fatalf("del blackhole: %+v %v", spec, err)
	}
	if _, err := parseRouteArgs([]string{"198.18.0.0/15"}, true); err != nil {
		t.Fatalf("del with the prefix alone: %v", err)
	}
}
