package main

import (
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
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
		{[]string{"default", "via", "192.0.2.2"}, ""},
		{[]string{"198.51.100.0/24", "via", "192.0.2.2", "bogus"}, ""},
		{[]string{"198.51.100.0/24", "lookup", "x"}, ""},
	} {
		r, err := parseRoute(tc.args)
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
