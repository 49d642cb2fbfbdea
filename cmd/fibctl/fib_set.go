package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fibd/fibd/control/fibdpb"
)

// newFIBSetCmd is `fibctl fib set ID --neigh-max N …`: only the flags
// given change (like `ip neigh` tables' `ip ntable change`); it prints the
// FIB's effective settings.
func newFIBSetCmd(a *app) *cobra.Command {
	var (
		maxEntries, solicitRate, solicitBurst, resRate, resBurst uint32
		arpAccept, name, hostStack                               string
		gcStale, reachable, delayProbe, retrans                  time.Duration
		lim4, lim6, limSrc, limNb                                uint64
		warn                                                     uint32
	)
	c := &cobra.Command{
		Use:   "set FIB [flags]",
		Short: "Change a FIB's settings: only the flags given change",
		Long: "Change a FIB's name, limits, neighbour table and host stack. Only the flags given change; a limit\n" +
			"set to 0 goes back to fibd's default (its --limit-* flags), and --name \"\" removes the name.\n\n" +
			"--host on gives the FIB a host stack: network namespace fibd-fibN (see fibd --host-netns-prefix)\n" +
			"with a TUN carrying the FIB's addresses, so programs run with `fibctl exec --fib N -- CMD` talk to\n" +
			"the FIB's customers from the router's own addresses. --host off removes the namespace.",
		Example: `  fibctl fib set 10 --host on
  fibctl fib set 10 --name customer-a --limit-routes-v4 1000000 --limit-warn-percent 80
  fibctl fib set customer-a --neigh-max 4096 --arp-accept off
  fibctl fib set 10 --neigh-gc-stale-time 2m --neigh-reachable-time 30s`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := a.resolveFIB(args[0])
			if err != nil {
				return err
			}
			n := &fibdpb.NeighborSettings{}
			l := &fibdpb.FibLimits{}
			set := &fibdpb.FibSettings{Neighbors: n, Limits: l}
			changed := false
			fl := cmd.Flags()
			set64 := func(flag string, v uint64, dst **uint64) {
				if fl.Changed(flag) {
					*dst, changed = &v, true
				}
			}
			set64("limit-routes-v4", lim4, &l.RoutesV4)
			set64("limit-routes-v6", lim6, &l.RoutesV6)
			set64("limit-routes-per-source", limSrc, &l.RoutesPerSource)
			set64("limit-neighbors", limNb, &l.Neighbors)
			if fl.Changed("limit-warn-percent") {
				l.WarnPercent, changed = &warn, true
			}
			if fl.Changed("name") {
				set.Name, changed = &name, true
			}
			set32 := func(name string, v uint32, dst **uint32) {
				if fl.Changed(name) {
					*dst, changed = &v, true
				}
			}
			setDur := func(name string, v time.Duration, dst **durationpb.Duration) {
				if fl.Changed(name) {
					*dst, changed = durationpb.New(v), true
				}
			}
			set32("neigh-max", maxEntries, &n.MaxEntries)
			set32("neigh-solicit-rate", solicitRate, &n.SolicitRate)
			set32("neigh-solicit-burst", solicitBurst, &n.SolicitBurst)
			set32("neigh-reserved-solicit-rate", resRate, &n.ReservedSolicitRate)
			set32("neigh-reserved-solicit-burst", resBurst, &n.ReservedSolicitBurst)
			setDur("neigh-gc-stale-time", gcStale, &n.GcStaleTime)
			setDur("neigh-reachable-time", reachable, &n.BaseReachableTime)
			setDur("neigh-delay-probe-time", delayProbe, &n.DelayFirstProbeTime)
			setDur("neigh-retrans-time", retrans, &n.RetransTimer)
			if fl.Changed("arp-accept") {
				on, err := parseOnOff("--arp-accept", arpAccept)
				if err != nil {
					return err
				}
				n.ArpAccept, changed = &on, true
			}
			if fl.Changed("host") {
				on, err := parseOnOff("--host", hostStack)
				if err != nil {
					return err
				}
				set.HostStack, changed = &on, true
			}
			if !changed {
				return fmt.Errorf("fib set %s: nothing to change (see fibctl fib set --help)", args[0])
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			resp, err := cl.SetFibSettings(ctx, &fibdpb.SetFibSettingsRequest{FibId: id, Settings: set})
			if err != nil {
				return err
			}
			if a.json {
				return printJSON(a.out, resp.GetSettings())
			}
			return printSettings(a, id, resp.GetSettings())
		},
	}
	f := c.Flags()
	f.StringVar(&name, "name", "", "the FIB's name, usable wherever a FIB ID is (\"\" removes it)")
	f.StringVar(&hostStack, "host", "", "on: a host stack (namespace fibd-fibN) where programs open sockets in the FIB; off removes it")
	f.Uint64Var(&lim4, "limit-routes-v4", 0, "IPv4 route limit (0: fibd's default)")
	f.Uint64Var(&lim6, "limit-routes-v6", 0, "IPv6 route limit (0: fibd's default)")
	f.Uint64Var(&limSrc, "limit-routes-per-source", 0, "limit of one source's routes per family (0: fibd's default)")
	f.Uint64Var(&limNb, "limit-neighbors", 0, "limit of static neighbours (0: fibd's default)")
	f.Uint32Var(&warn, "limit-warn-percent", 0, "warn when a limit is this full, 1-100 (0: the default, 75)")
	f.Uint32Var(&maxEntries, "neigh-max", 0, "bound of dynamic neighbour entries (ARP/ND cache)")
	f.StringVar(&arpAccept, "arp-accept", "", "on: an ARP reply or gratuitous ARP from an unknown sender creates an entry (Linux arp_accept)")
	f.DurationVar(&gcStale, "neigh-gc-stale-time", 0, "how long an unreferenced STALE entry lives")
	f.DurationVar(&reachable, "neigh-reachable-time", 0, "BaseReachableTime (RFC 4861)")
	f.DurationVar(&delayProbe, "neigh-delay-probe-time", 0, "DELAY_FIRST_PROBE_TIME (RFC 4861)")
	f.DurationVar(&retrans, "neigh-retrans-time", 0, "RetransTimer (RFC 4861)")
	f.Uint32Var(&solicitRate, "neigh-solicit-rate", 0, "solicitations per second")
	f.Uint32Var(&solicitBurst, "neigh-solicit-burst", 0, "solicitation burst")
	f.Uint32Var(&resRate, "neigh-reserved-solicit-rate", 0, "reserved solicitations per second, for neighbours routes use")
	f.Uint32Var(&resBurst, "neigh-reserved-solicit-burst", 0, "reserved solicitation burst")
	addJSON(a, c)
	return c
}

func parseOnOff(flag, s string) (bool, error) {
	switch s {
	case "on", "yes", "true", "1":
		return true, nil
	case "off", "no", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s %q: want on or off", flag, s)
}

// printSettings prints a FIB's settings as "name value" lines.
func printSettings(a *app, id uint32, s *fibdpb.FibSettings) error {
	n := s.GetNeighbors()
	dur := func(d *durationpb.Duration) string {
		if d == nil {
			return "-"
		}
		return d.AsDuration().String()
	}
	t := newTable(a.out, "FIB", "SETTING", "VALUE")
	l := s.GetLimits()
	limit := func(v uint64) string {
		if v == 0 {
			return "unlimited"
		}
		return u(v)
	}
	for _, row := range [][2]string{
		{"name", orDash(s.GetName())},
		{"host", map[bool]string{true: "on", false: "off"}[s.GetHostStack()]},
		{"limit-routes-v4", limit(l.GetRoutesV4())},
		{"limit-routes-v6", limit(l.GetRoutesV6())},
		{"limit-routes-per-source", limit(l.GetRoutesPerSource())},
		{"limit-neighbors", limit(l.GetNeighbors())},
		{"limit-warn-percent", u(l.GetWarnPercent())},
		{"neigh-max", u(n.GetMaxEntries())},
		{"arp-accept", map[bool]string{true: "on", false: "off"}[n.GetArpAccept()]},
		{"neigh-gc-stale-time", dur(n.GetGcStaleTime())},
		{"neigh-reachable-time", dur(n.GetBaseReachableTime())},
		{"neigh-delay-probe-time", dur(n.GetDelayFirstProbeTime())},
		{"neigh-retrans-time", dur(n.GetRetransTimer())},
		{"neigh-solicit-rate", u(n.GetSolicitRate())},
		{"neigh-solicit-burst", u(n.GetSolicitBurst())},
		{"neigh-reserved-solicit-rate", u(n.GetReservedSolicitRate())},
		{"neigh-reserved-solicit-burst", u(n.GetReservedSolicitBurst())},
	} {
		t.row(strconv.FormatUint(uint64(id), 10), row[0], row[1])
	}
	return t.flush()
}
