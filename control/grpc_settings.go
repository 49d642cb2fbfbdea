package control

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib/adj"
)

func (g *GRPCService) SetFibSettings(_ context.Context, req *fibdpb.SetFibSettingsRequest) (*fibdpb.SetFibSettingsResponse, error) {
	set, err := settingsFromPB(req.GetSettings())
	if err != nil {
		return nil, toStatus(err)
	}
	eff, err := g.s.SetFIBSettings(adj.FIBID(req.GetFibId()), set)
	se, err := applied(err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &fibdpb.SetFibSettingsResponse{Epoch: g.s.Epoch(), Settings: settingsToPB(eff), StateError: se}, nil
}

func settingsFromPB(pb *fibdpb.FibSettings) (FIBSettings, error) {
	set := FIBSettings{Limits: limitSettingsFromPB(pb.GetLimits())}
	if pb != nil {
		set.Name = pb.Name
		set.Host = pb.HostStack
	}
	n := pb.GetNeighbors()
	var out NeighborSettings
	if n == nil {
		return set, nil
	}
	optInt := func(v *uint32) *int {
		if v == nil {
			return nil
		}
		i := int(*v)
		return &i
	}
	dur := func(field string, d *durationpb.Duration) (*time.Duration, error) {
		if d == nil {
			return nil, nil
		}
		if err := d.CheckValid(); err != nil {
			return nil, fieldErr("settings.neighbors."+field, d.String(), "%v", err)
		}
		v := d.AsDuration()
		return &v, nil
	}
	out.MaxEntries = optInt(n.MaxEntries)
	out.ARPAccept = n.ArpAccept
	out.SolicitRate, out.SolicitBurst = optInt(n.SolicitRate), optInt(n.SolicitBurst)
	out.ReservedSolicitRate, out.ReservedSolicitBurst = optInt(n.ReservedSolicitRate), optInt(n.ReservedSolicitBurst)
	var err error
	for _, d := range []struct {
		field string
		pb    *durationpb.Duration
		dst   **time.Duration
	}{{"gc_stale_time", n.GcStaleTime, &out.GCStaleTime}, {"base_reachable_time", n.BaseReachableTime, &out.BaseReachableTime},
		{"delay_first_probe_time", n.DelayFirstProbeTime, &out.DelayFirstProbeTime}, {"retrans_timer", n.RetransTimer, &out.RetransTimer}} {
		if *d.dst, err = dur(d.field, d.pb); err != nil {
			return FIBSettings{}, err
		}
	}
	set.Neighbors = out
	return set, nil
}

func limitSettingsFromPB(l *fibdpb.FibLimits) LimitSettings {
	if l == nil {
		return LimitSettings{}
	}
	u64 := func(v *uint64) *int {
		if v == nil {
			return nil
		}
		i := int(min(*v, 1<<62))
		return &i
	}
	var out LimitSettings
	out.Routes4, out.Routes6, out.PerSource, out.Neighbors = u64(l.RoutesV4), u64(l.RoutesV6), u64(l.RoutesPerSource), u64(l.Neighbors)
	if l.WarnPercent != nil {
		w := int(*l.WarnPercent)
		out.WarnPercent = &w
	}
	return out
}

func limitSettingsToPB(l LimitSettings) *fibdpb.FibLimits {
	u64 := func(v *int) *uint64 {
		if v == nil {
			return nil
		}
		x := uint64(*v)
		return &x
	}
	out := &fibdpb.FibLimits{RoutesV4: u64(l.Routes4), RoutesV6: u64(l.Routes6), RoutesPerSource: u64(l.PerSource), Neighbors: u64(l.Neighbors)}
	if l.WarnPercent != nil {
		w := uint32(*l.WarnPercent)
		out.WarnPercent = &w
	}
	return out
}

func settingsToPB(s FIBSettings) *fibdpb.FibSettings {
	n := s.Neighbors
	u := func(v *int) *uint32 {
		if v == nil {
			return nil
		}
		x := uint32(*v)
		return &x
	}
	d := func(v *time.Duration) *durationpb.Duration {
		if v == nil {
			return nil
		}
		return durationpb.New(*v)
	}
	return &fibdpb.FibSettings{Name: s.Name, HostStack: s.Host, Limits: limitSettingsToPB(s.Limits), Neighbors: &fibdpb.NeighborSettings{
		MaxEntries: u(n.MaxEntries), ArpAccept: n.ARPAccept, GcStaleTime: d(n.GCStaleTime),
		BaseReachableTime: d(n.BaseReachableTime), DelayFirstProbeTime: d(n.DelayFirstProbeTime), RetransTimer: d(n.RetransTimer),
		SolicitRate: u(n.SolicitRate), SolicitBurst: u(n.SolicitBurst),
		ReservedSolicitRate: u(n.ReservedSolicitRate), ReservedSolicitBurst: u(n.ReservedSolicitBurst),
	}}
}

func hostToPB(h *HostInfo) *fibdpb.FibHost {
	if h == nil {
		return nil
	}
	return &fibdpb.FibHost{Namespace: h.Namespace, Device: h.Device, Error: h.Error, Punted: h.Punted, Delivered: h.Delivered,
		Injected: h.Injected, Queued: h.Queued, IcmpErrors: h.ICMPErrors, Drops: h.Drops, Io: h.IO}
}
