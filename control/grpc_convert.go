package control

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// ParsePrefix parses a route prefix the API way: CIDR text, no zone, host
// bits zero (refused, not masked: the sender most likely meant something
// else). field names the request field in the error.
func ParsePrefix(field, s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, &FieldError{Field: field, Value: s, Err: err}
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fieldErr(field, s, "IPv4-mapped prefix shorter than /96")
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fieldErr(field, s, "host bits set (did you mean %v?)", m)
	}
	return p, nil
}

// ParseInterfaceAddress parses an interface address with its subnet
// length ("192.0.2.1/24"): host bits are expected here.
func ParseInterfaceAddress(field, s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, &FieldError{Field: field, Value: s, Err: err}
	}
	return p, nil
}

// ParseAddr parses an IP address without a zone.
func ParseAddr(field, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, &FieldError{Field: field, Value: s, Err: err}
	}
	if a.Zone() != "" {
		return netip.Addr{}, fieldErr(field, s, "give the port, not a zone")
	}
	return a.Unmap(), nil
}

func parsePreference(field string, v uint32, def fib.Preference) (fib.Preference, error) {
	switch {
	case v == 0:
		return def, nil
	case v > 255:
		return 0, fieldErr(field, strconv.FormatUint(uint64(v), 10), "preference must be in 1-255")
	}
	return fib.Preference(v), nil
}

var pathKinds = map[fibdpb.PathKind]fib.PathKind{
	fibdpb.PathKind_PATH_KIND_GATEWAY:     fib.PathGateway,
	fibdpb.PathKind_PATH_KIND_ATTACHED:    fib.PathAttached,
	fibdpb.PathKind_PATH_KIND_BLACKHOLE:   fib.PathBlackhole,
	fibdpb.PathKind_PATH_KIND_UNREACHABLE: fib.PathUnreachable,
	fibdpb.PathKind_PATH_KIND_PROHIBIT:    fib.PathProhibit,
	fibdpb.PathKind_PATH_KIND_LOCAL:       fib.PathLocal,
	fibdpb.PathKind_PATH_KIND_LOOKUP:      fib.PathLookup,
	fibdpb.PathKind_PATH_KIND_GROUP:       fib.PathGroup,
}

var pathKindsPB = func() map[fib.PathKind]fibdpb.PathKind {
	m := map[fib.PathKind]fibdpb.PathKind{}
	for k, v := range pathKinds {
		m[v] = k
	}
	return m
}()

// pathFromPB converts one path. is4, when known (a unary route), lets a
// gateway of the wrong family be named by its field here rather than by
// fib's message.
func (g *GRPCService) pathFromPB(field string, p *fibdpb.Path, is4 *bool) (fib.Path, error) {
	kind, ok := pathKinds[p.GetKind()]
	if !ok {
		return fib.Path{}, fieldErr(field+".kind", p.GetKind().String(), "unknown path kind")
	}
	out := fib.Path{Kind: kind, Weight: p.GetWeight()}
	switch kind {
	case fib.PathGateway:
		gw, err := ParseAddr(field+".gateway", p.GetGateway())
		if err != nil {
			return fib.Path{}, err
		}
		if is4 != nil && gw.Is4() != *is4 {
			return fib.Path{}, fieldErr(field+".gateway", p.GetGateway(), "gateway is not of the prefix's address family")
		}
		out.Gateway = gw
	case fib.PathLookup:
		out.FIB = adj.FIBID(p.GetFibId())
	case fib.PathGroup:
		if p.GetGroupId() == 0 {
			return fib.Path{}, fieldErr(field+".group_id", "0", "a group path names a group (IDs start at 1)")
		}
		out.Group = p.GetGroupId()
	}
	if kind != fib.PathGroup && p.GetGroupId() != 0 {
		return fib.Path{}, fieldErr(field+".group_id", strconv.FormatUint(uint64(p.GetGroupId()), 10), "only group paths name a group")
	}
	if kind != fib.PathGateway && p.GetGateway() != "" {
		return fib.Path{}, fieldErr(field+".gateway", p.GetGateway(), "only gateway paths have a gateway")
	}
	if kind != fib.PathGateway && p.GetWeight() != 0 {
		return fib.Path{}, fieldErr(field+".weight", strconv.FormatUint(uint64(p.GetWeight()), 10), "only gateway paths have a weight")
	}
	if p.GetPort() != "" {
		id, err := g.s.PortID(p.GetPort())
		if err != nil {
			return fib.Path{}, err
		}
		out.Port = id
	}
	return out, nil
}

// routeFromPB converts a unary request's route.
func (g *GRPCService) routeFromPB(r *fibdpb.Route, withPaths bool) (adj.FIBID, fib.Route, error) {
	if r == nil {
		return 0, fib.Route{}, fieldErr("route", "", "missing")
	}
	p, err := ParsePrefix("route.prefix", r.GetPrefix())
	if err != nil {
		return 0, fib.Route{}, err
	}
	if err := checkSource("route.source", r.GetSource()); err != nil {
		return 0, fib.Route{}, err
	}
	out := fib.Route{Prefix: p, Source: r.GetSource()}
	if out.Preference, err = parsePreference("route.preference", r.GetPreference(), DefaultPreference(r.GetSource())); err != nil {
		return 0, fib.Route{}, err
	}
	if !withPaths {
		return adj.FIBID(r.GetFibId()), out, nil
	}
	if len(r.GetPaths()) == 0 {
		return 0, fib.Route{}, fieldErr("route.paths", "", "a route needs at least one path")
	}
	is4 := p.Addr().Is4()
	for i, pp := range r.GetPaths() {
		path, err := g.pathFromPB(fmt.Sprintf("route.paths[%d]", i), pp, &is4)
		if err != nil {
			return 0, fib.Route{}, err
		}
		out.Paths = append(out.Paths, path)
	}
	return adj.FIBID(r.GetFibId()), out, nil
}

func (g *GRPCService) pathToPB(p fib.Path) *fibdpb.Path {
	out := &fibdpb.Path{Kind: pathKindsPB[p.Kind], Port: g.s.PortName(p.Port), FibId: uint32(p.FIB), GroupId: p.Group}
	if p.Kind == fib.PathGateway {
		out.Gateway = p.Gateway.String()
		out.Weight = p.Weight
	}
	return out
}

func (g *GRPCService) routeToPB(id adj.FIBID, ri fib.RouteInfo) *fibdpb.Route {
	r := &fibdpb.Route{FibId: uint32(id), Prefix: ri.Prefix.String(), Source: ri.Source,
		Preference: uint32(ri.Preference), Best: ri.Best}
	if ri.Next != nil {
		r.Resolution = resolutionToPB(ri.Next.Kind.String())
	}
	r.Paths = make([]*fibdpb.Path, len(ri.Paths))
	for i, p := range ri.Paths {
		r.Paths[i] = g.pathToPB(p)
	}
	return r
}

func countersToPB(c Counters) *fibdpb.Counters {
	return &fibdpb.Counters{RxPackets: c.RxPackets, RxBytes: c.RxBytes, TxPackets: c.TxPackets, TxBytes: c.TxBytes,
		Forwarded: c.Forwarded, Dropped: c.Dropped, Drops: c.Drops, Local: c.Local, NeighborQueued: c.NeighborQueued,
		TxDropped: c.TxDropped, FastPathForwarded: c.FastPathForwarded}
}

func (g *GRPCService) neighborToPB(n NeighborInfo) *fibdpb.Neighbor {
	return &fibdpb.Neighbor{FibId: uint32(n.Key.FIB), Port: g.s.PortName(n.Key.Port), Address: n.Key.Addr.String(),
		Mac: n.MAC.String(), NudState: neighborStateToPB(n.State), Static: n.Static, Updated: timestamp(n.Updated)}
}

// enumOf maps a domain name ("gateway", "reachable") to the proto enum
// value named PREFIX_NAME, UNSPECIFIED (0) for a name the enum lacks —
// which TestEnumsCoverTheDomain rules out.
func enumOf(prefix, name string, values map[string]int32) int32 {
	return values[prefix+strings.ToUpper(name)]
}

func resolutionToPB(name string) fibdpb.Resolution {
	return fibdpb.Resolution(enumOf("RESOLUTION_", name, fibdpb.Resolution_value))
}

func neighborStateToPB(name string) fibdpb.NeighborState {
	return fibdpb.NeighborState(enumOf("NEIGHBOR_STATE_", name, fibdpb.NeighborState_value))
}

func portStateToPB(name string) fibdpb.PortState {
	return fibdpb.PortState(enumOf("PORT_STATE_", name, fibdpb.PortState_value))
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func optFIB(v *uint32) *adj.FIBID {
	if v == nil {
		return nil
	}
	id := adj.FIBID(*v)
	return &id
}
