package control_test

import (
	"io"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/fibdpb"
)

func u32(v uint32) *uint32 { return &v }

// drain runs a server-streaming call to its end and returns its error.
func drain[T any](stream interface{ Recv() (T, error) }, err error) error {
	if err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// TestEveryRPCErrorPathChangesNothing sends each RPC requests it must
// refuse, checks the status code (and, for a bad field, that the message
// names field and value), and that the refusal changed nothing at all.
func TestEveryRPCErrorPathChangesNothing(t *testing.T) {
	e := newEnv(t, control.Limits{})
	port := e.fibWithPort(10, "eth1", 100, "192.0.2.1/24")
	e.fibWithPort(20, "eth2", 0, "198.51.100.1/24")
	e.addRoute(10, "203.0.113.0/24", "static", via("192.0.2.2"))
	_, err := e.c.CreateFib(e.ctx, &fibdpb.CreateFibRequest{FibId: 30, Limits: &fibdpb.Limits{RoutesV4: 3, Neighbors: 1}})
	e.must(err)
	_, err = e.c.BindPort(e.ctx, &fibdpb.BindPortRequest{Interface: "eth3", FibId: 30})
	e.must(err)
	_, err = e.c.AddAddress(e.ctx, &fibdpb.AddAddressRequest{Port: "eth3", Prefix: "192.0.2.1/24"}) // 2 routes of 3
	e.must(err)
	_, err = e.c.AddNeighbor(e.ctx, &fibdpb.AddNeighborRequest{Port: "eth3", Address: "192.0.2.9", Mac: "02:00:00:00:00:09"})
	e.must(err)
	e.addRoute(30, "198.51.100.0/24", "static", via("192.0.2.2")) // FIB 30 is now full

	route := func(fib uint32, prefix, source string, paths ...*fibdpb.Path) *fibdpb.AddRouteRequest {
		return &fibdpb.AddRouteRequest{Route: &fibdpb.Route{FibId: fib, Prefix: prefix, Source: source, Paths: paths}}
	}
	kind := func(k fibdpb.PathKind) *fibdpb.Path { return &fibdpb.Path{Kind: k} }
	ctx := e.ctx
	c := e.c
	cases := []struct {
		name  string
		call  func() error
		code  codes.Code
		field string // the field the message must name, with its value
	}{
		{"CreateFib existing", func() error { _, err := c.CreateFib(ctx, &fibdpb.CreateFibRequest{FibId: 10}); return err }, codes.AlreadyExists, ""},
		{"DeleteFib unknown", func() error { _, err := c.DeleteFib(ctx, &fibdpb.DeleteFibRequest{FibId: 99}); return err }, codes.NotFound, ""},
		{"DeleteFib default", func() error { _, err := c.DeleteFib(ctx, &fibdpb.DeleteFibRequest{FibId: 0}); return err }, codes.FailedPrecondition, ""},
		{"DeleteFib in use", func() error { _, err := c.DeleteFib(ctx, &fibdpb.DeleteFibRequest{FibId: 10}); return err }, codes.FailedPrecondition, ""},
		{"ListFibs unknown", func() error { return drain(c.ListFibs(ctx, &fibdpb.ListFibsRequest{FibId: u32(99)})) }, codes.NotFound, ""},
		{"BindPort VLAN 0", func() error {
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "eth2", Vlan: u32(0), FibId: 10})
			return err
		}, codes.InvalidArgument, `vlan "0"`},
		{"BindPort VLAN 4095", func() error {
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "eth2", Vlan: u32(4095), FibId: 10})
			return err
		}, codes.InvalidArgument, `vlan "4095"`},
		{"BindPort inner VLAN alone", func() error {
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "eth2", InnerVlan: u32(5), FibId: 10})
			return err
		}, codes.InvalidArgument, `inner_vlan "5"`},
		{"BindPort inner VLAN 4095", func() error {
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "eth2", Vlan: u32(5), InnerVlan: u32(4095), FibId: 10})
			return err
		}, codes.InvalidArgument, `inner_vlan "4095"`},
		{"BindPort bad TPID", func() error {
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "eth2", Vlan: u32(5), OuterTpid: u32(0x9100), FibId: 10})
			return err
		}, codes.InvalidArgument, `outer_tpid "0x9100"`},
		{"BindPort TPID untagged", func() error {
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "eth2", OuterTpid: u32(0x8100), FibId: 10})
			return err
		}, codes.InvalidArgument, `outer_tpid`},
		{"BindPort name taken", func() error {
			// eth1.100 is (eth1, VLAN 100): an interface of that name
			// would have the same port name.
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "eth1.100", FibId: 20})
			return err
		}, codes.AlreadyExists, `taken`},
		{"BindPort TPID change", func() error {
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "eth1", Vlan: u32(100), OuterTpid: u32(0x88a8), FibId: 20})
			return err
		}, codes.InvalidArgument, `outer_tpid`},
		{"BindPort bad name", func() error {
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "a/b", FibId: 10})
			return err
		}, codes.InvalidArgument, `interface "a/b"`},
		{"BindPort unknown FIB", func() error {
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "eth2", Vlan: u32(5), FibId: 99})
			return err
		}, codes.NotFound, ""},
		{"BindPort again", func() error {
			_, err := c.BindPort(ctx, &fibdpb.BindPortRequest{Interface: "eth1", Vlan: u32(100), FibId: 10})
			return err
		}, codes.AlreadyExists, ""},
		{"UnbindPort unknown", func() error { _, err := c.UnbindPort(ctx, &fibdpb.UnbindPortRequest{Port: "eth1.7"}); return err }, codes.NotFound, ""},
		{"ListPorts unknown", func() error { return drain(c.ListPorts(ctx, &fibdpb.ListPortsRequest{Port: "eth7"})) }, codes.NotFound, ""},
		{"AddAddress bad prefix", func() error {
			_, err := c.AddAddress(ctx, &fibdpb.AddAddressRequest{Port: port, Prefix: "192.0.2.300/24"})
			return err
		}, codes.InvalidArgument, `prefix "192.0.2.300/24"`},
		{"AddAddress network address", func() error {
			_, err := c.AddAddress(ctx, &fibdpb.AddAddressRequest{Port: port, Prefix: "203.0.113.0/24"})
			return err
		}, codes.InvalidArgument, ""},
		{"AddAddress unknown port", func() error {
			_, err := c.AddAddress(ctx, &fibdpb.AddAddressRequest{Port: "eth1.5", Prefix: "192.0.2.7/24"})
			return err
		}, codes.NotFound, ""},
		{"AddAddress duplicate", func() error {
			_, err := c.AddAddress(ctx, &fibdpb.AddAddressRequest{Port: port, Prefix: "192.0.2.1/24"})
			return err
		}, codes.AlreadyExists, ""},
		{"DeleteAddress missing", func() error {
			_, err := c.DeleteAddress(ctx, &fibdpb.DeleteAddressRequest{Port: port, Prefix: "192.0.2.5/24"})
			return err
		}, codes.NotFound, ""},
		{"AddRoute bad prefix", func() error {
			_, err := c.AddRoute(ctx, route(10, "300.0.0.0/8", "static", via("192.0.2.2")))
			return err
		},
			codes.InvalidArgument, `route.prefix "300.0.0.0/8"`},
		{"AddRoute host bits", func() error {
			_, err := c.AddRoute(ctx, route(10, "198.51.100.1/24", "static", via("192.0.2.2")))
			return err
		}, codes.InvalidArgument, `route.prefix "198.51.100.1/24"`},
		{"AddRoute family mismatch", func() error {
			_, err := c.AddRoute(ctx, route(10, "2001:db8:1::/48", "static", via("192.0.2.2")))
			return err
		}, codes.InvalidArgument, `route.paths[0].gateway "192.0.2.2"`},
		{"AddRoute unknown path kind", func() error {
			_, err := c.AddRoute(ctx, route(10, "198.51.100.0/24", "static", kind(fibdpb.PathKind_PATH_KIND_UNSPECIFIED)))
			return err
		}, codes.InvalidArgument, `route.paths[0].kind "PATH_KIND_UNSPECIFIED"`},
		{"AddRoute path kind out of range", func() error {
			_, err := c.AddRoute(ctx, route(10, "198.51.100.0/24", "static", kind(42)))
			return err
		}, codes.InvalidArgument, `route.paths[0].kind "42"`},
		{"AddRoute no paths", func() error { _, err := c.AddRoute(ctx, route(10, "198.51.100.0/24", "static")); return err }, codes.InvalidArgument, "route.paths"},
		{"AddRoute unknown FIB", func() error {
			_, err := c.AddRoute(ctx, route(99, "198.51.100.0/24", "static", via("192.0.2.2")))
			return err
		}, codes.NotFound, ""},
		{"AddRoute unknown port", func() error {
			_, err := c.AddRoute(ctx, route(10, "198.51.100.0/24", "static", &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_ATTACHED, Port: "eth9"}))
			return err
		}, codes.NotFound, ""},
		{"AddRoute port of another FIB", func() error {
			_, err := c.AddRoute(ctx, route(10, "198.51.100.0/24", "static", &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_ATTACHED, Port: "eth2"}))
			return err
		}, codes.FailedPrecondition, ""},
		{"AddRoute gateway inside itself", func() error {
			_, err := c.AddRoute(ctx, route(10, "198.51.100.0/24", "static", via("198.51.100.7")))
			return err
		}, codes.InvalidArgument, ""},
		{"AddRoute no such group", func() error {
			_, err := c.AddRoute(ctx, route(10, "198.51.100.0/24", "static", &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_GROUP, GroupId: 99}))
			return err
		}, codes.NotFound, ""},
		{"SetNextHopGroup no paths", func() error {
			_, err := c.SetNextHopGroup(ctx, &fibdpb.SetNextHopGroupRequest{Group: &fibdpb.NextHopGroup{FibId: 10, Id: 1, Source: "static"}})
			return err
		}, codes.InvalidArgument, "group.paths"},
		{"DeleteNextHopGroup missing", func() error {
			_, err := c.DeleteNextHopGroup(ctx, &fibdpb.DeleteNextHopGroupRequest{FibId: 10, Id: 1, Source: "static"})
			return err
		}, codes.NotFound, ""},
		{"AddRoute reserved source", func() error {
			_, err := c.AddRoute(ctx, route(10, "198.51.100.0/24", "connected", via("192.0.2.2")))
			return err
		}, codes.InvalidArgument, `route.source "connected"`},
		{"AddRoute empty source", func() error {
			_, err := c.AddRoute(ctx, route(10, "198.51.100.0/24", "", via("192.0.2.2")))
			return err
		}, codes.InvalidArgument, "route.source"},
		{"AddRoute preference 300", func() error {
			r := route(10, "198.51.100.0/24", "static", via("192.0.2.2"))
			r.Route.Preference = 300
			_, err := c.AddRoute(ctx, r)
			return err
		}, codes.InvalidArgument, `route.preference "300"`},
		{"AddRoute lookup own FIB", func() error {
			_, err := c.AddRoute(ctx, route(10, "0.0.0.0/0", "static", &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_LOOKUP, FibId: 10}))
			return err
		}, codes.InvalidArgument, ""},
		{"AddRoute lookup unknown FIB", func() error {
			_, err := c.AddRoute(ctx, route(10, "0.0.0.0/0", "static", &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_LOOKUP, FibId: 77}))
			return err
		}, codes.NotFound, ""},
		{"AddRoute over the FIB's limit", func() error {
			_, err := c.AddRoute(ctx, route(30, "198.51.101.0/24", "static", via("192.0.2.2")))
			return err
		}, codes.ResourceExhausted, ""},
		{"ReplaceRoute missing", func() error {
			_, err := c.ReplaceRoute(ctx, &fibdpb.ReplaceRouteRequest{Route: route(10, "198.51.100.0/24", "static", via("192.0.2.2")).Route})
			return err
		}, codes.NotFound, ""},
		{"ReplaceRoute other source's", func() error {
			_, err := c.ReplaceRoute(ctx, &fibdpb.ReplaceRouteRequest{Route: route(10, "203.0.113.0/24", "bgp", via("192.0.2.2")).Route})
			return err
		}, codes.NotFound, ""},
		{"DeleteRoute missing", func() error {
			_, err := c.DeleteRoute(ctx, &fibdpb.DeleteRouteRequest{FibId: 10, Prefix: "198.51.100.0/24", Source: "static"})
			return err
		}, codes.NotFound, ""},
		{"DeleteRoute bad prefix", func() error {
			_, err := c.DeleteRoute(ctx, &fibdpb.DeleteRouteRequest{FibId: 10, Prefix: "nope", Source: "static"})
			return err
		}, codes.InvalidArgument, `prefix "nope"`},
		{"ListRoutes unknown FIB", func() error { return drain(c.ListRoutes(ctx, &fibdpb.ListRoutesRequest{FibId: u32(99)})) }, codes.NotFound, ""},
		{"ListRoutes bad prefix", func() error { return drain(c.ListRoutes(ctx, &fibdpb.ListRoutesRequest{Prefix: "10.0.0.1/8"})) }, codes.InvalidArgument, `prefix "10.0.0.1/8"`},
		{"LookupRoute bad address", func() error {
			_, err := c.LookupRoute(ctx, &fibdpb.LookupRouteRequest{FibId: 10, Address: "192.0.2"})
			return err
		}, codes.InvalidArgument, `address "192.0.2"`},
		{"LookupRoute unknown FIB", func() error {
			_, err := c.LookupRoute(ctx, &fibdpb.LookupRouteRequest{FibId: 99, Address: "192.0.2.1"})
			return err
		}, codes.NotFound, ""},
		{"BeginResync unknown FIB", func() error {
			_, err := c.BeginResync(ctx, &fibdpb.BeginResyncRequest{FibId: 99, Source: "bgp"})
			return err
		}, codes.NotFound, ""},
		{"BeginResync reserved source", func() error {
			_, err := c.BeginResync(ctx, &fibdpb.BeginResyncRequest{FibId: 10, Source: "local"})
			return err
		}, codes.InvalidArgument, `source "local"`},
		{"EndResync without begin", func() error {
			_, err := c.EndResync(ctx, &fibdpb.EndResyncRequest{FibId: 10, Source: "bgp"})
			return err
		}, codes.FailedPrecondition, ""},
		{"AddNeighbor bad MAC", func() error {
			_, err := c.AddNeighbor(ctx, &fibdpb.AddNeighborRequest{Port: port, Address: "192.0.2.2", Mac: "02:00:00"})
			return err
		}, codes.InvalidArgument, `mac "02:00:00"`},
		{"AddNeighbor multicast MAC", func() error {
			_, err := c.AddNeighbor(ctx, &fibdpb.AddNeighborRequest{Port: port, Address: "192.0.2.2", Mac: "01:00:5e:00:00:01"})
			return err
		}, codes.InvalidArgument, `mac "01:00:5e:00:00:01"`},
		{"AddNeighbor multicast address", func() error {
			_, err := c.AddNeighbor(ctx, &fibdpb.AddNeighborRequest{Port: port, Address: "224.0.0.1", Mac: "02:00:00:00:00:02"})
			return err
		}, codes.InvalidArgument, `address "224.0.0.1"`},
		{"AddNeighbor unknown port", func() error {
			_, err := c.AddNeighbor(ctx, &fibdpb.AddNeighborRequest{Port: "eth5", Address: "192.0.2.2", Mac: "02:00:00:00:00:02"})
			return err
		}, codes.NotFound, ""},
		{"AddNeighbor over the limit", func() error {
			_, err := c.AddNeighbor(ctx, &fibdpb.AddNeighborRequest{Port: "eth3", Address: "192.0.2.10", Mac: "02:00:00:00:00:10"})
			return err
		}, codes.ResourceExhausted, ""},
		{"DeleteNeighbor missing", func() error {
			_, err := c.DeleteNeighbor(ctx, &fibdpb.DeleteNeighborRequest{Port: port, Address: "192.0.2.3"})
			return err
		}, codes.NotFound, ""},
		{"ListNeighbors unknown FIB", func() error { return drain(c.ListNeighbors(ctx, &fibdpb.ListNeighborsRequest{FibId: u32(99)})) }, codes.NotFound, ""},
		{"WatchNeighbors unknown FIB", func() error { return drain(c.WatchNeighbors(ctx, &fibdpb.WatchNeighborsRequest{FibId: u32(99)})) }, codes.NotFound, ""},
		{"GetStats unknown FIB", func() error { _, err := c.GetStats(ctx, &fibdpb.GetStatsRequest{FibId: u32(99)}); return err }, codes.NotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.fingerprint()
			err := tc.call()
			if got := status.Code(err); got != tc.code {
				t.Fatalf("code %v (%v), want %v", got, err, tc.code)
			}
			if tc.field != "" && !strings.Contains(status.Convert(err).Message(), tc.field) {
				t.Errorf("message %q does not name %s", status.Convert(err).Message(), tc.field)
			}
			if after := e.fingerprint(); after != before {
				t.Errorf("refused request changed state:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestInvalidArgumentCarriesBadRequestDetail(t *testing.T) {
	e := newEnv(t, control.Limits{})
	_, err := e.c.BindPort(e.ctx, &fibdpb.BindPortRequest{Interface: "eth1", Vlan: u32(4095)})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code %v", st.Code())
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 && br.GetFieldViolations()[0].GetField() == "vlan" {
			return
		}
	}
	t.Fatalf("no BadRequest detail naming vlan in %v", st.Details())
}
