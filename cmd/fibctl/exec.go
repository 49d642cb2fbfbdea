package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/dataplane/hoststack"
)

// newExecCmd is `fibctl exec --fib N -- CMD ARGS…`: CMD runs with its
// network in FIB N's host namespace, as `ip netns exec` runs it in a
// namespace, and fibctl's exit status is CMD's (fibctl becomes CMD).
func newExecCmd(a *app) *cobra.Command {
	var f fibRef
	c := &cobra.Command{
		Use:   "exec --fib FIB -- CMD [ARG...]",
		Short: "Run a program with its network in a FIB (its host stack: fibctl fib set FIB --host on)",
		Long: "Run CMD with its network in FIB's host namespace: its sockets use the FIB's addresses and reach\n" +
			"the FIB's customers, and only them. Like `ip netns exec`, CMD also gets a mount namespace of its own\n" +
			"with /sys showing the namespace's interfaces and each file of /etc/netns/NAMESPACE bound over\n" +
			"/etc (a resolv.conf per FIB). fibctl becomes CMD: the exit status and signals are CMD's. Any\n" +
			"unmodified program works: an HTTP server, sshd, FRR's bgpd, gobgpd, ping, traceroute.\n\n" +
			"fibd names the namespace (fibctl fib show FIB); when fibd cannot be reached and FIB is an ID,\n" +
			"the default name (fibd-fibN, or $" + hoststack.PrefixEnv + "N) is used if it exists.",
		Example: `  fibctl exec --fib 10 -- python3 -m http.server --bind 192.0.2.1 80
  fibctl exec --fib customer-a -- ping -c 3 192.0.2.10
  fibctl exec --fib 10 -- bgpd -f /etc/frr/fib10.conf`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, err := a.hostNamespace(&f)
			if err != nil {
				return err
			}
			code, err := execIn(ns, args)
			if err != nil {
				fmt.Fprintln(a.errOut, "fibctl exec:", err)
			}
			os.Exit(code)
			return nil
		},
	}
	c.Flags().SetInterspersed(false)
	f.register(c, "the FIB to run CMD in")
	f.require(c)
	return c
}

// hostNamespace returns the host namespace of the FIB f names.
func (a *app) hostNamespace(f *fibRef) (hoststack.Namespace, error) {
	id, err := a.fibID(f)
	if err != nil {
		if v, perr := parseFIB(f.raw); perr == nil {
			if ns := hoststack.In(v); nsExists(ns) {
				fmt.Fprintf(a.errOut, "fibctl exec: fibd unreachable; using %s\n", ns)
				return ns, nil
			}
		}
		return "", err
	}
	ctx, cancel, cl, err := a.dial()
	if err != nil {
		return "", err
	}
	defer cancel()
	stream, err := cl.ListFibs(ctx, &fibdpb.ListFibsRequest{FibId: &id})
	if err != nil {
		if ns := hoststack.In(id); nsExists(ns) {
			fmt.Fprintf(a.errOut, "fibctl exec: fibd unreachable (%s); using %s\n", describe(err, a), ns)
			return ns, nil
		}
		return "", err
	}
	var fib *fibdpb.Fib
	err = recvAll(stream.Recv, func(r *fibdpb.ListFibsResponse) {
		if fs := r.GetFibs(); len(fs) > 0 {
			fib = fs[0]
		}
	})
	if err != nil {
		return "", err
	}
	h := fib.GetHost()
	switch {
	case h == nil:
		return "", fmt.Errorf("fib %d has no host stack: turn it on with `fibctl fib set %s --host on`", id, f.raw)
	case h.GetNamespace() == "":
		return "", fmt.Errorf("fib %d's host stack is not running: %s", id, h.GetError())
	case h.GetError() != "":
		fmt.Fprintf(a.errOut, "fibctl exec: warning: fib %d's host stack: %s\n", id, h.GetError())
	}
	return hoststack.Namespace(h.GetNamespace()), nil
}

func nsExists(ns hoststack.Namespace) bool {
	_, err := os.Stat(ns.Path())
	return err == nil
}
