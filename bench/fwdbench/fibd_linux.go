package fwdbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/backend"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// FIBD returns fibd's own dataplane as a forwarder under test, on packet
// I/O kind (backend.AFPacket or backend.XDP). It is configured like a user
// would configure fibd: FIB 10 with both ports and their addresses, the
// sink as a static neighbour, and a route for the benchmark range via the
// sink. With fullTable, FIB 10 also holds the full IPv4 table plus ≥ 64k
// benchmark routes spread over 198.18.0.0/15 with a realistic mix of
// lengths, and FIB 20 (on VLAN 20 of the ingress interface) holds the full
// table too, so the lookups run against two full FIBs' worth of memory.
func FIBD(kind string, fullTable bool, log *slog.Logger) Forwarder {
	return FIBDWorkers(kind, fullTable, 0, log)
}

// FIBDWorkers is FIBD with workers RX workers per interface
// (dataplane.Config.Workers; 0 is fibd's default).
func FIBDWorkers(kind string, fullTable bool, workers int, log *slog.Logger) Forwarder {
	return fibdWith(kind, fullTable, workers, false, log)
}

// FIBDFastPath is FIBD on AF_XDP with the in-kernel fast path on (fast)
// or off, as fibd's --fast-path sets it. Ready waits until the fast
// path's tables hold the whole configuration.
func FIBDFastPath(fullTable, fast bool, log *slog.Logger) Forwarder {
	return fibdWith(backend.XDP, fullTable, 0, fast, log)
}

func fibdWith(kind string, fullTable bool, workers int, fast bool, log *slog.Logger) Forwarder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, env *Env) error {
		links, err := backend.NewLinks(false)
		if err != nil {
			return err
		}
		defer links.Close()
		cfg := dataplane.Config{Links: links, Logger: log, Workers: workers}
		var fp *backend.FastPath
		if fast {
			if fp, err = backend.NewFastPath(); err != nil {
				return err
			}
			defer fp.Close()
			cfg.FastPath = fp
		}
		if cfg.Open, err = backend.OpenerFast(kind, log, fp); err != nil {
			return err
		}
		reg := fib.NewRegistry(fib.Options{})
		cfg.Registry = reg
		e, err := dataplane.New(cfg)
		if err != nil {
			return err
		}
		defer e.Close()
		if err := configure(reg, e, env, fullTable); err != nil {
			return err
		}
		if fast {
			if !e.WaitFastPath(5 * time.Minute) {
				return errors.New("fwdbench: the fast path's tables did not catch up in 5 min")
			}
			if st := e.FastPath(); len(st.Interfaces) < 2 {
				return fmt.Errorf("fwdbench: the fast path runs on %v, want both ports (native XDP)", st.Interfaces)
			}
		}
		env.Ready()
		<-ctx.Done()
		return nil
	}
}

func configure(reg *fib.Registry, e *dataplane.Engine, env *Env, fullTable bool) error {
	f10, err := reg.Create(10)
	if err != nil {
		return err
	}
	in, err := e.BindPort(dataplane.PortSpec{Interface: env.In}, 10)
	if err != nil {
		return err
	}
	out, err := e.BindPort(dataplane.PortSpec{Interface: env.Out}, 10)
	if err != nil {
		return err
	}
	if err := f10.AddAddress(in, netip.PrefixFrom(RouterIn, SrcPrefix.Bits())); err != nil {
		return err
	}
	if err := f10.AddAddress(out, netip.PrefixFrom(RouterOut, SinkPrefix.Bits())); err != nil {
		return err
	}
	if err := e.Neighbors().AddStatic(adj.Key{FIB: 10, Port: out, Addr: env.NextHop}, env.NextHopMAC); err != nil {
		return err
	}
	toSink := []fib.Path{{Kind: fib.PathGateway, Gateway: env.NextHop, Port: out}}
	if err := f10.Add(fib.Route{Prefix: env.Dests, Source: "static", Preference: fib.PrefStatic, Paths: toSink}); err != nil {
		return err
	}
	if !fullTable {
		return nil
	}
	v4, err := tables.LoadV4()
	if err != nil {
		return err
	}
	if err := loadTable(f10, v4, out, netip.MustParseAddr("198.51.100.100")); err != nil {
		return err
	}
	bench := benchRoutes(env.Dests, 1)
	changes := make([]fib.Change, len(bench))
	for i, p := range bench {
		changes[i] = fib.Change{Op: fib.OpAdd, Route: fib.Route{Prefix: p, Source: "bench", Preference: fib.PrefEBGP, Paths: toSink}}
	}
	if _, err := f10.Apply(changes); err != nil {
		return err
	}
	f20, err := reg.Create(20)
	if err != nil {
		return err
	}
	p20, err := e.BindPort(dataplane.PortSpec{Interface: env.In, VLAN: 20}, 20)
	if err != nil {
		return err
	}
	if err := f20.AddAddress(p20, netip.MustParsePrefix("203.0.113.1/24")); err != nil {
		return err
	}
	return loadTable(f20, v4, p20, netip.MustParseAddr("203.0.113.100"))
}

// loadTable installs a route table with its 16 next hops as gateways
// first, first+1, … on port p.
func loadTable(f *fib.FIB, routes []tables.Route, p adj.PortID, first netip.Addr) error {
	hops := make([][]fib.Path, tables.NextHops)
	gw := first
	for i := range hops {
		hops[i] = []fib.Path{{Kind: fib.PathGateway, Gateway: gw, Port: p}}
		gw = gw.Next()
	}
	changes := make([]fib.Change, len(routes))
	for i, r := range routes {
		changes[i] = fib.Change{Op: fib.OpAdd, Route: fib.Route{Prefix: r.Prefix, Source: "bgp", Preference: fib.PrefEBGP, Paths: hops[r.NextHop]}}
	}
	_, err := f.Apply(changes)
	return err
}

// benchRoutes tiles dests with prefixes of a BGP-like mix of lengths —
// mostly /24, then /22 and /23, some shorter and some longer — in address
// order, deterministically for a seed, so that the generator's destinations
// land on routes of every length.
func benchRoutes(dests netip.Prefix, seed uint64) []netip.Prefix {
	r := rand.New(rand.NewPCG(seed, 3))
	lengths := []struct {
		bits, weight int
	}{{20, 2}, {21, 3}, {22, 12}, {23, 12}, {24, 55}, {25, 4}, {26, 4}, {27, 3}, {28, 3}, {32, 2}}
	total := 0
	for _, l := range lengths {
		total += l.weight
	}
	var out []netip.Prefix
	a := dests.Addr()
	end := lastAddrOf(dests)
	for dests.Contains(a) {
		x := r.IntN(total)
		bits := 24
		for _, l := range lengths {
			if x < l.weight {
				bits = l.bits
				break
			}
			x -= l.weight
		}
		// The block must be aligned where it starts.
		p := netip.PrefixFrom(a, bits)
		for p.Masked().Addr() != a {
			bits++
			p = netip.PrefixFrom(a, bits)
		}
		out = append(out, p)
		last := lastAddrOf(p)
		if last == end {
			break
		}
		a = last.Next()
	}
	return out
}

func lastAddrOf(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
