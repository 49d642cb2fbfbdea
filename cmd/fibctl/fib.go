package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

func newFIBCmd(a *app) *cobra.Command {
	c := group(&cobra.Command{Use: "fib", Short: "FIBs (VRFs): add, del, set, show"})
	c.Long = "FIBs (VRFs): add, del, set, show. `fib show FIB` adds the FIB's settings and its host stack."

	var l fibdpb.Limits
	var name string
	add := &cobra.Command{
		Use:   "add ID [--name NAME]",
		Short: "Create an empty FIB (like `ip link add NAME type vrf table ID`)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseFIB(args[0])
			if err != nil {
				return err
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			_, err = cl.CreateFib(ctx, &fibdpb.CreateFibRequest{FibId: id, Limits: &l, Name: name})
			return err
		},
	}
	add.Flags().StringVar(&name, "name", "", "a name for the FIB, usable wherever its ID is (lower-case, starts with a letter)")
	add.Flags().Uint64Var(&l.RoutesV4, "limit-routes-v4", 0, "IPv4 route limit (0: fibd's default)")
	add.Flags().Uint64Var(&l.RoutesV6, "limit-routes-v6", 0, "IPv6 route limit")
	add.Flags().Uint64Var(&l.RoutesPerSource, "limit-routes-per-source", 0, "limit of one source's routes per family")
	add.Flags().Uint64Var(&l.Neighbors, "limit-neighbors", 0, "limit of static neighbours")
	del := &cobra.Command{
		Use:     "del FIB",
		Aliases: []string{"delete"},
		Short:   "Delete a FIB and its routes (refused while ports are bound to it)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := a.resolveFIB(args[0])
			if err != nil {
				return err
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			_, err = cl.DeleteFib(ctx, &fibdpb.DeleteFibRequest{FibId: id})
			return err
		},
	}
	show := &cobra.Command{
		Use:     "show [FIB]",
		Aliases: []string{"list", "ls"},
		Short:   "List FIBs with their route and neighbour counts",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &fibdpb.ListFibsRequest{}
			if len(args) == 1 {
				id, err := a.resolveFIB(args[0])
				if err != nil {
					return err
				}
				req.FibId = &id
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			stream, err := cl.ListFibs(ctx, req)
			if err != nil {
				return err
			}
			var fibs []*fibdpb.Fib
			err = recvAll(stream.Recv, func(r *fibdpb.ListFibsResponse) { fibs = append(fibs, r.GetFibs()...) })
			if err != nil {
				return err
			}
			if a.json {
				return writeJSONList(a.out, fibs)
			}
			t := newTable(a.out, "FIB", "NAME", "ROUTES4", "ROUTES6", "NEIGH4", "NEIGH6", "PORTS", "SOURCES", "HOST", "VERSION")
			for _, f := range fibs {
				var srcs []string
				for _, s := range f.GetSources() {
					srcs = append(srcs, fmt.Sprintf("%s=%d", s.GetSource(), s.GetRoutesV4()+s.GetRoutesV6()))
				}
				t.row(u(f.GetFibId()), orDash(f.GetName()), u(f.GetRoutesV4()), u(f.GetRoutesV6()), u(f.GetNeighborsV4()),
					u(f.GetNeighborsV6()), orDash(strings.Join(f.GetPorts(), ",")), orDash(strings.Join(srcs, ",")),
					orDash(f.GetHost().GetNamespace()), u(f.GetVersion()))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if len(args) == 1 && len(fibs) == 1 {
				fmt.Fprintln(a.out)
				if err := printSettings(a, fibs[0].GetFibId(), fibs[0].GetSettings()); err != nil {
					return err
				}
				if h := fibs[0].GetHost(); h != nil {
					fmt.Fprintln(a.out)
					return printHost(a, fibs[0].GetFibId(), h)
				}
			}
			return nil
		},
	}
	c.AddCommand(add, del, newFIBSetCmd(a), addJSON(a, show))
	return c
}

func parseFIB(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("FIB ID %q: want a number in 0-4294967295", s)
	}
	return uint32(v), nil
}

func u[T ~uint32 | ~uint64 | ~int32 | ~int](v T) string { return strconv.FormatUint(uint64(v), 10) }

// recvAll reads a server stream to its end.
func recvAll[T any](recv func() (T, error), fn func(T)) error {
	for {
		m, err := recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		fn(m)
	}
}

// printHost prints a FIB's host stack: its namespace and counters.
func printHost(a *app, id uint32, h *fibdpb.FibHost) error {
	t := newTable(a.out, "FIB", "HOST", "VALUE")
	rows := [][2]string{
		{"namespace", h.GetNamespace()}, {"device", orDash(h.GetDevice())}, {"error", orDash(h.GetError())},
		{"punted", u(h.GetPunted())}, {"delivered", u(h.GetDelivered())}, {"injected", u(h.GetInjected())},
		{"neighbor-queued", u(h.GetQueued())}, {"icmp-errors", u(h.GetIcmpErrors())},
	}
	for _, k := range slices.Sorted(maps.Keys(h.GetDrops())) {
		rows = append(rows, [2]string{"drop " + k, u(h.GetDrops()[k])})
	}
	for _, k := range slices.Sorted(maps.Keys(h.GetIo())) {
		rows = append(rows, [2]string{"io " + k, u(h.GetIo()[k])})
	}
	for _, r := range rows {
		t.row(u(id), r[0], r[1])
	}
	return t.flush()
}
