package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

func newRouteShowCmd(a *app) *cobra.Command {
	var fib fibRef
	var family int
	var source string
	var best bool
	show := &cobra.Command{
		Use:     "show [PREFIX]",
		Aliases: []string{"list", "ls"},
		Short:   "List routes (every source's; * marks the one that forwards), optionally those inside PREFIX",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fid, err := a.fibPtr(&fib)
			if err != nil {
				return err
			}
			req := &fibdpb.ListRoutesRequest{FibId: fid, Source: source, BestOnly: best}
			switch family {
			case 0:
			case 4:
				req.Family = fibdpb.Family_FAMILY_IPV4
			case 6:
				req.Family = fibdpb.Family_FAMILY_IPV6
			default:
				return fmt.Errorf("--family %d: want 4 or 6", family)
			}
			if len(args) == 1 {
				req.Prefix = args[0]
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			// A full table takes a while to stream: no --timeout here.
			stream, err := cl.ListRoutes(cmd.Context(), req)
			if err != nil {
				return err
			}
			if a.json {
				j := newJSONList(a.out)
				err := recvAll(stream.Recv, func(r *fibdpb.ListRoutesResponse) {
					for _, rt := range r.GetRoutes() {
						j.add(rt)
					}
				})
				if err != nil {
					return err
				}
				return j.close()
			}
			t := newTable(a.out, "FIB", "PREFIX", "SOURCE", "PREF", "BEST", "STATE", "PATHS")
			err = recvAll(stream.Recv, func(r *fibdpb.ListRoutesResponse) {
				for _, rt := range r.GetRoutes() {
					mark := ""
					if rt.GetBest() {
						mark = "*"
					}
					t.row(u(rt.GetFibId()), rt.GetPrefix(), rt.GetSource(), u(rt.GetPreference()), mark, enumText(rt.GetResolution(), "RESOLUTION_"), pathsString(rt.GetPaths()))
				}
			})
			if err != nil {
				return err
			}
			return t.flush()
		},
	}
	fib.register(show, "only this FIB (default: all)")
	show.Flags().IntVar(&family, "family", 0, "4 or 6")
	show.Flags().StringVar(&source, "source", "", "only this source's routes")
	show.Flags().BoolVar(&best, "best", false, "only routes that forward")
	return addJSON(a, show)
}

func newRouteGetCmd(a *app) *cobra.Command {
	var fib fibRef
	var hash uint32
	get := &cobra.Command{
		Use:   "get ADDRESS [--fib FIB]",
		Short: "Show where a packet to ADDRESS goes: matched route, leaks, ECMP member, neighbour, egress port",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := a.fibID(&fib)
			if err != nil {
				return err
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			resp, err := cl.LookupRoute(ctx, &fibdpb.LookupRouteRequest{FibId: id, Address: args[0], FlowHash: hash})
			if err != nil {
				return err
			}
			if a.json {
				return printJSON(a.out, resp)
			}
			w := a.out
			for _, h := range resp.GetHops() {
				if r := h.GetRoute(); r != nil {
					fmt.Fprintf(w, "fib %d: %s source %s pref %d: %s\n", h.GetFibId(), r.GetPrefix(), r.GetSource(), r.GetPreference(), pathsString(r.GetPaths()))
				} else {
					fmt.Fprintf(w, "fib %d: no route\n", h.GetFibId())
				}
			}
			fmt.Fprintf(w, "result: %s\n", enumText(resp.GetResolution(), "RESOLUTION_"))
			if resp.GetNextHop() != "" {
				fmt.Fprintf(w, "next hop: %s dev %s\n", resp.GetNextHop(), orDash(resp.GetEgressPort()))
			} else if resp.GetEgressPort() != "" {
				fmt.Fprintf(w, "port: %s\n", resp.GetEgressPort())
			}
			if n := resp.GetNeighbor(); n != nil {
				fmt.Fprintf(w, "neighbour: %s lladdr %s %s\n", n.GetAddress(), n.GetMac(), enumText(n.GetNudState(), "NEIGHBOR_STATE_"))
			} else if resp.GetNextHop() != "" {
				fmt.Fprintln(w, "neighbour: not resolved")
			}
			if len(resp.GetEcmp()) > 1 {
				fmt.Fprintf(w, "ecmp members: %d\n", len(resp.GetEcmp()))
				for _, m := range resp.GetEcmp() {
					fmt.Fprintf(w, "  %s %s\n", m.GetGateway(), m.GetPort())
				}
			}
			return nil
		},
	}
	fib.register(get, "FIB to look in (default 0)")
	get.Flags().Uint32Var(&hash, "hash", 0, "flow hash that picks the ECMP member")
	return addJSON(a, get)
}

// newRouteSummaryCmd is `fibctl route summary`: route counts per FIB, per
// source and family (like `show ip route summary`).
func newRouteSummaryCmd(a *app) *cobra.Command {
	var fib fibRef
	c := &cobra.Command{
		Use:   "summary [--fib FIB]",
		Short: "Count routes per FIB, source and family",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fid, err := a.fibPtr(&fib)
			if err != nil {
				return err
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			stream, err := cl.ListFibs(ctx, &fibdpb.ListFibsRequest{FibId: fid})
			if err != nil {
				return err
			}
			var fibs []*fibdpb.Fib
			if err := recvAll(stream.Recv, func(r *fibdpb.ListFibsResponse) { fibs = append(fibs, r.GetFibs()...) }); err != nil {
				return err
			}
			if a.json {
				return writeJSONList(a.out, fibs)
			}
			t := newTable(a.out, "FIB", "SOURCE", "IPV4", "IPV6")
			for _, f := range fibs {
				for _, s := range f.GetSources() {
					t.row(u(f.GetFibId()), s.GetSource(), u(s.GetRoutesV4()), u(s.GetRoutesV6()))
				}
				t.row(u(f.GetFibId()), "total", u(f.GetRoutesV4()), u(f.GetRoutesV6()))
			}
			return t.flush()
		},
	}
	fib.register(c, "only this FIB")
	return addJSON(a, c)
}
