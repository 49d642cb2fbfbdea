package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

func newStatsCmd(a *app) *cobra.Command {
	var fib fibRef
	c := &cobra.Command{
		Use:   "stats",
		Short: "Packet counters per port and per FIB, with drops by reason",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			fid, err := a.fibPtr(&fib)
			if err != nil {
				return err
			}
			resp, err := cl.GetStats(ctx, &fibdpb.GetStatsRequest{FibId: fid})
			if err != nil {
				return err
			}
			if a.json {
				return printJSON(a.out, resp)
			}
			t := newTable(a.out, "PORT", "FIB", "RX_PKTS", "RX_BYTES", "TX_PKTS", "TX_BYTES", "FORWARDED", "DROPPED", "DROPS")
			for _, p := range resp.GetPorts() {
				t.row(append([]string{p.GetPort(), u(p.GetFibId())}, counterCols(p.GetCounters())...)...)
			}
			if err := t.flush(); err != nil {
				return err
			}
			a.out.Write([]byte("\n"))
			t = newTable(a.out, "FIB", "ROUTES4", "ROUTES6", "RX_PKTS", "RX_BYTES", "TX_PKTS", "TX_BYTES", "FORWARDED", "DROPPED", "DROPS")
			for _, f := range resp.GetFibs() {
				t.row(append([]string{u(f.GetFibId()), u(f.GetRoutesV4()), u(f.GetRoutesV6())}, counterCols(f.GetCounters())...)...)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if err := printFastPath(a, resp); err != nil {
				return err
			}
			if len(resp.GetInterfaces()) == 0 {
				return nil
			}
			// Frames that arrived for no port: tags nobody bound, the usual
			// sign of a trunk carrying a VLAN (or a QinQ pair) fibd was not
			// told about.
			a.out.Write([]byte("\n"))
			t = newTable(a.out, "INTERFACE", "UNKNOWN_VLAN", "UNKNOWN_QINQ", "LAST_TAGS", "RX_ERRORS")
			for _, i := range resp.GetInterfaces() {
				t.row(i.GetInterface(), u(i.GetUnknownVlan()), u(i.GetUnknownQinq()), lastTags(i), u(i.GetRxErrors()))
			}
			return t.flush()
		},
	}
	fib.register(c, "only this FIB and its ports")
	return addJSON(a, c)
}

func counterCols(c *fibdpb.Counters) []string {
	var drops []string
	for _, k := range slices.Sorted(maps.Keys(c.GetDrops())) {
		drops = append(drops, k+"="+u(c.GetDrops()[k]))
	}
	return []string{u(c.GetRxPackets()), u(c.GetRxBytes()), u(c.GetTxPackets()), u(c.GetTxBytes()),
		u(c.GetForwarded()), u(c.GetDropped()), orDash(strings.Join(drops, ","))}
}

// lastTags shows the tags of the last frame no port took: "-" (none),
// "untagged", "0x8100/100" or "0x88a8/100/200".
func lastTags(i *fibdpb.InterfaceStats) string {
	switch {
	case i.GetUnknownVlan()+i.GetUnknownQinq() == 0:
		return "-"
	case i.GetLastTpid() == 0:
		return "untagged"
	case i.GetLastInnerVlan() == 0:
		return fmt.Sprintf("%#04x/%d", i.GetLastTpid(), i.GetLastVlan())
	}
	return fmt.Sprintf("%#04x/%d/%d", i.GetLastTpid(), i.GetLastVlan(), i.GetLastInnerVlan())
}

// printFastPath shows what the in-kernel fast path forwarded (per port,
// part of FORWARDED above) and why it handed frames to user space.
func printFastPath(a *app, resp *fibdpb.GetStatsResponse) error {
	fp := resp.GetFastPath()
	if fp == nil {
		return nil
	}
	fmt.Fprintf(a.out, "\nfast path: %s forwarded on %s\n", u(fp.GetForwarded()), orDash(strings.Join(fp.GetInterfaces(), ",")))
	t := newTable(a.out, "PORT", "FIB", "FAST_FORWARDED")
	for _, p := range resp.GetPorts() {
		t.row(p.GetPort(), u(p.GetFibId()), u(p.GetCounters().GetFastPathForwarded()))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(fp.GetPunts()) == 0 {
		return nil
	}
	a.out.Write([]byte("\n"))
	t = newTable(a.out, "PUNTED_TO_USER_SPACE", "FRAMES")
	for _, k := range slices.Sorted(maps.Keys(fp.GetPunts())) {
		t.row(k, u(fp.GetPunts()[k]))
	}
	return t.flush()
}
