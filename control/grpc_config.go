package control

import (
	"context"
	"fmt"

	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/dataplane/portspec"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

func limitsFromPB(l *fibdpb.Limits) Limits {
	if l == nil {
		return Limits{}
	}
	clamp := func(v uint64) int { return int(min(v, 1<<62)) }
	return Limits{Routes4: clamp(l.GetRoutesV4()), Routes6: clamp(l.GetRoutesV6()),
		PerSource: clamp(l.GetRoutesPerSource()), Neighbors: clamp(l.GetNeighbors())}
}

func (g *GRPCService) CreateFib(_ context.Context, req *fibdpb.CreateFibRequest) (*fibdpb.CreateFibResponse, error) {
	set := FIBSettings{Limits: settingsOf(limitsFromPB(req.GetLimits()))}
	if n := req.GetName(); n != "" {
		set.Name = &n
	}
	se, err := applied(g.s.CreateFIB(adj.FIBID(req.GetFibId()), set))
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.CreateFibResponse{Epoch: g.s.Epoch(), StateError: se}, nil
}

func (g *GRPCService) DeleteFib(_ context.Context, req *fibdpb.DeleteFibRequest) (*fibdpb.DeleteFibResponse, error) {
	se, err := applied(g.s.DeleteFIB(adj.FIBID(req.GetFibId())))
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.DeleteFibResponse{Epoch: g.s.Epoch(), StateError: se}, nil
}

func (g *GRPCService) ListFibs(req *fibdpb.ListFibsRequest, stream fibdpb.FibdService_ListFibsServer) error {
	return list(listChunk, func(yield func(*fibdpb.Fib) bool) error {
		return g.s.FIBs(optFIB(req.FibId), func(f FIBInfo) bool {
			return yield(&fibdpb.Fib{FibId: uint32(f.ID), RoutesV4: uint64(f.Routes4), RoutesV6: uint64(f.Routes6),
				NeighborsV4: uint64(f.Neighbors4), NeighborsV6: uint64(f.Neighbors6), Ports: f.Ports, Version: f.Version,
				Limits: &fibdpb.Limits{RoutesV4: uint64(f.Limits.Routes4), RoutesV6: uint64(f.Limits.Routes6),
					RoutesPerSource: uint64(f.Limits.PerSource), Neighbors: uint64(f.Limits.Neighbors)},
				Settings: settingsToPB(f.Settings), Name: f.Name, Sources: sourcesToPB(f.Sources), Host: hostToPB(f.Host)})
		})
	}, func(fibs []*fibdpb.Fib) error {
		return stream.Send(&fibdpb.ListFibsResponse{Epoch: g.s.Epoch(), Fibs: fibs})
	})
}

func (g *GRPCService) BindPort(_ context.Context, req *fibdpb.BindPortRequest) (*fibdpb.BindPortResponse, error) {
	spec := PortSpec{Interface: req.GetInterface()}
	// Range-check before narrowing, so 65636 is refused, not taken for 100.
	if req.Vlan != nil {
		if err := CheckVLAN("vlan", req.GetVlan()); err != nil {
			return nil, toStatus(err)
		}
		spec.VLAN = uint16(req.GetVlan())
	}
	if req.InnerVlan != nil {
		if err := CheckVLAN("inner_vlan", req.GetInnerVlan()); err != nil {
			return nil, toStatus(err)
		}
		spec.Inner = uint16(req.GetInnerVlan())
	}
	if req.OuterTpid != nil {
		t := req.GetOuterTpid()
		if t != portspec.TPID8021Q && t != portspec.TPID8021AD {
			return nil, toStatus(fieldErr("outer_tpid", fmt.Sprintf("%#x", t), "want 0x8100 (802.1Q) or 0x88a8 (802.1ad)"))
		}
		spec.OuterTPID = uint16(t)
	}
	info, err := g.s.BindPort(spec, adj.FIBID(req.GetFibId()))
	se, err := applied(err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.BindPortResponse{Epoch: g.s.Epoch(), Port: g.portToPB(PortDetail{PortInfo: info}), StateError: se}, nil
}

func (g *GRPCService) UnbindPort(_ context.Context, req *fibdpb.UnbindPortRequest) (*fibdpb.UnbindPortResponse, error) {
	se, err := applied(g.s.UnbindPort(req.GetPort()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.UnbindPortResponse{Epoch: g.s.Epoch(), StateError: se}, nil
}

func (g *GRPCService) portToPB(p PortDetail) *fibdpb.Port {
	out := &fibdpb.Port{Name: p.Name, Interface: p.Interface, Vlan: uint32(p.VLAN), FibId: uint32(p.FIB),
		Ifindex: int32(p.Ifindex), Mac: p.MAC.String(), Mtu: uint32(p.MTU), OperState: portStateToPB(p.State), Backend: p.Backend, RxWorkers: uint32(p.RxWorkers), IoCounters: p.IO,
		Counters: countersToPB(p.Counters), InnerVlan: uint32(p.InnerVLAN), OuterTpid: uint32(p.OuterTPID),
		StateReason: p.StateReason, Settings: portSettingsToPB(p.Settings)}
	for _, a := range p.Addresses {
		out.Addresses = append(out.Addresses, a.String())
	}
	return out
}

func (g *GRPCService) ListPorts(req *fibdpb.ListPortsRequest, stream fibdpb.FibdService_ListPortsServer) error {
	return list(listChunk, func(yield func(*fibdpb.Port) bool) error {
		return g.s.Ports(optFIB(req.FibId), req.GetPort(), func(p PortDetail) bool { return yield(g.portToPB(p)) })
	}, func(ports []*fibdpb.Port) error {
		return stream.Send(&fibdpb.ListPortsResponse{Epoch: g.s.Epoch(), Ports: ports})
	})
}

func (g *GRPCService) AddAddress(_ context.Context, req *fibdpb.AddAddressRequest) (*fibdpb.AddAddressResponse, error) {
	a, err := ParseInterfaceAddress("prefix", req.GetPrefix())
	if err == nil {
		err = g.s.AddAddress(req.GetPort(), a)
	}
	se, err := applied(err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.AddAddressResponse{Epoch: g.s.Epoch(), StateError: se}, nil
}

func (g *GRPCService) DeleteAddress(_ context.Context, req *fibdpb.DeleteAddressRequest) (*fibdpb.DeleteAddressResponse, error) {
	a, err := ParseInterfaceAddress("prefix", req.GetPrefix())
	if err == nil {
		err = g.s.DeleteAddress(req.GetPort(), a)
	}
	se, err := applied(err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.DeleteAddressResponse{Epoch: g.s.Epoch(), StateError: se}, nil
}

func (g *GRPCService) ListAddresses(req *fibdpb.ListAddressesRequest, stream fibdpb.FibdService_ListAddressesServer) error {
	return list(listChunk, func(yield func(*fibdpb.Address) bool) error {
		return g.s.Addresses(req.GetPort(), optFIB(req.FibId), func(a AddressInfo) bool {
			return yield(&fibdpb.Address{Port: a.Port, FibId: uint32(a.FIB), Prefix: a.Prefix.String()})
		})
	}, func(addrs []*fibdpb.Address) error {
		return stream.Send(&fibdpb.ListAddressesResponse{Epoch: g.s.Epoch(), Addresses: addrs})
	})
}

func sourcesToPB(list []fib.SourceCount) []*fibdpb.SourceRoutes {
	out := make([]*fibdpb.SourceRoutes, len(list))
	for i, sc := range list {
		out[i] = &fibdpb.SourceRoutes{Source: sc.Source, RoutesV4: uint64(sc.Routes4), RoutesV6: uint64(sc.Routes6)}
	}
	return out
}

func (g *GRPCService) SetPortSettings(_ context.Context, req *fibdpb.SetPortSettingsRequest) (*fibdpb.SetPortSettingsResponse, error) {
	var c PortSettingsChange
	switch m := req.GetRpf(); m {
	case fibdpb.RPFMode_RPF_MODE_UNSPECIFIED:
	case fibdpb.RPFMode_RPF_MODE_OFF, fibdpb.RPFMode_RPF_MODE_LOOSE, fibdpb.RPFMode_RPF_MODE_STRICT:
		mode := rpfFromPB[m]
		c.RPF = &mode
	default:
		return nil, toStatus(fieldErr("rpf", m.String(), "want RPF_MODE_OFF, RPF_MODE_LOOSE or RPF_MODE_STRICT"))
	}
	if req.AllowSourceRoute != nil {
		v := req.GetAllowSourceRoute()
		c.AllowSourceRoute = &v
	}
	info, err := g.s.SetPortSettings(req.GetPort(), c)
	se, err := applied(err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.SetPortSettingsResponse{Epoch: g.s.Epoch(), Port: g.portToPB(PortDetail{PortInfo: info}), StateError: se}, nil
}

var rpfFromPB = map[fibdpb.RPFMode]string{
	fibdpb.RPFMode_RPF_MODE_OFF: RPFOff, fibdpb.RPFMode_RPF_MODE_LOOSE: RPFLoose, fibdpb.RPFMode_RPF_MODE_STRICT: RPFStrict,
}

func portSettingsToPB(s PortSettings) *fibdpb.PortSettings {
	m := fibdpb.RPFMode_RPF_MODE_OFF
	switch s.RPF {
	case RPFLoose:
		m = fibdpb.RPFMode_RPF_MODE_LOOSE
	case RPFStrict:
		m = fibdpb.RPFMode_RPF_MODE_STRICT
	}
	return &fibdpb.PortSettings{Rpf: m, AllowSourceRoute: s.AllowSourceRoute}
}
