package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

// newNexthopCmd is `fibctl nexthop`, after iproute2's `ip nexthop`: groups
// of paths with an ID that routes name (`route add P nhid ID`).
func newNexthopCmd(a *app) *cobra.Command {
	c := group(&cobra.Command{Use: "nexthop", Aliases: []string{"nh"}, Short: "Next-hop groups: add, replace, del, show (like `ip nexthop`)"})
	for _, verb := range []string{"add", "replace"} {
		var fib fibRef
		var source string
		cmd := &cobra.Command{
			Use: verb + " id ID (via GATEWAY [dev PORT] [weight N])...|blackhole|unreachable|dev PORT [backup ID] --fib FIB",
			Short: map[string]string{"add": "Create a next-hop group (or replace it)",
				"replace": "Replace a group's paths: every route on it follows at once"}[verb],
			Example: "  fibctl nexthop " + verb + " id 10 via 192.0.2.2 via 192.0.2.3 weight 2 backup 11 --fib 10\n" +
				"  fibctl route add 203.0.113.0/24 nhid 10 --fib 10",
			Args: cobra.MinimumNArgs(3),
			RunE: func(cmd *cobra.Command, args []string) error {
				g, err := parseNexthop(args)
				if err != nil {
					return err
				}
				if g.FibId, err = a.fibID(&fib); err != nil {
					return err
				}
				g.Source = source
				ctx, cancel, cl, err := a.dial()
				if err != nil {
					return err
				}
				defer cancel()
				_, err = cl.SetNextHopGroup(ctx, &fibdpb.SetNextHopGroupRequest{Group: g})
				return err
			},
		}
		fib.register(cmd, "FIB (required)")
		fib.require(cmd)
		cmd.Flags().StringVar(&source, "source", "static", "the group's source (owner)")
		c.AddCommand(a.withCompletion(cmd))
	}
	var dfib fibRef
	var dsource string
	del := &cobra.Command{
		Use:     "del id ID --fib FIB",
		Aliases: []string{"delete"},
		Short:   "Delete a next-hop group (refused while routes or groups use it)",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "id" {
				return fmt.Errorf("want \"id ID\", got %q", args)
			}
			id, err := strconv.ParseUint(args[1], 10, 32)
			if err != nil || id == 0 {
				return fmt.Errorf("id %q: want a group ID from 1", args[1])
			}
			fibID, err := a.fibID(&dfib)
			if err != nil {
				return err
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			_, err = cl.DeleteNextHopGroup(ctx, &fibdpb.DeleteNextHopGroupRequest{FibId: fibID, Id: uint32(id), Source: dsource})
			return err
		},
	}
	dfib.register(del, "FIB (required)")
	dfib.require(del)
	del.Flags().StringVar(&dsource, "source", "static", "the group's source")
	var sfib fibRef
	show := &cobra.Command{
		Use:     "show [--fib FIB]",
		Aliases: []string{"list", "ls"},
		Short:   "List next-hop groups: paths, backup, what they resolve to, routes on them",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fid, err := a.fibPtr(&sfib)
			if err != nil {
				return err
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			stream, err := cl.ListNextHopGroups(ctx, &fibdpb.ListNextHopGroupsRequest{FibId: fid})
			if err != nil {
				return err
			}
			var groups []*fibdpb.NextHopGroup
			if err := recvAll(stream.Recv, func(r *fibdpb.ListNextHopGroupsResponse) { groups = append(groups, r.GetGroups()...) }); err != nil {
				return err
			}
			if a.json {
				return writeJSONList(a.out, groups)
			}
			t := newTable(a.out, "FIB", "ID", "SOURCE", "PATHS", "BACKUP", "RESOLVES", "ROUTES")
			for _, g := range groups {
				backup := "-"
				if g.GetBackupId() != 0 {
					backup = u(g.GetBackupId())
				}
				t.row(u(g.GetFibId()), u(g.GetId()), g.GetSource(), pathsString(g.GetPaths()), backup,
					orDash(enumText(g.GetResolution(), "RESOLUTION_")+" "+nextHopsString(g.GetResolved())), u(g.GetRoutes()))
			}
			return t.flush()
		},
	}
	sfib.register(show, "only this FIB")
	c.AddCommand(a.withCompletion(del), a.withCompletion(addJSON(a, show)))
	return c
}

// parseNexthop reads "id ID <paths> [backup ID]".
func parseNexthop(args []string) (*fibdpb.NextHopGroup, error) {
	if args[0] != "id" {
		return nil, fmt.Errorf("start with \"id ID\", got %q", args[0])
	}
	id, err := strconv.ParseUint(args[1], 10, 32)
	if err != nil || id == 0 {
		return nil, fmt.Errorf("id %q: want a group ID from 1", args[1])
	}
	g := &fibdpb.NextHopGroup{Id: uint32(id)}
	rest := args[2:]
	for i := 0; i+1 < len(rest); i++ {
		if rest[i] == "backup" {
			b, err := strconv.ParseUint(rest[i+1], 10, 32)
			if err != nil || b == 0 {
				return nil, fmt.Errorf("backup %q: want a group ID from 1", rest[i+1])
			}
			g.BackupId = uint32(b)
			rest = append(append([]string{}, rest[:i]...), rest[i+2:]...)
			break
		}
	}
	// The paths read as a route's would.
	spec, err := parseRoute(append([]string{"0.0.0.0/0"}, rest...))
	if err != nil {
		return nil, fmt.Errorf("%s", strings.ReplaceAll(err.Error(), "0.0.0.0/0", "the group"))
	}
	if spec.table != "" || spec.metric != 0 {
		return nil, fmt.Errorf("a group has no table or metric: give --fib")
	}
	g.Paths = spec.route.GetPaths()
	return g, nil
}
