package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fibd/fibd/control/fibdpb"
)

func newWatchCmd(a *app) *cobra.Command {
	c := group(&cobra.Command{Use: "watch", Short: "Stream changes until interrupted"})
	var fib fibRef
	var initial bool
	neigh := &cobra.Command{
		Use:     "neigh",
		Aliases: []string{"neighbor", "neighbour"},
		Short:   "Print neighbour changes as they happen (like `ip monitor neigh`)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			fid, err := a.fibPtr(&fib)
			if err != nil {
				return err
			}
			stream, err := cl.WatchNeighbors(cmd.Context(), &fibdpb.WatchNeighborsRequest{FibId: fid, Initial: initial})
			if err != nil {
				return err
			}
			return follow(a, stream.Recv, (*fibdpb.WatchNeighborsResponse).GetEvents, func(ev *fibdpb.NeighborEvent) string {
				n := ev.GetNeighbor()
				typ := strings.ToLower(strings.TrimPrefix(ev.GetType().String(), "NEIGHBOR_EVENT_TYPE_"))
				return fmt.Sprintf("%s fib %d %s dev %s lladdr %s %s", typ, n.GetFibId(), n.GetAddress(), n.GetPort(), n.GetMac(), enumText(n.GetNudState(), "NEIGHBOR_STATE_"))
			})
		},
	}
	fib.register(neigh, "only this FIB")
	neigh.Flags().BoolVar(&initial, "initial", false, "first print the current neighbours as added")
	neigh.Flags().BoolVar(&a.json, "json", false, "one JSON object per line")
	c.AddCommand(a.withCompletion(neigh), a.withCompletion(newWatchRouteCmd(a)))
	return c
}

// newWatchRouteCmd is `fibctl watch route`: every route change, the
// clients' and fibd's own, as it happens (like `ip monitor route`).
func newWatchRouteCmd(a *app) *cobra.Command {
	var fib fibRef
	var source string
	var initial bool
	c := &cobra.Command{
		Use:   "route [--fib FIB] [--source NAME] [--initial]",
		Short: "Print route changes as they happen, with who made them (like `ip monitor route`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			fid, err := a.fibPtr(&fib)
			if err != nil {
				return err
			}
			stream, err := cl.WatchRoutes(cmd.Context(), &fibdpb.WatchRoutesRequest{FibId: fid, Source: source, Initial: initial})
			if err != nil {
				return err
			}
			return follow(a, stream.Recv, (*fibdpb.WatchRoutesResponse).GetEvents, routeEventLine)
		},
	}
	fib.register(c, "only this FIB")
	c.Flags().StringVar(&source, "source", "", "only this source's routes and groups")
	c.Flags().BoolVar(&initial, "initial", false, "first print what is there, then a line \"end of initial\"")
	c.Flags().BoolVar(&a.json, "json", false, "one JSON object per line")
	return c
}

// follow prints a watch stream's events, a line each (one JSON object per
// line with --json), until the stream ends or the user interrupts it.
func follow[R any, E proto.Message](a *app, recv func() (R, error), events func(R) []E, line func(E) string) error {
	for {
		resp, err := recv()
		if status.Code(err) == codes.Canceled {
			return nil
		}
		if err != nil {
			return err
		}
		for _, ev := range events(resp) {
			if a.json {
				fmt.Fprintln(a.out, string(marshalJSON(ev, "")))
				continue
			}
			fmt.Fprintln(a.out, line(ev))
		}
	}
}

// routeEventLine renders an event the iproute2 way.
func routeEventLine(ev *fibdpb.RouteEvent) string {
	typ := enumText(ev.GetType(), "ROUTE_EVENT_TYPE_")
	cause := strings.ReplaceAll(enumText(ev.GetCause(), "ROUTE_EVENT_CAUSE_"), "_", "-")
	switch ev.GetType() {
	case fibdpb.RouteEventType_ROUTE_EVENT_TYPE_END_OF_INITIAL:
		return "end of initial"
	case fibdpb.RouteEventType_ROUTE_EVENT_TYPE_FIB_DELETED:
		return fmt.Sprintf("fib-deleted fib %d", ev.GetFibId())
	case fibdpb.RouteEventType_ROUTE_EVENT_TYPE_NEXT_HOP:
		res := enumText(ev.GetResolution(), "RESOLUTION_")
		if nh := nextHopsString(ev.GetResolved()); nh != "" {
			res += " " + nh
		}
		return fmt.Sprintf("next-hop fib %d %s resolves %s (%s)", ev.GetFibId(), pathsString(ev.GetPaths()), res, cause)
	}
	if g := ev.GetGroup(); g != nil {
		return fmt.Sprintf("%s fib %d nexthop id %d %s source %s (%s)", strings.ReplaceAll(typ, "_", "-"), ev.GetFibId(), g.GetId(),
			pathsString(g.GetPaths()), g.GetSource(), cause)
	}
	r := ev.GetRoute()
	line := fmt.Sprintf("%s fib %d %s %s source %s pref %d", typ, ev.GetFibId(), r.GetPrefix(), pathsString(r.GetPaths()), r.GetSource(), r.GetPreference())
	if ev.GetCause() != fibdpb.RouteEventCause_ROUTE_EVENT_CAUSE_UNSPECIFIED {
		line += " (" + cause + ")"
	}
	return line
}

func nextHopsString(nhs []*fibdpb.NextHop) string {
	var out []string
	for _, n := range nhs {
		out = append(out, "via "+n.GetGateway()+" dev "+n.GetPort())
	}
	return strings.Join(out, ", ")
}
