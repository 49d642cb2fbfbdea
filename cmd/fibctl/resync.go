package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

// newResyncCmd exposes mark-and-sweep resync for admins and scripts: begin,
// re-add the source's routes, end removes what was not re-added.
func newResyncCmd(a *app) *cobra.Command {
	c := group(&cobra.Command{Use: "resync", Short: "Mark-and-sweep resync of a source's routes: begin, re-push, end"})
	for _, verb := range []string{"begin", "end"} {
		var fib fibRef
		var source string
		cmd := &cobra.Command{
			Use:   verb + " --source NAME --fib FIB",
			Short: map[string]string{"begin": "Start a resync", "end": "Remove the source's routes not pushed since begin"}[verb],
			Long: "Both the FIB and the source must be named: an end removes every route of the source that was not\n" +
				"pushed again since the begin.",
			Args: cobra.NoArgs,
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
				if verb == "begin" {
					_, err = cl.BeginResync(ctx, &fibdpb.BeginResyncRequest{FibId: id, Source: source})
					return err
				}
				resp, err := cl.EndResync(ctx, &fibdpb.EndResyncRequest{FibId: id, Source: source})
				if err != nil {
					return err
				}
				fmt.Fprintf(a.out, "removed %d stale routes\n", resp.GetRemoved())
				return nil
			},
		}
		fib.register(cmd, "FIB (required)")
		fib.require(cmd)
		cmd.Flags().StringVar(&source, "source", "", "route source (required)")
		_ = cmd.MarkFlagRequired("source")
		c.AddCommand(a.withCompletion(cmd))
	}
	return c
}
