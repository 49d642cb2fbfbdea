package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

func newNeighCmd(a *app) *cobra.Command {
	c := group(&cobra.Command{Use: "neigh", Aliases: []string{"neighbor", "neighbour", "n"}, Short: "Neighbours (ARP/ND): add, del, show"})
	add := &cobra.Command{
		Use:   "add ADDRESS lladdr MAC dev PORT",
		Short: "Add a static (permanent) neighbour in the port's FIB (iproute2's order; dev and lladdr in either order, \"nud permanent\" accepted)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kw, err := keywords(args[1:], map[string]bool{"lladdr": true, "dev": true, "nud": false})
			if err != nil {
				return fmt.Errorf("want ADDRESS lladdr MAC dev PORT: %w", err)
			}
			if nud, ok := kw["nud"]; ok && nud != "permanent" {
				return fmt.Errorf("nud %q: a static neighbour is permanent", nud)
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			_, err = cl.AddNeighbor(ctx, &fibdpb.AddNeighborRequest{Address: args[0], Mac: kw["lladdr"], Port: kw["dev"]})
			return err
		},
	}
	del := &cobra.Command{
		Use:     "del ADDRESS dev PORT",
		Aliases: []string{"delete"},
		Short:   "Delete a static neighbour",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			port, err := devArg(args[1:])
			if err != nil {
				return err
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			_, err = cl.DeleteNeighbor(ctx, &fibdpb.DeleteNeighborRequest{Address: args[0], Port: port})
			return err
		},
	}
	var fib fibRef
	show := &cobra.Command{
		Use:     "show [dev PORT]",
		Aliases: []string{"list", "ls"},
		Short:   "List neighbours, learned and static",
		Args:    cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			fid, err := a.fibPtr(&fib)
			if err != nil {
				return err
			}
			req := &fibdpb.ListNeighborsRequest{FibId: fid}
			if len(args) > 0 {
				port, err := devArg(args)
				if err != nil {
					return err
				}
				req.Port = port
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			stream, err := cl.ListNeighbors(ctx, req)
			if err != nil {
				return err
			}
			var list []*fibdpb.Neighbor
			if err := recvAll(stream.Recv, func(r *fibdpb.ListNeighborsResponse) { list = append(list, r.GetNeighbors()...) }); err != nil {
				return err
			}
			if a.json {
				return writeJSONList(a.out, list)
			}
			t := newTable(a.out, "FIB", "ADDRESS", "DEV", "LLADDR", "STATE", "STATIC")
			for _, n := range list {
				t.row(u(n.GetFibId()), n.GetAddress(), n.GetPort(), n.GetMac(), enumText(n.GetNudState(), "NEIGHBOR_STATE_"), yes(n.GetStatic()))
			}
			return t.flush()
		},
	}
	fib.register(show, "only this FIB (default: all)")
	c.AddCommand(add, del, addJSON(a, show))
	return c
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
