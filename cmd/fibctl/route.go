package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

// routeFlags are the flags every route command shares.
type routeFlags struct {
	fib    uint32
	source string
	pref   uint32
}

func (f *routeFlags) register(c *cobra.Command, source string) {
	c.Flags().Uint32Var(&f.fib, "fib", 0, "FIB ID")
	c.Flags().StringVar(&f.source, "source", source, "route source (owner)")
}

func newRouteCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "route", Aliases: []string{"r"}, Short: "Routes: add, replace, del, show, get, load"}
	for _, verb := range []string{"add", "replace"} {
		var rf routeFlags
		cmd := &cobra.Command{
			Use: verb + " [blackhole|unreachable|prohibit|local] PREFIX [via GATEWAY [dev PORT] [weight N]]... [dev PORT] [lookup FIB]",
			Short: map[string]string{"add": "Add a route, or update this source's route for the prefix",
				"replace": "Replace this source's existing route for the prefix"}[verb],
			Example: "  fibctl route " + verb + " 198.51.100.0/24 via 192.0.2.2 --fib 10\n" +
				"  fibctl route " + verb + " 203.0.113.0/24 via 192.0.2.2 via 192.0.2.3 weight 2 --fib 10\n" +
				"  fibctl route " + verb + " blackhole 198.18.0.0/15 --fib 10\n" +
				"  fibctl route " + verb + " 0.0.0.0/0 lookup 0 --fib 10",
			Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				r, err := parseRoute(args)
				if err != nil {
					return err
				}
				r.FibId, r.Source, r.Preference = rf.fib, rf.source, rf.pref
				ctx, cancel, cl, err := a.dial()
				if err != nil {
					return err
				}
				defer cancel()
				if verb == "add" {
					_, err = cl.AddRoute(ctx, &fibdpb.AddRouteRequest{Route: r})
				} else {
					_, err = cl.ReplaceRoute(ctx, &fibdpb.ReplaceRouteRequest{Route: r})
				}
				return err
			},
		}
		rf.register(cmd, "static")
		cmd.Flags().Uint32Var(&rf.pref, "pref", 0, "preference 1-255, lower wins (default: 1 for static, 20 otherwise)")
		c.AddCommand(cmd)
	}
	var df routeFlags
	del := &cobra.Command{
		Use:     "del PREFIX",
		Aliases: []string{"delete"},
		Short:   "Delete this source's route for the prefix",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			_, err = cl.DeleteRoute(ctx, &fibdpb.DeleteRouteRequest{FibId: df.fib, Prefix: args[0], Source: df.source})
			return err
		},
	}
	df.register(del, "static")
	c.AddCommand(del, newRouteShowCmd(a), newRouteGetCmd(a), newRouteLoadCmd(a))
	return c
}

// parseRoute parses iproute2-style route arguments into a Route (FIB,
// source and preference come from flags).
func parseRoute(args []string) (*fibdpb.Route, error) {
	r := &fibdpb.Route{}
	kinds := map[string]fibdpb.PathKind{
		"blackhole": fibdpb.PathKind_PATH_KIND_BLACKHOLE, "unreachable": fibdpb.PathKind_PATH_KIND_UNREACHABLE,
		"prohibit": fibdpb.PathKind_PATH_KIND_PROHIBIT, "local": fibdpb.PathKind_PATH_KIND_LOCAL,
	}
	var typed *fibdpb.Path
	var cur *fibdpb.Path // the gateway path "dev" and "weight" refer to
	next := func(i *int, what string) (string, error) {
		*i++
		if *i >= len(args) {
			return "", fmt.Errorf("%q needs %s", args[*i-1], what)
		}
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		tok := args[i]
		switch {
		case kinds[tok] != 0:
			if typed != nil || len(r.Paths) > 0 {
				return nil, fmt.Errorf("%q: a route has one type, or gateways", tok)
			}
			typed = &fibdpb.Path{Kind: kinds[tok]}
		case tok == "nexthop":
			// iproute2's ECMP keyword: "nexthop via A nexthop via B".
		case tok == "via":
			gw, err := next(&i, "a gateway address")
			if err != nil {
				return nil, err
			}
			cur = &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: gw}
			r.Paths = append(r.Paths, cur)
		case tok == "dev":
			port, err := next(&i, "a port")
			if err != nil {
				return nil, err
			}
			switch {
			case cur != nil:
				cur.Port = port
			case typed != nil:
				typed.Port = port
			default:
				cur = &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_ATTACHED, Port: port}
				r.Paths = append(r.Paths, cur)
			}
		case tok == "weight":
			w, err := next(&i, "a number")
			if err != nil {
				return nil, err
			}
			if cur == nil || cur.Kind != fibdpb.PathKind_PATH_KIND_GATEWAY {
				return nil, fmt.Errorf("weight belongs to a \"via\" gateway")
			}
			v, err := strconv.ParseUint(w, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("weight %q: want a number", w)
			}
			cur.Weight = uint32(v)
		case tok == "lookup" || tok == "table":
			f, err := next(&i, "a FIB ID")
			if err != nil {
				return nil, err
			}
			id, err := parseFIB(f)
			if err != nil {
				return nil, err
			}
			r.Paths = append(r.Paths, &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_LOOKUP, FibId: id})
		case r.Prefix == "" && strings.Contains(tok, "/"):
			r.Prefix = tok
		case r.Prefix == "" && tok == "default":
			return nil, fmt.Errorf("say 0.0.0.0/0 or ::/0 instead of \"default\"")
		default:
			return nil, fmt.Errorf("unexpected %q (the prefix needs its length, e.g. 198.51.100.0/24)", tok)
		}
	}
	if r.Prefix == "" {
		return nil, fmt.Errorf("no prefix given")
	}
	if typed != nil {
		r.Paths = append(r.Paths, typed)
	}
	if len(r.Paths) == 0 {
		return nil, fmt.Errorf("say where %s goes: via GATEWAY, dev PORT, lookup FIB, or a type (blackhole, unreachable, prohibit, local)", r.Prefix)
	}
	return r, nil
}

// pathString renders a path the iproute2 way.
func pathString(p *fibdpb.Path) string {
	var s string
	switch p.GetKind() {
	case fibdpb.PathKind_PATH_KIND_GATEWAY:
		s = "via " + p.GetGateway()
		if p.GetPort() != "" {
			s += " dev " + p.GetPort()
		}
		if p.GetWeight() > 1 {
			s += " weight " + u(p.GetWeight())
		}
		return s
	case fibdpb.PathKind_PATH_KIND_ATTACHED:
		return "dev " + p.GetPort()
	case fibdpb.PathKind_PATH_KIND_LOOKUP:
		return "lookup " + u(p.GetFibId())
	}
	s = strings.ToLower(strings.TrimPrefix(p.GetKind().String(), "PATH_KIND_"))
	if p.GetPort() != "" {
		s += " dev " + p.GetPort()
	}
	return s
}

func pathsString(ps []*fibdpb.Path) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = pathString(p)
	}
	return strings.Join(out, ", ")
}
