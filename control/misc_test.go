package control_test

import (
	"io"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/fibdpb"
)

func TestEveryResponseCarriesTheEpoch(t *testing.T) {
	e := newEnv(t, control.Limits{})
	info, err := e.c.GetInfo(e.ctx, &fibdpb.GetInfoRequest{})
	e.must(err)
	if info.GetEpoch() == 0 || info.GetEpoch() != e.srv.Epoch() || info.GetDataplane() != "fake" || info.GetVersion() != "test" {
		t.Fatalf("info %v", info)
	}
	r1, err := e.c.CreateFib(e.ctx, &fibdpb.CreateFibRequest{FibId: 10})
	e.must(err)
	r2, err := e.c.BindPort(e.ctx, &fibdpb.BindPortRequest{Interface: "eth1", FibId: 10})
	e.must(err)
	r3, err := e.c.GetStats(e.ctx, &fibdpb.GetStatsRequest{})
	e.must(err)
	ls, err := e.c.ListFibs(e.ctx, &fibdpb.ListFibsRequest{})
	e.must(err)
	r4, err := ls.Recv()
	e.must(err)
	for _, ep := range []uint64{r1.GetEpoch(), r2.GetEpoch(), r3.GetEpoch(), r4.GetEpoch()} {
		if ep != info.GetEpoch() {
			t.Fatalf("epoch %d, want %d", ep, info.GetEpoch())
		}
	}
	// A restarted fibd has another.
	if other := newEnv(t, control.Limits{}); other.srv.Epoch() == e.srv.Epoch() {
		t.Fatal("two instances share an epoch")
	}
}

func TestStatsPortsAndMetrics(t *testing.T) {
	e := newEnv(t, control.Limits{})
	e.fibWithPort(10, "eth1", 100, "192.0.2.1/24")
	e.addRoute(10, "198.51.100.0/24", "static", via("192.0.2.2"))
	e.dp.SetCounters("eth1.100", control.Counters{RxPackets: 10, RxBytes: 1000, TxPackets: 7, Forwarded: 7, Dropped: 3,
		Drops: map[string]uint64{"no_route": 2, "ttl_exceeded": 1}})
	e.dp.SetFIBCounters(10, control.Counters{Dropped: 2, Drops: map[string]uint64{"no_route": 2}})

	st, err := e.c.GetStats(e.ctx, &fibdpb.GetStatsRequest{FibId: u32(10)})
	e.must(err)
	if len(st.GetPorts()) != 1 || st.GetPorts()[0].GetPort() != "eth1.100" || st.GetPorts()[0].GetCounters().GetDrops()["ttl_exceeded"] != 1 {
		t.Fatalf("port stats %v", st.GetPorts())
	}
	if len(st.GetFibs()) != 1 || st.GetFibs()[0].GetRoutesV4() != 3 || st.GetFibs()[0].GetCounters().GetDrops()["no_route"] != 2 {
		t.Fatalf("fib stats %v", st.GetFibs())
	}

	lp, err := e.c.ListPorts(e.ctx, &fibdpb.ListPortsRequest{})
	e.must(err)
	resp, err := lp.Recv()
	e.must(err)
	p := resp.GetPorts()[0]
	if p.GetName() != "eth1.100" || p.GetVlan() != 100 || p.GetFibId() != 10 || p.GetMtu() != 1500 || p.GetOperState() != fibdpb.PortState_PORT_STATE_UP ||
		p.GetMac() != "02:00:00:00:00:01" || p.GetCounters().GetRxPackets() != 10 || len(p.GetAddresses()) != 1 || p.GetRxWorkers() != 2 {
		t.Fatalf("port %v", p)
	}

	rec := httptest.NewRecorder()
	e.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`fibd_fib_routes{family="ipv4",fib="10"} 3`,
		`fibd_port_rx_packets_total{fib="10",port="eth1.100"} 10`,
		`fibd_port_drops_total{fib="10",port="eth1.100",reason="ttl_exceeded"} 1`,
		`fibd_fib_drops_total{fib="10",reason="no_route"} 2`,
		"# TYPE fibd_port_rx_packets_total counter",
		`fibd_state_save_ok 1`,
		`fibd_port_up{fib="10",port="eth1.100"} 1`,
		`fibd_fib_route_limit{family="ipv4",fib="10"} 0`,
		"# TYPE go_goroutines gauge",
		"# TYPE process_cpu_seconds_total counter",
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestLimitsShownAndDefaulted(t *testing.T) {
	e := newEnv(t, control.Limits{Routes4: 100, Neighbors: 4})
	_, err := e.c.CreateFib(e.ctx, &fibdpb.CreateFibRequest{FibId: 10, Limits: &fibdpb.Limits{RoutesV6: 50}})
	e.must(err)
	ls, err := e.c.ListFibs(e.ctx, &fibdpb.ListFibsRequest{FibId: u32(10)})
	e.must(err)
	resp, err := ls.Recv()
	e.must(err)
	if l := resp.GetFibs()[0].GetLimits(); l.GetRoutesV4() != 100 || l.GetRoutesV6() != 50 || l.GetNeighbors() != 4 {
		t.Fatalf("limits %v", l)
	}
}

// TestMetricsNegotiateAndCountRPCs: OpenMetrics to a scraper that asks for
// it, and every RPC counted by method and code through the interceptors.
func TestMetricsNegotiateAndCountRPCs(t *testing.T) {
	e := newEnv(t, control.Limits{})
	m := control.NewMetrics(e.srv)
	gs := grpc.NewServer(append(control.ServerOptions(), m.ServerOptions()...)...)
	control.NewGRPCService(e.srv).Register(gs)
	sock := filepath.Join(t.TempDir(), "m.sock")
	ln, err := net.Listen("unix", sock)
	e.must(err)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	c, err := client.Dial(client.Options{Socket: sock})
	e.must(err)
	defer c.Close()
	_, err = c.GetInfo(e.ctx, &fibdpb.GetInfoRequest{})
	e.must(err)
	_, err = c.DeleteFib(e.ctx, &fibdpb.DeleteFibRequest{FibId: 99})
	if status.Code(err) != codes.NotFound {
		t.Fatal(err)
	}

	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0; charset=utf-8")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, req)
	body := rec.Body.String()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") || !strings.HasSuffix(strings.TrimSpace(body), "# EOF") {
		t.Fatalf("OpenMetrics asked for, got %q:\n%s", ct, body)
	}
	for _, want := range []string{
		`fibd_grpc_requests_total{code="OK",method="/fibd.v1.FibdService/GetInfo"} 1`,
		`fibd_grpc_requests_total{code="NotFound",method="/fibd.v1.FibdService/DeleteFib"} 1`,
		`fibd_grpc_request_duration_seconds_count{method="/fibd.v1.FibdService/GetInfo"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
