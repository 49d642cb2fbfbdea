// Command fibctl is the admin's command line for fibd, shaped after
// iproute2:
//
//	fibctl fib add 10
//	fibctl port bind eth1 --vlan 100 --fib 10
//	fibctl addr add 192.0.2.1/24 dev eth1.100
//	fibctl route add 198.51.100.0/24 via 192.0.2.2 --fib 10
//	fibctl route show --fib 10
//	fibctl route get 198.51.100.7 --fib 10
//	fibctl route load table.txt.gz --fib 10 --via 192.0.2.2
//	fibctl neigh show
//	fibctl stats
//	fibctl watch neigh
//
// Every show takes --json. Errors go to stderr and the exit status is 1.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/control/client"
)

// app is what every command shares: the connection options, output
// settings and the lazily opened connection. One per process run; no
// package globals.
type app struct {
	opts    client.Options
	json    bool
	timeout time.Duration
	out     io.Writer
	errOut  io.Writer
	conn    *client.Conn
}

// client connects on first use.
func (a *app) client() (*client.Conn, error) {
	if a.conn == nil {
		c, err := client.Dial(a.opts)
		if err != nil {
			return nil, err
		}
		a.conn = c
	}
	return a.conn, nil
}

// ctx bounds a unary call or a listing by --timeout.
func (a *app) ctx() (context.Context, context.CancelFunc) {
	if a.timeout <= 0 {
		return context.WithCancel(context.Background())
	}
	return context.WithTimeout(context.Background(), a.timeout)
}

// dial connects and bounds one unary call or listing by --timeout; the
// caller defers cancel.
func (a *app) dial() (context.Context, context.CancelFunc, *client.Conn, error) {
	cl, err := a.client()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := a.ctx()
	return ctx, cancel, cl, nil
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "fibctl",
		Short:         "Configure and inspect fibd, the multi-FIB software router",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.opts.Socket, "socket", envOr("FIBD_SOCKET", client.DefaultSocket), "fibd's unix socket ($FIBD_SOCKET)")
	pf.StringVar(&a.opts.Addr, "addr", os.Getenv("FIBD_ADDR"), "fibd's TCP address host:port, with mutual TLS ($FIBD_ADDR)")
	pf.StringVar(&a.opts.CAFile, "tls-ca", "", "CA certificate (PEM) that signed fibd's certificate")
	pf.StringVar(&a.opts.CertFile, "tls-cert", "", "client certificate (PEM)")
	pf.StringVar(&a.opts.KeyFile, "tls-key", "", "client private key (PEM)")
	pf.StringVar(&a.opts.ServerName, "tls-server-name", "", "name in fibd's certificate (default: the host of --addr)")
	pf.DurationVar(&a.timeout, "timeout", 30*time.Second, "give up on a command after this long (0: never)")
	root.AddCommand(newFIBCmd(a), newPortCmd(a), newAddrCmd(a), newRouteCmd(a), newNeighCmd(a),
		newStatsCmd(a), newWatchCmd(a), newInfoCmd(a), newResyncCmd(a), newNexthopCmd(a), newExecCmd(a), newFeedCmd(a))
	root.AddCommand(newManCmd(root))
	return root
}

// addJSON adds --json to a show command.
func addJSON(a *app, c *cobra.Command) *cobra.Command {
	c.Flags().BoolVar(&a.json, "json", false, "print JSON instead of a table")
	return c
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	a := &app{out: os.Stdout, errOut: os.Stderr}
	err := newRoot(a).Execute()
	if a.conn != nil {
		a.conn.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fibctl:", describe(err, a))
		os.Exit(1)
	}
}

// describe turns an error into one clear line: a gRPC status becomes its
// message with the code in words, an unreachable fibd says where it was
// looked for.
func describe(err error, a *app) string {
	st, ok := status.FromError(err)
	if !ok {
		var be *client.BatchError
		if errors.As(err, &be) {
			return fmt.Sprintf("%s (%s)", be.Error(), strings.ToLower(be.Code().String()))
		}
		return err.Error()
	}
	switch st.Code() {
	case codes.Unavailable:
		return unreachable(a, st.Message())
	case codes.Unknown:
		return st.Message()
	}
	return fmt.Sprintf("%s (%s)", st.Message(), words(st.Code()))
}

// words spells a status code the way a person reads it.
func words(c codes.Code) string {
	s := c.String()
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}

// enumText shows a proto enum value the way fibctl's tables always have:
// lower case, without the enum's prefix ("RESOLUTION_GATEWAY" → "gateway").
func enumText(v fmt.Stringer, prefix string) string {
	t := strings.TrimPrefix(v.String(), prefix)
	if t == "UNSPECIFIED" {
		return "-"
	}
	return strings.ToLower(t)
}

// group makes c a command group: without a subcommand it shows its help;
// with an unknown one it fails, naming it, with a non-zero exit — scripts
// must not take a typo for success.
func group(c *cobra.Command) *cobra.Command {
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return cmd.Help()
	}
	return c
}

// unreachable says that fibd could not be reached, why in a person's words
// (not gRPC's transport chatter), and what to do about it.
func unreachable(a *app, msg string) string {
	where, hint := a.opts.Socket, "is fibd running? start it (systemctl start fibd), or point fibctl at its socket with --socket PATH or $FIBD_SOCKET"
	if a.opts.Addr != "" {
		where, hint = a.opts.Addr, "is fibd listening there (fibd --listen) and do the certificates match (--tls-ca, --tls-cert, --tls-key)?"
	}
	why := "it did not answer"
	for _, c := range []struct{ in, say string }{
		{"no such file or directory", "no socket there"},
		{"connection refused", "nothing listens there"},
		{"permission denied", "permission denied (fibd's socket is root's, mode 0600)"},
		{"certificate", "the TLS handshake failed (certificate)"},
		{"tls:", "the TLS handshake failed"},
		{"deadline exceeded", "it did not answer in time"},
		{"i/o timeout", "it did not answer in time"},
		{"no route to host", "no route to the host"},
	} {
		if strings.Contains(strings.ToLower(msg), c.in) {
			why = c.say
			break
		}
	}
	return fmt.Sprintf("cannot reach fibd at %s: %s; %s", where, why, hint)
}
