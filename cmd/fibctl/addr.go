package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

// devArg parses the iproute2 tail "dev PORT".
func devArg(args []string) (string, error) {
	if len(args) != 2 || args[0] != "dev" {
		return "", fmt.Errorf("want \"dev PORT\" after the address, got %q", args)
	}
	return args[1], nil
}

func newAddrCmd(a *app) *cobra.Command {
	c := group(&cobra.Command{Use: "addr", Aliases: []string{"address", "a"}, Short: "Interface addresses: add, del, show"})
	add := &cobra.Command{
		Use:   "add ADDRESS/LEN dev PORT",
		Short: "Add an address (installs its connected and local routes in the port's FIB)",
		Args:  cobra.ExactArgs(3),
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
			_, err = cl.AddAddress(ctx, &fibdpb.AddAddressRequest{Port: port, Prefix: args[0]})
			return err
		},
	}
	del := &cobra.Command{
		Use:     "del ADDRESS/LEN dev PORT",
		Aliases: []string{"delete"},
		Short:   "Remove an address and its routes",
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
			_, err = cl.DeleteAddress(ctx, &fibdpb.DeleteAddressRequest{Port: port, Prefix: args[0]})
			return err
		},
	}
	var fib fibRef
	show := &cobra.Command{
		Use:     "show [[dev] PORT]",
		Aliases: []string{"list", "ls"},
		Short:   "List addresses",
		Args:    cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			fid, err := a.fibPtr(&fib)
			if err != nil {
				return err
			}
			req := &fibdpb.ListAddressesRequest{FibId: fid}
			switch {
			case len(args) == 1 && args[0] != "dev":
				req.Port = args[0] // iproute2's "ip addr show eth1"
			case len(args) > 0:
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
			stream, err := cl.ListAddresses(ctx, req)
			if err != nil {
				return err
			}
			var list []*fibdpb.Address
			if err := recvAll(stream.Recv, func(r *fibdpb.ListAddressesResponse) { list = append(list, r.GetAddresses()...) }); err != nil {
				return err
			}
			if a.json {
				return writeJSONList(a.out, list)
			}
			t := newTable(a.out, "PORT", "FIB", "ADDRESS")
			for _, x := range list {
				t.row(x.GetPort(), u(x.GetFibId()), x.GetPrefix())
			}
			return t.flush()
		},
	}
	fib.register(show, "only addresses in this FIB")
	c.AddCommand(add, del, addJSON(a, show))
	return c
}

// keywords reads iproute2 "keyword value" pairs in any order; want names
// the keywords and whether each is required.
func keywords(args []string, want map[string]bool) (map[string]string, error) {
	got := map[string]string{}
	for i := 0; i < len(args); i += 2 {
		k := args[i]
		if _, ok := want[k]; !ok {
			return nil, fmt.Errorf("unexpected %q", k)
		}
		if i+1 >= len(args) {
			return nil, fmt.Errorf("%q needs a value", k)
		}
		if _, dup := got[k]; dup {
			return nil, fmt.Errorf("%q given twice", k)
		}
		got[k] = args[i+1]
	}
	for k, required := range want {
		if _, ok := got[k]; required && !ok {
			return nil, fmt.Errorf("%q missing", k)
		}
	}
	return got, nil
}
