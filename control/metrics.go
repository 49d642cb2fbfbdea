package control

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Metrics is fibd's Prometheus registry (client_golang): fibd's own series,
// read from the Server at each scrape (serverCollector), the process and Go
// runtime collectors, and per-RPC counters and latencies filled by gRPC
// interceptors. The names are documented in control/README.md; counters
// end in _total.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers s's metrics in a new registry.
func NewMetrics(s *Server) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fibd_grpc_requests_total",
			Help: "gRPC calls handled, by method and status code (streams count once, when they end).",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fibd_grpc_request_duration_seconds",
			Help:    "Time to handle a unary gRPC call, by method.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 4, 10), // 50 µs … 13 s
		}, []string{"method"}),
	}
	m.reg.MustRegister(m.requests, m.latency, serverCollector{s},
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	return m
}

// Handler serves /metrics, in the OpenMetrics format to scrapers that ask
// for it and the Prometheus text format to the rest.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// ServerOptions are the interceptors that count every RPC.
func (m *Metrics) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			start := time.Now()
			resp, err := h(ctx, req)
			m.latency.WithLabelValues(info.FullMethod).Observe(time.Since(start).Seconds())
			m.requests.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
			return resp, err
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			err := h(srv, ss)
			m.requests.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
			return err
		}),
	}
}

// MetricsHandler serves s's metrics from a registry of their own; fibd
// uses NewMetrics to count RPCs too.
func (s *Server) MetricsHandler() http.Handler { return NewMetrics(s).Handler() }

// serverCollector reads fibd's state at each scrape: nothing is kept
// twice, so the series can never drift from what the API shows.
type serverCollector struct{ s *Server }

var (
	descInfo       = prometheus.NewDesc("fibd_info", "Instance information; the value is always 1.", []string{"version", "dataplane", "epoch"}, nil)
	descStart      = prometheus.NewDesc("fibd_start_time_seconds", "Start time of this instance, Unix seconds.", nil, nil)
	descSaveOK     = prometheus.NewDesc("fibd_state_save_ok", "1 if the last save of the state file worked.", nil, nil)
	descRoutes     = prometheus.NewDesc("fibd_fib_routes", "Routes in a FIB by family (each source's route counts).", []string{"fib", "family"}, nil)
	descSrcRoutes  = prometheus.NewDesc("fibd_fib_source_routes", "Routes of one source in a FIB by family.", []string{"fib", "source", "family"}, nil)
	descLimit      = prometheus.NewDesc("fibd_fib_route_limit", "A FIB's route limit by family (0: unlimited).", []string{"fib", "family"}, nil)
	descWarnings   = prometheus.NewDesc("fibd_fib_limit_warnings_total", "Times a route count reached its limit's warning threshold (source \"\": the FIB's own limit).", []string{"fib", "family", "source"}, nil)
	descNeighbors  = prometheus.NewDesc("fibd_fib_neighbors", "Neighbours in a FIB by family.", []string{"fib", "family"}, nil)
	descBatches    = prometheus.NewDesc("fibd_fib_version_total", "Route batches published in a FIB (its version).", []string{"fib"}, nil)
	descGroups     = prometheus.NewDesc("fibd_nexthop_groups", "Next-hop groups in a FIB.", []string{"fib"}, nil)
	descModify     = prometheus.NewDesc("fibd_modify_batches_total", "ModifyRoutes batches, by result (applied, refused).", []string{"result"}, nil)
	descResyncs    = prometheus.NewDesc("fibd_resyncs_total", "Resyncs ended (their sweeps run).", nil, nil)
	descFlushes    = prometheus.NewDesc("fibd_flushes_total", "Sources flushed by a session's end (DISCONNECT_POLICY_FLUSH).", nil, nil)
	descGroupOps   = prometheus.NewDesc("fibd_nexthop_group_ops_total", "Next-hop group sets and deletes.", nil, nil)
	descWatchers   = prometheus.NewDesc("fibd_route_watchers", "Open WatchRoutes streams.", nil, nil)
	descDropped    = prometheus.NewDesc("fibd_route_watchers_dropped_total", "WatchRoutes streams ended for falling behind.", nil, nil)
	descPortUp     = prometheus.NewDesc("fibd_port_up", "1 if the port forwards, 0 if it is down (the API says why).", []string{"port", "fib"}, nil)
	descUnknownTag = prometheus.NewDesc("fibd_interface_unknown_tag_frames_total", "Frames that arrived with tags no port is bound to, by kind (vlan: untagged or one tag; qinq: two).", []string{"interface", "kind"}, nil)
	descRxErrors   = prometheus.NewDesc("fibd_interface_rx_errors_total", "Receive calls of the packet I/O that failed.", []string{"interface"}, nil)
	descSessions   = prometheus.NewDesc("fibd_sessions", "Open ModifyRoutes sessions by source.", []string{"source"}, nil)
	descHostUp     = prometheus.NewDesc("fibd_host_stack_up", "1 if the FIB's host stack works, 0 if it has an error (the API says which).", []string{"fib", "netns"}, nil)
	descHostPkts   = prometheus.NewDesc("fibd_host_stack_packets_total", "Packets through a FIB's host stack, by direction: punted (queued for the host), delivered (written into it), injected (sent by the host, out of a port), queued (waiting for a neighbour), icmp_errors (written back into the host).", []string{"fib", "direction"}, nil)
	descHostDrops  = prometheus.NewDesc("fibd_host_stack_drops_total", "Packets to or from a FIB's host stack dropped, by reason (host-queue-full, host-spoofed, ...).", []string{"fib", "reason"}, nil)
)

// counterDescs are the packet counters, per port and per FIB.
var counterDescs = []struct {
	name, help string
	get        func(Counters) uint64
}{
	{"rx_packets_total", "Packets received.", func(c Counters) uint64 { return c.RxPackets }},
	{"rx_bytes_total", "Bytes received.", func(c Counters) uint64 { return c.RxBytes }},
	{"tx_packets_total", "Packets transmitted.", func(c Counters) uint64 { return c.TxPackets }},
	{"tx_bytes_total", "Bytes transmitted.", func(c Counters) uint64 { return c.TxBytes }},
	{"forwarded_packets_total", "Packets forwarded.", func(c Counters) uint64 { return c.Forwarded }},
	{"dropped_packets_total", "Packets dropped, all reasons.", func(c Counters) uint64 { return c.Dropped }},
}

var (
	portCounterDescs, fibCounterDescs []*prometheus.Desc
	descPortDrops                     = prometheus.NewDesc("fibd_port_drops_total", "Packets dropped by reason.", []string{"port", "fib", "reason"}, nil)
	descFIBDrops                      = prometheus.NewDesc("fibd_fib_drops_total", "Packets dropped by reason.", []string{"fib", "reason"}, nil)
)

func init() {
	for _, c := range counterDescs {
		portCounterDescs = append(portCounterDescs, prometheus.NewDesc("fibd_port_"+c.name, c.help, []string{"port", "fib"}, nil))
		fibCounterDescs = append(fibCounterDescs, prometheus.NewDesc("fibd_fib_"+c.name, c.help, []string{"fib"}, nil))
	}
}

func (serverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descStart, descSaveOK, descRoutes, descSrcRoutes, descLimit, descWarnings,
		descNeighbors, descBatches, descPortUp, descUnknownTag, descRxErrors, descSessions, descPortDrops, descFIBDrops,
		descGroups, descModify, descResyncs, descFlushes, descGroupOps, descWatchers, descDropped,
		descHostUp, descHostPkts, descHostDrops} {
		ch <- d
	}
	for i := range counterDescs {
		ch <- portCounterDescs[i]
		ch <- fibCounterDescs[i]
	}
}

func (c serverCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	in := s.Info()
	emit(descInfo, prometheus.GaugeValue, 1, in.Version, in.Dataplane, strconv.FormatUint(in.Epoch, 10))
	emit(descStart, prometheus.GaugeValue, float64(in.Started.UnixNano())/1e9)
	ok := 1.0
	if in.StateError != "" {
		ok = 0
	}
	emit(descSaveOK, prometheus.GaugeValue, ok)
	cs := &s.counters
	emit(descModify, prometheus.CounterValue, float64(cs.batches.Load()), "applied")
	emit(descModify, prometheus.CounterValue, float64(cs.batchesRefused.Load()), "refused")
	emit(descResyncs, prometheus.CounterValue, float64(cs.resyncs.Load()))
	emit(descFlushes, prometheus.CounterValue, float64(cs.flushes.Load()))
	emit(descGroupOps, prometheus.CounterValue, float64(cs.groupOps.Load()))
	emit(descWatchers, prometheus.GaugeValue, float64(cs.watchers.Load()))
	emit(descDropped, prometheus.CounterValue, float64(cs.watchersDropped.Load()))
	for _, f := range s.reg.List() {
		emit(descGroups, prometheus.GaugeValue, float64(len(f.Groups())), strconv.FormatUint(uint64(f.ID()), 10))
	}

	_ = s.FIBs(nil, func(f FIBInfo) bool {
		id := strconv.FormatUint(uint64(f.ID), 10)
		emit(descRoutes, prometheus.GaugeValue, float64(f.Routes4), id, "ipv4")
		emit(descRoutes, prometheus.GaugeValue, float64(f.Routes6), id, "ipv6")
		emit(descLimit, prometheus.GaugeValue, float64(f.Limits.Routes4), id, "ipv4")
		emit(descLimit, prometheus.GaugeValue, float64(f.Limits.Routes6), id, "ipv6")
		emit(descNeighbors, prometheus.GaugeValue, float64(f.Neighbors4), id, "ipv4")
		emit(descNeighbors, prometheus.GaugeValue, float64(f.Neighbors6), id, "ipv6")
		emit(descBatches, prometheus.CounterValue, float64(f.Version), id)
		for _, sc := range f.Sources {
			emit(descSrcRoutes, prometheus.GaugeValue, float64(sc.Routes4), id, sc.Source, "ipv4")
			emit(descSrcRoutes, prometheus.GaugeValue, float64(sc.Routes6), id, sc.Source, "ipv6")
		}
		return true
	})
	for w, n := range s.LimitWarnings() {
		emit(descWarnings, prometheus.CounterValue, float64(n), strconv.FormatUint(uint64(w.FIB), 10), "ipv"+strconv.Itoa(w.Family), w.Source)
	}
	for _, p := range s.dp.Ports() {
		up := 0.0
		if p.State == "up" {
			up = 1
		}
		emit(descPortUp, prometheus.GaugeValue, up, p.Spec().Name(), strconv.FormatUint(uint64(p.FIB), 10))
	}
	for source, n := range s.SessionCounts() {
		emit(descSessions, prometheus.GaugeValue, float64(n), source)
	}
	for _, h := range s.dp.Hosts() {
		fid := strconv.FormatUint(uint64(h.FIB), 10)
		up := 1.0
		if h.Error != "" {
			up = 0
		}
		emit(descHostUp, prometheus.GaugeValue, up, fid, h.Namespace)
		for _, d := range []struct {
			dir string
			n   uint64
		}{{"punted", h.Punted}, {"delivered", h.Delivered}, {"injected", h.Injected}, {"queued", h.Queued}, {"icmp_errors", h.ICMPErrors}} {
			emit(descHostPkts, prometheus.CounterValue, float64(d.n), fid, d.dir)
		}
		for reason, n := range h.Drops {
			emit(descHostDrops, prometheus.CounterValue, float64(n), fid, reason)
		}
	}

	rep, err := s.Stats(nil)
	if err != nil {
		return
	}
	for _, p := range rep.Ports {
		fid := strconv.FormatUint(uint64(p.FIB), 10)
		for i, cd := range counterDescs {
			emit(portCounterDescs[i], prometheus.CounterValue, float64(cd.get(p.Counters)), p.Name, fid)
		}
		for reason, n := range p.Counters.Drops {
			emit(descPortDrops, prometheus.CounterValue, float64(n), p.Name, fid, reason)
		}
	}
	for _, f := range rep.FIBs {
		fid := strconv.FormatUint(uint64(f.FIB), 10)
		for i, cd := range counterDescs {
			emit(fibCounterDescs[i], prometheus.CounterValue, float64(cd.get(f.Counters)), fid)
		}
		for reason, n := range f.Counters.Drops {
			emit(descFIBDrops, prometheus.CounterValue, float64(n), fid, reason)
		}
	}
	for _, i := range rep.Interfaces {
		emit(descUnknownTag, prometheus.CounterValue, float64(i.UnknownVLAN), i.Interface, "vlan")
		emit(descUnknownTag, prometheus.CounterValue, float64(i.UnknownQinQ), i.Interface, "qinq")
		emit(descRxErrors, prometheus.CounterValue, float64(i.RxErrors), i.Interface)
	}
}
