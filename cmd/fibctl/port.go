package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

func newPortCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "port", Short: "Ports (an interface or interface.VLAN) bound to FIBs: bind, unbind, show"}
	var vlan uint32
	var fibID uint32
	bind := &cobra.Command{
		Use:   "bind INTERFACE [--vlan ID] --fib ID",
		Short: "Bind an interface, or one VLAN of it, to a FIB (like `ip link set DEV master VRF`)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &fibdpb.BindPortRequest{Interface: args[0], FibId: fibID}
			if cmd.Flags().Changed("vlan") {
				req.Vlan = &vlan
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
			_, err = a.out.Write([]byte("port " + p.GetName() + " bound to fib " + u(p.GetFibId()) + "\n"))
			return err
		},
	}
	bind.Flags().Uint32Var(&vlan, "vlan", 0, "802.1Q VLAN ID (1-4094); omit for the untagged interface")
	bind.Flags().Uint32Var(&fibID, "fib", 0, "FIB to bind to")
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
	var showFIB fibFlag
	show := &cobra.Command{
		Use:     "show [PORT]",
		Aliases: []string{"list", "ls"},
		Short:   "List ports: FIB, state, MTU, MAC, addresses, counters",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &fibdpb.ListPortsRequest{FibId: showFIB.ptr()}
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
			t := newTable(a.out, "PORT", "FIB", "STATE", "MTU", "MAC", "BACKEND", "RX", "TX", "DROPPED", "IO-RX/TX", "ADDRESSES")
			for _, p := range ports {
				c := p.GetCounters()
				t.row(p.GetName(), u(p.GetFibId()), p.GetState(), u(p.GetMtu()), p.GetMac(), p.GetBackend(),
					u(c.GetRxPackets()), u(c.GetTxPackets()), u(c.GetDropped()), ioRxTx(p.GetIoCounters()),
					orDash(strings.Join(p.GetAddresses(), ",")))
			}
			return t.flush()
		},
	}
	showFIB.register(show, "only ports of this FIB")
	c.AddCommand(bind, unbind, addJSON(a, show))
	return c
}

// fibFlag is an optional --fib.
type fibFlag struct {
	set bool
	id  uint32
	cmd *cobra.Command
}

func (f *fibFlag) register(c *cobra.Command, usage string) {
	f.cmd = c
	c.Flags().Uint32Var(&f.id, "fib", 0, usage)
}

func (f *fibFlag) ptr() *uint32 {
	if f.cmd != nil && f.cmd.Flags().Changed("fib") {
		id := f.id
		return &id
	}
	return nil
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
