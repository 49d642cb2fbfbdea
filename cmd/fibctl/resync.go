package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

// newResyncCmd exposes mark-and-sweep resync for admins and scripts: begin,
// re-add the source's routes, end removes what was not re-added.
func newResyncCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "resync", Short: "Mark-and-sweep resync of a source's routes: begin, re-push, end"}
	for _, verb := range []string{"begin", "end"} {
		var rf routeFlags
		cmd := &cobra.Command{
			Use:   verb + " --source NAME --fib ID",
			Short: map[string]string{"begin": "Start a resync", "end": "Remove the source's routes not pushed since begin"}[verb],
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx, cancel, cl, err := a.dial()
				if err != nil {
					return err
				}
				defer cancel()
				if verb == "begin" {
					_, err = cl.BeginResync(ctx, &fibdpb.BeginResyncRequest{FibId: rf.fib, Source: rf.source})
					return err
				}
				resp, err := cl.EndResync(ctx, &fibdpb.EndResyncRequest{FibId: rf.fib, Source: rf.source})
				if err != nil {
					return err
				}
				fmt.Fprintf(a.out, "removed %d stale routes\n", resp.GetRemoved())
				return nil
			},
		}
		rf.register(cmd, "static")
		c.AddCommand(cmd)
	}
	return c
}
