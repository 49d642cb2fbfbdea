package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

func newPortCmd(a *app) *cobra.Command {
	c := group(&cobra.Command{Use: "port", Short: "Ports (an interface, interface.VLAN or interface.VLAN.VLAN) bound to FIBs: bind, unbind, show"})
	var vlan, inner uint32
	var tpid string
	var bindFIB fibRef
	bind := &cobra.Command{
		Use:   "bind INTERFACE [--vlan ID [--inner-vlan ID] [--tpid 0x8100|0x88a8]] --fib ID",
		Short: "Bind an interface, a VLAN of it or a QinQ (outer, inner) pair of it to a FIB (like `ip link set DEV master VRF`)",
		Long: `Bind a port to a FIB. A port is an interface (untagged frames), a VLAN of it
(--vlan: frames with that one tag) or a QinQ pair (--vlan and --inner-vlan:
frames with those two tags, and only those). The outer tag's TPID is 0x8100
for a VLAN port and 0x88a8 (802.1ad) for QinQ unless --tpid says otherwise.
Ports are named eth1, eth1.100 and eth1.100.200. An interface that does not
exist yet is bound anyway; the port is down until it appears.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fibID, err := a.fibID(&bindFIB)
			if err != nil {
				return err
			}
			req := &fibdpb.BindPortRequest{Interface: args[0], FibId: fibID}
			if cmd.Flags().Changed("vlan") {
				req.Vlan = &vlan
			}
			if cmd.Flags().Changed("inner-vlan") {
				req.InnerVlan = &inner
			}
			if cmd.Flags().Changed("tpid") {
				t, err := parseTPID(tpid)
				if err != nil {
					return err
				}
				req.OuterTpid = &t
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			resp, err := cl.BindPort(ctx, req)
			if err != nil {
				return err
			}
			p := resp.GetPort()
			if _, err = a.out.Write([]byte("port " + p.GetName() + " bound to fib " + u(p.GetFibId()) + "\n")); err != nil {
				return err
			}
			if r := p.GetStateReason(); r != "" {
				// Bound, but not forwarding: say so, a typo in the interface
				// name looks just like this.
				fmt.Fprintf(a.errOut, "warning: port %s is down: %s\n", p.GetName(), r)
			}
			return nil
		},
	}
	bind.Flags().Uint32Var(&vlan, "vlan", 0, "VLAN ID (1-4094), the outer tag with --inner-vlan; omit for the untagged interface")
	bind.Flags().Uint32Var(&inner, "inner-vlan", 0, "QinQ inner (C-) VLAN ID (1-4094); needs --vlan")
	bind.Flags().StringVar(&tpid, "tpid", "", "outer tag TPID: 0x8100 or 0x88a8 (default 0x8100 for a VLAN, 0x88a8 for QinQ)")
	// No default: binding moves a port that is in another FIB, and its
	// addresses, routes and neighbours go with the move.
	bindFIB.register(bind, "FIB to bind to (required)")
	bindFIB.require(bind)
	unbind := &cobra.Command{
		Use:   "unbind PORT",
		Short: "Unbind a port (eth1 or eth1.100): its addresses and routes go",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			_, err = cl.UnbindPort(ctx, &fibdpb.UnbindPortRequest{Port: args[0]})
			return err
		},
	}
	var showFIB fibRef
	show := &cobra.Command{
		Use:     "show [PORT]",
		Aliases: []string{"list", "ls"},
		Short:   "List ports: FIB, state, MTU, MAC, addresses, counters",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fid, err := a.fibPtr(&showFIB)
			if err != nil {
				return err
			}
			req := &fibdpb.ListPortsRequest{FibId: fid}
			if len(args) == 1 {
				req.Port = args[0]
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			stream, err := cl.ListPorts(ctx, req)
			if err != nil {
				return err
			}
			var ports []*fibdpb.Port
			if err := recvAll(stream.Recv, func(r *fibdpb.ListPortsResponse) { ports = append(ports, r.GetPorts()...) }); err != nil {
				return err
			}
			if a.json {
				return writeJSONList(a.out, ports)
			}
			t := newTable(a.out, "PORT", "FIB", "STATE", "MTU", "MAC", "BACKEND", "RPF", "RX", "TX", "DROPPED", "IO-RX/TX", "ADDRESSES")
			for _, p := range ports {
				c := p.GetCounters()
				state := enumText(p.GetOperState(), "PORT_STATE_")
				if r := p.GetStateReason(); r != "" {
					state += " (" + r + ")"
				}
				rpf := strings.ToLower(enumText(p.GetSettings().GetRpf(), "RPF_MODE_"))
				if p.GetSettings().GetAllowSourceRoute() {
					rpf += ",ssrr-ok"
				}
				backend := p.GetBackend()
				if n := p.GetRxWorkers(); n > 1 {
					backend += "×" + u(n) // RX workers reading its interface
				}
				t.row(p.GetName(), u(p.GetFibId()), state, u(p.GetMtu()), p.GetMac(), backend, rpf,
					u(c.GetRxPackets()), u(c.GetTxPackets()), u(c.GetDropped()), ioRxTx(p.GetIoCounters()),
					orDash(strings.Join(p.GetAddresses(), ",")))
			}
			return t.flush()
		},
	}
	showFIB.register(show, "only ports of this FIB")
	var rpf string
	var allowSR bool
	set := &cobra.Command{
		Use:   "set PORT [--rpf off|loose|strict] [--allow-source-route=true|false]",
		Short: "Set a port's edge filters: uRPF (RFC 3704) and IPv4 source routes",
		Long: `Set a port's edge filters. --rpf strict drops a packet unless the route back
to its source leaves through the port it came in on (any ECMP member counts);
loose drops it unless its source has a route that forwards (not blackhole,
unreachable or unresolved); off checks nothing. Turn strict on for every
customer-facing port (BCP 38). IPv4 packets with a loose or strict
source-route option are dropped unless --allow-source-route. Drops are
counted per port ("rpf", "source-route" in fibctl stats). Flags not given
keep their value.`,
		Example: "  fibctl port set eth1.100 --rpf strict",
		Args:    cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, s string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return a.completePorts(cmd, args, s)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &fibdpb.SetPortSettingsRequest{Port: args[0]}
			if cmd.Flags().Changed("rpf") {
				m, ok := map[string]fibdpb.RPFMode{"off": fibdpb.RPFMode_RPF_MODE_OFF, "loose": fibdpb.RPFMode_RPF_MODE_LOOSE,
					"strict": fibdpb.RPFMode_RPF_MODE_STRICT}[rpf]
				if !ok {
					return fmt.Errorf("--rpf %q: want off, loose or strict", rpf)
				}
				req.Rpf = m
			}
			if cmd.Flags().Changed("allow-source-route") {
				req.AllowSourceRoute = &allowSR
			}
			if req.Rpf == fibdpb.RPFMode_RPF_MODE_UNSPECIFIED && req.AllowSourceRoute == nil {
				return fmt.Errorf("nothing to set: give --rpf or --allow-source-route")
			}
			ctx, cancel, cl, err := a.dial()
			if err != nil {
				return err
			}
			defer cancel()
			resp, err := cl.SetPortSettings(ctx, req)
			if err != nil {
				return err
			}
			st := resp.GetPort().GetSettings()
			_, err = fmt.Fprintf(a.out, "port %s: rpf %s, allow-source-route %v\n", resp.GetPort().GetName(),
				strings.ToLower(enumText(st.GetRpf(), "RPF_MODE_")), st.GetAllowSourceRoute())
			return err
		},
	}
	set.Flags().StringVar(&rpf, "rpf", "", "reverse-path check: off, loose or strict")
	_ = set.RegisterFlagCompletionFunc("rpf", cobra.FixedCompletions([]string{"off", "loose", "strict"}, cobra.ShellCompDirectiveNoFileComp))
	set.Flags().BoolVar(&allowSR, "allow-source-route", false, "forward IPv4 packets with source-route options")
	c.AddCommand(bind, unbind, a.withCompletion(set), addJSON(a, show))
	return c
}

// ioRxTx shows the backend's own receive and transmit packet counters
// (xdp_rx_packets/xdp_tx_packets or afpacket_rx_frames/afpacket_tx_frames),
// the proof of which path moved the packets.
func ioRxTx(io map[string]uint64) string {
	for _, k := range [][2]string{{"xdp_rx_packets", "xdp_tx_packets"}, {"afpacket_rx_frames", "afpacket_tx_frames"}} {
		if rx, ok := io[k[0]]; ok {
			return fmt.Sprintf("%d/%d", rx, io[k[1]])
		}
	}
	return "-"
}

// parseTPID reads --tpid: 0x8100 or 0x88a8 (hex with or without 0x, or
// the names 802.1q and 802.1ad).
func parseTPID(s string) (uint32, error) {
	switch strings.ToLower(strings.TrimPrefix(strings.ToLower(s), "0x")) {
	case "8100", "802.1q":
		return 0x8100, nil
	case "88a8", "802.1ad":
		return 0x88a8, nil
	}
	return 0, fmt.Errorf("--tpid %q: want 0x8100 (802.1Q) or 0x88a8 (802.1ad)", s)
}
