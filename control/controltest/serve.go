package controltest

import (
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/fib"
)

// Serve runs a real control.Server on this package's fake dataplane (with
// interfaces ifnames) and neighbours behind real gRPC on a unix socket in
// t's temporary directory, and returns a client connected to it: for
// tests of API clients (the routing-daemon feeds) without root. Both end
// with the test.
func Serve(t testing.TB, ifnames ...string) *client.Conn {
	t.Helper()
	srv, err := control.New(control.Options{Registry: fib.NewRegistry(fib.Options{}), Dataplane: NewDataplane(ifnames...),
		Neighbors: NewNeighbors(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(control.ServerOptions()...)
	control.NewGRPCService(srv).Register(gs)
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "fibd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	c, err := client.Dial(client.Options{Socket: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
