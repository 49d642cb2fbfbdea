package control

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// MetricsHandler serves the Prometheus text exposition format (version
// 0.0.4) of fibd's counters and gauges. It is written by hand: a few dozen
// series do not need the client library and its dependencies.
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = s.WriteMetrics(w)
	})
}

// WriteMetrics writes every metric in the Prometheus text format.
func (s *Server) WriteMetrics(out io.Writer) error {
	w := bufio.NewWriter(out)
	m := metricWriter{w: w}
	in := s.Info()
	m.family("fibd_info", "gauge", "Instance information; the value is always 1.")
	m.sample("fibd_info", 1, "version", in.Version, "dataplane", in.Dataplane, "epoch", strconv.FormatUint(in.Epoch, 10))
	m.family("fibd_start_time_seconds", "gauge", "Start time of this instance, Unix seconds.")
	m.sample("fibd_start_time_seconds", float64(in.Started.UnixNano())/1e9)
	m.family("fibd_state_save_ok", "gauge", "1 if the last save of the state file worked.")
	ok := 1.0
	if in.StateError != "" {
		ok = 0
	}
	m.sample("fibd_state_save_ok", ok)

	var fibs []FIBInfo
	_ = s.FIBs(nil, func(f FIBInfo) bool { fibs = append(fibs, f); return true })
	m.family("fibd_fib_routes", "gauge", "Routes in a FIB by family (each source's route counts).")
	for _, f := range fibs {
		id := strconv.FormatUint(uint64(f.ID), 10)
		m.sample("fibd_fib_routes", float64(f.Routes4), "fib", id, "family", "ipv4")
		m.sample("fibd_fib_routes", float64(f.Routes6), "fib", id, "family", "ipv6")
	}
	m.family("fibd_fib_neighbors", "gauge", "Neighbours in a FIB by family.")
	for _, f := range fibs {
		id := strconv.FormatUint(uint64(f.ID), 10)
		m.sample("fibd_fib_neighbors", float64(f.Neighbors4), "fib", id, "family", "ipv4")
		m.sample("fibd_fib_neighbors", float64(f.Neighbors6), "fib", id, "family", "ipv6")
	}
	m.family("fibd_fib_version", "counter", "Route batches published in a FIB.")
	for _, f := range fibs {
		m.sample("fibd_fib_version", float64(f.Version), "fib", strconv.FormatUint(uint64(f.ID), 10))
	}

	rep, err := s.Stats(nil)
	if err != nil {
		return err
	}
	type row struct {
		labels []string
		c      Counters
	}
	var ports, fibRows []row
	for _, p := range rep.Ports {
		ports = append(ports, row{[]string{"port", p.Name, "fib", strconv.FormatUint(uint64(p.FIB), 10)}, p.Counters})
	}
	for _, f := range rep.FIBs {
		fibRows = append(fibRows, row{[]string{"fib", strconv.FormatUint(uint64(f.FIB), 10)}, f.Counters})
	}
	for _, scope := range []struct {
		prefix string
		rows   []row
	}{{"fibd_port_", ports}, {"fibd_fib_", fibRows}} {
		for _, c := range []struct {
			name, help string
			get        func(Counters) uint64
		}{
			{"rx_packets_total", "Packets received.", func(c Counters) uint64 { return c.RxPackets }},
			{"rx_bytes_total", "Bytes received.", func(c Counters) uint64 { return c.RxBytes }},
			{"tx_packets_total", "Packets transmitted.", func(c Counters) uint64 { return c.TxPackets }},
			{"tx_bytes_total", "Bytes transmitted.", func(c Counters) uint64 { return c.TxBytes }},
			{"forwarded_packets_total", "Packets forwarded.", func(c Counters) uint64 { return c.Forwarded }},
			{"dropped_packets_total", "Packets dropped, all reasons.", func(c Counters) uint64 { return c.Dropped }},
		} {
			name := scope.prefix + c.name
			m.family(name, "counter", c.help)
			for _, r := range scope.rows {
				m.sample(name, float64(c.get(r.c)), r.labels...)
			}
		}
		name := scope.prefix + "drops_total"
		m.family(name, "counter", "Packets dropped by reason.")
		for _, r := range scope.rows {
			for _, reason := range slices.Sorted(maps.Keys(r.c.Drops)) {
				m.sample(name, float64(r.c.Drops[reason]), append(slices.Clone(r.labels), "reason", reason)...)
			}
		}
	}
	m.family("fibd_interface_unknown_tag_frames_total", "counter",
		"Frames that arrived with tags no port is bound to, by kind (vlan: untagged or one tag; qinq: two).")
	for _, i := range rep.Interfaces {
		m.sample("fibd_interface_unknown_tag_frames_total", float64(i.UnknownVLAN), "interface", i.Interface, "kind", "vlan")
		m.sample("fibd_interface_unknown_tag_frames_total", float64(i.UnknownQinQ), "interface", i.Interface, "kind", "qinq")
	}
	m.family("fibd_interface_rx_errors_total", "counter", "Receive calls of the packet I/O that failed.")
	for _, i := range rep.Interfaces {
		m.sample("fibd_interface_rx_errors_total", float64(i.RxErrors), "interface", i.Interface)
	}
	return w.Flush()
}

type metricWriter struct{ w *bufio.Writer }

func (m metricWriter) family(name, typ, help string) {
	fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one sample; labels are name, value pairs.
func (m metricWriter) sample(name string, v float64, labels ...string) {
	m.w.WriteString(name)
	if len(labels) > 0 {
		m.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				m.w.WriteByte(',')
			}
			m.w.WriteString(labels[i])
			m.w.WriteString(`="`)
			m.w.WriteString(escapeLabel(labels[i+1]))
			m.w.WriteByte('"')
		}
		m.w.WriteByte('}')
	}
	m.w.WriteByte(' ')
	m.w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	m.w.WriteByte('\n')
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
