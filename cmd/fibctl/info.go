package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

func newInfoCmd(a *app) *cobra.Command {
	return addJSON(a, &cobra.Command{
		Use:   "info",
		Short: "Show fibd's version, dataplane and instance epoch",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			resp, err := cl.GetInfo(ctx, &fibdpb.GetInfoRequest{})
			if err != nil {
				return err
			}
			if a.json {
				return printJSON(a.out, resp)
			}
			fmt.Fprintf(a.out, "version:   %s\ndataplane: %s\nepoch:     %d\nstarted:   %s\n", resp.GetVersion(), resp.GetDataplane(),
				resp.GetEpoch(), resp.GetStarted().AsTime().Local().Format(time.RFC3339))
			if e := resp.GetStateError(); e != "" {
				fmt.Fprintf(a.out, "state:     NOT SAVED: %s\n", e)
			}
			return nil
		},
	})
}
