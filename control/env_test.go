package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/controltest"
	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// env is a Server with fakes behind it, served over a real unix socket,
// and a client connected to it.
type env struct {
	t   *testing.T
	ctx context.Context
	reg *fib.Registry
	dp  *controltest.Dataplane
	nb  *controltest.Neighbors
	srv *control.Server
	svc *control.GRPCService
	c   *client.Conn
}

func newEnv(t *testing.T, limits control.Limits) *env {
	t.Helper()
	e := &env{t: t, ctx: t.Context(), reg: fib.NewRegistry(fib.Options{}),
		dp: controltest.NewDataplane("eth1", "eth2", "eth3"), nb: controltest.NewNeighbors()}
	var err error
	e.srv, err = control.New(control.Options{Registry: e.reg, Dataplane: e.dp, Neighbors: e.nb, Limits: limits, Version: "test", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = control.NewGRPCService(e.srv)
	gs := grpc.NewServer(control.ServerOptions()...)
	e.svc.Register(gs)
	sock := filepath.Join(t.TempDir(), "fibd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	e.c, err = client.Dial(client.Options{Socket: sock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.c.Close() })
	return e
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// fibWithPort creates a FIB with port iface.vlan and address addr on it,
// and returns the port name.
func (e *env) fibWithPort(id uint32, iface string, vlan uint32, addr string) string {
	e.t.Helper()
	if id != 0 {
		_, err := e.c.CreateFib(e.ctx, &fibdpb.CreateFibRequest{FibId: id})
		e.must(err)
	}
	req := &fibdpb.BindPortRequest{Interface: iface, FibId: id}
	if vlan != 0 {
		req.Vlan = &vlan
	}
	resp, err := e.c.BindPort(e.ctx, req)
	e.must(err)
	name := resp.GetPort().GetName()
	if addr != "" {
		_, err = e.c.AddAddress(e.ctx, &fibdpb.AddAddressRequest{Port: name, Prefix: addr})
		e.must(err)
	}
	return name
}

func (e *env) addRoute(id uint32, prefix, source string, paths ...*fibdpb.Path) {
	e.t.Helper()
	_, err := e.c.AddRoute(e.ctx, &fibdpb.AddRouteRequest{Route: &fibdpb.Route{FibId: id, Prefix: prefix, Source: source, Paths: paths}})
	e.must(err)
}

func via(gw string) *fibdpb.Path {
	return &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: gw}
}

// routes lists every route of every FIB.
func (e *env) routes(req *fibdpb.ListRoutesRequest) []*fibdpb.Route {
	e.t.Helper()
	stream, err := e.c.ListRoutes(e.ctx, req)
	e.must(err)
	var out []*fibdpb.Route
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return out
		}
		e.must(err)
		out = append(out, resp.GetRoutes()...)
	}
}

// fingerprint captures everything a request could change: the saved
// configuration, every route of every source, and each FIB's version (a
// refused batch must not even publish).
func (e *env) fingerprint() string {
	e.t.Helper()
	var all struct {
		Config   *control.Config
		Routes   []string
		Versions []uint64
	}
	all.Config = e.srv.Snapshot()
	for _, r := range e.routes(&fibdpb.ListRoutesRequest{}) {
		b, _ := json.Marshal(r)
		all.Routes = append(all.Routes, string(b))
	}
	for _, f := range e.reg.List() {
		all.Versions = append(all.Versions, f.Version())
	}
	b, err := json.Marshal(all)
	e.must(err)
	return string(b)
}

func codeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var be *client.BatchError
	if errors.As(err, &be) {
		return be.Code()
	}
	return status.Code(err)
}

func protoSize(m proto.Message) int { return proto.Size(m) }

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func netipAddr4(a, b, c, d byte) string { return netip.AddrFrom4([4]byte{a, b, c, d}).String() }

func adjKey(e *env, fibID uint32, port, addr string) adj.Key {
	e.t.Helper()
	id, err := e.srv.PortID(port)
	e.must(err)
	return adj.Key{FIB: adj.FIBID(fibID), Port: id, Addr: netip.MustParseAddr(addr)}
}
