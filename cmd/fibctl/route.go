package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

// routeFlags are the flags every route command shares.
type routeFlags struct {
	fib    fibRef
	source string
	pref   uint32
}

func (f *routeFlags) register(c *cobra.Command, source string) {
	f.fib.register(c, "FIB (default 0; iproute2's \"table N\" says it too)")
	c.Flags().StringVar(&f.source, "source", source, "route source (owner)")
}

// target resolves the FIB the command names, by --fib or "table N" (both:
// they must agree); required refuses a command that names neither.
func (a *app) target(f *routeFlags, table string, required bool) (uint32, error) {
	switch {
	case table != "" && f.fib.set && table != f.fib.raw:
		return 0, fmt.Errorf("table %s and --fib %s name different FIBs", table, f.fib.raw)
	case table != "":
		return a.resolveFIB(table)
	case f.fib.set:
		return a.fibID(&f.fib)
	case required:
		return 0, fmt.Errorf("name the FIB with --fib or \"table N\": this command removes state, so it never falls back to FIB 0")
	}
	return 0, nil
}

func newRouteCmd(a *app) *cobra.Command {
	c := group(&cobra.Command{Use: "route", Aliases: []string{"r"}, Short: "Routes: add, replace, del, show, get, load, summary"})
	for _, verb := range []string{"add", "replace"} {
		var rf routeFlags
		cmd := &cobra.Command{
			Use: verb + " [blackhole|unreachable|prohibit|local] PREFIX|ADDRESS|default [via GATEWAY [dev PORT] [weight N]]... [dev PORT] [lookup FIB] [nhid GROUP] [metric N] [table FIB]",
			Short: map[string]string{"add": "Add a route, or update this source's route for the prefix",
				"replace": "Replace this source's existing route for the prefix"}[verb],
			Long: "iproute2's grammar: a bare address is a host route (/32, /128); \"default\" is 0.0.0.0/0, or ::/0\n" +
				"with an IPv6 gateway; \"metric N\" is the preference (lower wins); \"table FIB\" is the FIB the\n" +
				"route goes in (as --fib); \"lookup FIB\" looks the destination up again in another FIB.",
			Example: "  fibctl route " + verb + " 198.51.100.0/24 via 192.0.2.2 table 10\n" +
				"  fibctl route " + verb + " default via 192.0.2.1 metric 5 --fib customer-a\n" +
				"  fibctl route " + verb + " 203.0.113.0/24 via 192.0.2.2 via 192.0.2.3 weight 2 --fib 10\n" +
				"  fibctl route " + verb + " blackhole 198.18.0.0/15 --fib 10\n" +
				"  fibctl route " + verb + " 0.0.0.0/0 lookup 0 --fib 10",
			Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				spec, err := parseRoute(args)
				if err != nil {
					return err
				}
				r := spec.route
				if r.FibId, err = a.target(&rf, spec.table, false); err != nil {
					return err
				}
				r.Source, r.Preference = rf.source, rf.pref
				if spec.metric != 0 {
					if rf.pref != 0 && rf.pref != spec.metric {
						return fmt.Errorf("metric %d and --pref %d disagree", spec.metric, rf.pref)
					}
					r.Preference = spec.metric
				}
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
		cmd.Flags().Uint32Var(&rf.pref, "pref", 0, "preference 1-255, lower wins (default: 1 for static, 20 otherwise); iproute2's metric")
		c.AddCommand(a.withCompletion(cmd))
	}
	var df routeFlags
	del := &cobra.Command{
		Use:     "del [blackhole|unreachable|prohibit|local] PREFIX|ADDRESS|default [via ...] [table FIB]",
		Aliases: []string{"delete"},
		Short:   "Delete this source's route for the prefix (the FIB must be named)",
		Example: "  fibctl route del 198.51.100.0/24 table 10\n  fibctl route del blackhole 198.18.0.0/15 --fib 10",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The rest of the route may be given, as iproute2 allows; only
			// the prefix and the FIB select what goes.
			spec, err := parseRouteArgs(args, true)
			if err != nil {
				return err
			}
			fib, err := a.target(&df, spec.table, true)
			if err != nil {
				return err
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			_, err = cl.DeleteRoute(ctx, &fibdpb.DeleteRouteRequest{FibId: fib, Prefix: spec.route.GetPrefix(), Source: df.source})
			return err
		},
	}
	df.register(del, "static")
	c.AddCommand(a.withCompletion(del), a.withCompletion(newRouteShowCmd(a)), a.withCompletion(newRouteGetCmd(a)),
		a.withCompletion(newRouteLoadCmd(a)), a.withCompletion(newRouteSummaryCmd(a)))
	return c
}

// routeSpec is a route as the command line gives it: the route, and the
// FIB ("table") and preference ("metric") when given there.
type routeSpec struct {
	route  *fibdpb.Route
	table  string
	metric uint32
}

// parseRoute parses iproute2-style route arguments.
func parseRoute(args []string) (routeSpec, error) { return parseRouteArgs(args, false) }

// parseRouteArgs parses route arguments; forDelete accepts a route with no
// next hop (only its prefix matters).
func parseRouteArgs(args []string, forDelete bool) (routeSpec, error) {
	spec := routeSpec{route: &fibdpb.Route{}}
	r := spec.route
	kinds := map[string]fibdpb.PathKind{
		"blackhole": fibdpb.PathKind_PATH_KIND_BLACKHOLE, "unreachable": fibdpb.PathKind_PATH_KIND_UNREACHABLE,
		"prohibit": fibdpb.PathKind_PATH_KIND_PROHIBIT, "local": fibdpb.PathKind_PATH_KIND_LOCAL,
	}
	var typed *fibdpb.Path
	var cur *fibdpb.Path // the gateway path "dev" and "weight" refer to
	isDefault := false
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
				return spec, fmt.Errorf("%q: a route has one type, or gateways", tok)
			}
			typed = &fibdpb.Path{Kind: kinds[tok]}
		case tok == "nexthop":
			// iproute2's ECMP keyword: "nexthop via A nexthop via B".
		case tok == "via":
			gw, err := next(&i, "a gateway address")
			if err != nil {
				return spec, err
			}
			cur = &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: gw}
			r.Paths = append(r.Paths, cur)
		case tok == "dev":
			port, err := next(&i, "a port")
			if err != nil {
				return spec, err
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
				return spec, err
			}
			if cur == nil || cur.Kind != fibdpb.PathKind_PATH_KIND_GATEWAY {
				return spec, fmt.Errorf("weight belongs to a \"via\" gateway")
			}
			v, err := strconv.ParseUint(w, 10, 32)
			if err != nil {
				return spec, fmt.Errorf("weight %q: want a number", w)
			}
			cur.Weight = uint32(v)
		case tok == "metric" || tok == "preference" || tok == "pref":
			m, err := next(&i, "a number")
			if err != nil {
				return spec, err
			}
			v, err := strconv.ParseUint(m, 10, 8)
			if err != nil || v == 0 {
				return spec, fmt.Errorf("%s %q: want a preference in 1-255", tok, m)
			}
			spec.metric = uint32(v)
		case tok == "table":
			t, err := next(&i, "a FIB")
			if err != nil {
				return spec, err
			}
			spec.table = t
		case tok == "nhid":
			// iproute2's "nhid N": the route follows next-hop group N.
			v, err := next(&i, "a next-hop group ID")
			if err != nil {
				return spec, err
			}
			id, err := strconv.ParseUint(v, 10, 32)
			if err != nil || id == 0 {
				return spec, fmt.Errorf("nhid %q: want a group ID from 1", v)
			}
			if typed != nil || len(r.Paths) > 0 {
				return spec, fmt.Errorf("nhid: a route on a group has no other path")
			}
			r.Paths = append(r.Paths, &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_GROUP, GroupId: uint32(id)})
		case tok == "lookup":
			f, err := next(&i, "a FIB ID")
			if err != nil {
				return spec, err
			}
			id, err := parseFIB(f)
			if err != nil {
				return spec, err
			}
			r.Paths = append(r.Paths, &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_LOOKUP, FibId: id})
		case r.Prefix == "" && !isDefault && tok == "default":
			isDefault = true
		case r.Prefix == "" && !isDefault && strings.Contains(tok, "/"):
			r.Prefix = tok
		case r.Prefix == "" && !isDefault && isAddr(tok):
			// A bare address is a host route, as in iproute2.
			a, _ := netip.ParseAddr(tok)
			r.Prefix = netip.PrefixFrom(a, a.BitLen()).String()
		default:
			return spec, fmt.Errorf("unexpected %q (a prefix is ADDRESS/LEN, an address or \"default\")", tok)
		}
	}
	if isDefault {
		r.Prefix = "0.0.0.0/0"
		for _, p := range r.Paths {
			if a, err := netip.ParseAddr(p.GetGateway()); err == nil && a.Is6() && !a.Is4In6() {
				r.Prefix = "::/0"
			}
		}
	}
	if r.Prefix == "" {
		return spec, fmt.Errorf("no prefix given")
	}
	if typed != nil {
		r.Paths = append(r.Paths, typed)
	}
	if len(r.Paths) == 0 && !forDelete {
		return spec, fmt.Errorf("say where %s goes: via GATEWAY, dev PORT, lookup FIB, or a type (blackhole, unreachable, prohibit, local)", r.Prefix)
	}
	return spec, nil
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
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
	case fibdpb.PathKind_PATH_KIND_GROUP:
		return "nhid " + u(p.GetGroupId())
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
