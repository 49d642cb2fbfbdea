package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
			for {
				resp, err := stream.Recv()
				if status.Code(err) == codes.Canceled {
					return nil
				}
				if err != nil {
					return err
				}
				for _, ev := range resp.GetEvents() {
					if a.json {
						fmt.Fprintln(a.out, string(marshalJSON(ev, "")))
						continue
					}
					n := ev.GetNeighbor()
					typ := strings.ToLower(strings.TrimPrefix(ev.GetType().String(), "NEIGHBOR_EVENT_TYPE_"))
					fmt.Fprintf(a.out, "%s fib %d %s dev %s lladdr %s %s\n", typ, n.GetFibId(), n.GetAddress(), n.GetPort(), n.GetMac(), enumText(n.GetNudState(), "NEIGHBOR_STATE_"))
				}
			}
		},
	}
	fib.register(neigh, "only this FIB")
	neigh.Flags().BoolVar(&initial, "initial", false, "first print the current neighbours as added")
	neigh.Flags().BoolVar(&a.json, "json", false, "one JSON object per line")
	c.AddCommand(neigh)
	return c
}
