//go:build linux

package control_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/controltest"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/internal/netnstest"
)

// TestDeadPeerEndsItsSessionWithin30s: a daemon connected over TCP
// vanishes — its link drops every frame, no FIN, no RST. fibd's keepalive
// finds it, the session ends and its FLUSH policy removes its routes
// within 30 s (control.DeadPeerDetection is 20 s), while TCP alone would
// take minutes.
func TestDeadPeerEndsItsSessionWithin30s(t *testing.T) {
	netnstest.Require(t)
	t.Parallel()
	srvNS, cliNS := netnstest.New(t, "ka"), netnstest.New(t, "kc")
	srvIf, cliIf := netnstest.Name("k"), netnstest.Name("k")
	netnstest.Veth(t, srvIf, srvNS, cliIf, cliNS)
	srvNS.Exec("ip", "addr", "add", "192.0.2.1/24", "dev", srvIf)
	cliNS.Exec("ip", "addr", "add", "192.0.2.2/24", "dev", cliIf)

	reg := fib.NewRegistry(fib.Options{})
	srv, err := control.New(control.Options{Registry: reg, Dataplane: controltest.NewDataplane("eth1"),
		Neighbors: controltest.NewNeighbors(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f, err := reg.Create(10)
	if err != nil {
		t.Fatal(err)
	}
	// fibd's own server options: its keepalive is what is under test.
	gs := grpc.NewServer(control.ServerOptions()...)
	control.NewGRPCService(srv).Register(gs)
	var ln net.Listener
	if err := srvNS.Do(func() (err error) { ln, err = net.Listen("tcp", "192.0.2.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)

	// A client without keepalive of its own, as a daemon might be.
	cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (c net.Conn, err error) {
			err2 := cliNS.Do(func() error { c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr); return nil })
			if err2 != nil {
				return nil, err2
			}
			return c, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	stream, err := fibdpb.NewFibdServiceClient(cc).ModifyRoutes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	req := &fibdpb.ModifyRoutesRequest{Seq: 1, FibId: 10,
		Session:  &fibdpb.SessionParams{Source: "bgp", FibIds: []uint32{10}, OnDisconnect: fibdpb.DisconnectPolicy_DISCONNECT_POLICY_FLUSH},
		PathSets: []*fibdpb.PathSet{{Paths: []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_BLACKHOLE}}}},
		Ops:      []*fibdpb.RouteOp{addOp("198.51.100.0/24", 0), addOp("203.0.113.0/24", 0)}}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || !resp.GetOk() {
		t.Fatalf("push: %v %v", resp, err)
	}
	present := func() bool {
		return f.Lookup(netip.MustParseAddr("198.51.100.1")).Kind == fib.NextBlackhole
	}
	if !present() {
		t.Fatal("the session's route is not there")
	}

	netnstest.Blackhole(t, cliNS, cliIf)
	cut := time.Now()
	deadline := cut.Add(30 * time.Second)
	for present() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(cut)
	if present() {
		t.Fatalf("the dead peer's session still holds its routes %v after its link went dark", took.Round(time.Second))
	}
	t.Logf("dead peer found and its routes flushed %v after its link went dark (keepalive %v + %v)",
		took.Round(100*time.Millisecond), control.KeepaliveTime, control.KeepaliveTimeout)
}
