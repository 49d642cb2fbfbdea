package fib

import (
	"fmt"
	"net/netip"

	"github.com/fibd/fibd/fib/adj"
)

// PathKind says what a path does with a packet.
type PathKind uint8

const (
	// PathGateway forwards to a next-hop router: Gateway on Port, or, when
	// Port is zero, on the port whose connected route covers Gateway in the
	// same FIB. Several gateway paths make an ECMP route.
	PathGateway PathKind = iota + 1
	// PathAttached forwards to the destination itself on Port: a connected
	// subnet ("dev eth1" in iproute2 terms).
	PathAttached
	// PathBlackhole drops silently.
	PathBlackhole
	// PathUnreachable drops and answers ICMP destination unreachable
	// (net unreachable / no route).
	PathUnreachable
	// PathProhibit drops and answers ICMP administratively prohibited.
	PathProhibit
	// PathLocal delivers to the router itself (its own addresses).
	PathLocal
	// PathLookup looks the destination up again in FIB (route leaking).
	PathLookup
	// PathGroup forwards as next-hop group Group does: the route follows
	// the group when it is replaced.
	PathGroup
)

var pathKindNames = [...]string{
	PathGateway:     "gateway",
	PathAttached:    "attached",
	PathBlackhole:   "blackhole",
	PathUnreachable: "unreachable",
	PathProhibit:    "prohibit",
	PathLocal:       "local",
	PathLookup:      "lookup",
	PathGroup:       "group",
}

func (k PathKind) String() string {
	if int(k) < len(pathKindNames) && pathKindNames[k] != "" {
		return pathKindNames[k]
	}
	return fmt.Sprintf("PathKind(%d)", uint8(k))
}

// ParsePathKind is the inverse of PathKind.String.
func ParsePathKind(s string) (PathKind, bool) {
	for k, name := range pathKindNames {
		if name != "" && name == s {
			return PathKind(k), true
		}
	}
	return 0, false
}

// Path is one way out for a route.
type Path struct {
	Kind    PathKind
	Gateway netip.Addr // PathGateway
	Port    adj.PortID // PathGateway (optional), PathAttached, PathLocal (optional)
	FIB     adj.FIBID  // PathLookup: the FIB to look in
	Weight  uint32     // PathGateway in ECMP; 0 means 1
	Group   uint32     // PathGroup: the next-hop group's ID
}

func (p Path) String() string {
	switch p.Kind {
	case PathGateway:
		s := "via " + p.Gateway.String()
		if p.Port != adj.NoPort {
			s += fmt.Sprintf(" port %d", p.Port)
		}
		if p.Weight > 1 {
			s += fmt.Sprintf(" weight %d", p.Weight)
		}
		return s
	case PathAttached:
		return fmt.Sprintf("dev port %d", p.Port)
	case PathLookup:
		return fmt.Sprintf("lookup fib %d", p.FIB)
	case PathGroup:
		return fmt.Sprintf("group %d", p.Group)
	case PathLocal:
		if p.Port != adj.NoPort {
			return fmt.Sprintf("local port %d", p.Port)
		}
	}
	return p.Kind.String()
}

// Preference orders routes for the same prefix from different sources:
// lower wins, like an administrative distance. Ties go to the source named
// first in byte order, so the choice never depends on arrival order.
type Preference uint8

// Conventional preferences, as in most router operating systems.
const (
	PrefConnected Preference = 0
	PrefStatic    Preference = 1
	PrefEBGP      Preference = 20
	PrefIBGP      Preference = 200
)

// Sources the FIB itself uses for interface addresses.
const (
	SourceConnected = "connected"
	SourceLocal     = "local"
)

// MaxPaths bounds the paths of one route (ECMP width).
const MaxPaths = 64

// Route is a prefix, who installed it, how much it is preferred, and where
// it leads.
type Route struct {
	Prefix     netip.Prefix
	Source     string
	Preference Preference
	Paths      []Path
}

// validate checks a route on its own (no FIB state) and canonicalises its
// prefix (an IPv4-mapped prefix becomes plain IPv4). Paths are not
// rewritten — the caller's slice stays untouched; gateways are unmapped and
// weights defaulted when the FIB interns the path set. A prefix with host bits set is refused rather than
// masked: the sender most likely meant something else.
func (r *Route) validate(self adj.FIBID) error {
	if !r.Prefix.IsValid() {
		return fmt.Errorf("%w: prefix %v", ErrInvalidPrefix, r.Prefix)
	}
	if r.Prefix.Addr().Zone() != "" {
		return fmt.Errorf("%w: prefix %v has a zone", ErrInvalidPrefix, r.Prefix)
	}
	if r.Prefix.Addr().Is4In6() {
		p, _ := r.Prefix.Addr().Unmap().Prefix(r.Prefix.Bits() - 96)
		if r.Prefix.Bits() < 96 {
			return fmt.Errorf("%w: IPv4-mapped prefix %v shorter than /96", ErrInvalidPrefix, r.Prefix)
		}
		r.Prefix = p
	}
	if r.Prefix.Masked() != r.Prefix {
		return fmt.Errorf("%w: prefix %v has host bits set (did you mean %v?)", ErrInvalidPrefix, r.Prefix, r.Prefix.Masked())
	}
	if err := CheckSourceName(r.Source); err != nil {
		return err
	}
	if len(r.Paths) == 0 {
		return fmt.Errorf("%w: %v has no path", ErrInvalidRoute, r.Prefix)
	}
	if len(r.Paths) > MaxPaths {
		return fmt.Errorf("%w: %v has %d paths, at most %d", ErrInvalidRoute, r.Prefix, len(r.Paths), MaxPaths)
	}
	is4 := r.Prefix.Addr().Is4()
	for i := range r.Paths {
		p := r.Paths[i]
		if len(r.Paths) > 1 && p.Kind != PathGateway {
			return fmt.Errorf("%w: %v: path %d: only gateway paths can be combined (ECMP), not %v",
				ErrInvalidRoute, r.Prefix, i, p.Kind)
		}
		switch p.Kind {
		case PathGateway:
			gw := p.Gateway.Unmap()
			if !gw.IsValid() || gw.IsUnspecified() || gw.IsMulticast() {
				return fmt.Errorf("%w: %v: path %d: invalid gateway %v", ErrInvalidRoute, r.Prefix, i, p.Gateway)
			}
			if gw.Is4() != is4 {
				return fmt.Errorf("%w: %v: path %d: gateway %v is not the prefix's address family",
					ErrInvalidRoute, r.Prefix, i, p.Gateway)
			}
			if gw.Zone() != "" {
				return fmt.Errorf("%w: %v: path %d: gateway %v: give the port, not a zone", ErrInvalidRoute, r.Prefix, i, p.Gateway)
			}
			if gw.IsLinkLocalUnicast() && p.Port == adj.NoPort {
				return fmt.Errorf("%w: %v: path %d: link-local gateway %v needs a port", ErrInvalidRoute, r.Prefix, i, gw)
			}
			for j := range i {
				if q := r.Paths[j]; q.Gateway.Unmap() == gw && q.Port == p.Port {
					return fmt.Errorf("%w: %v: path %d duplicates path %d (%v): give one path its summed weight",
						ErrInvalidRoute, r.Prefix, i, j, p)
				}
			}
		case PathAttached:
			if p.Port == adj.NoPort {
				return fmt.Errorf("%w: %v: path %d: attached path needs a port", ErrInvalidRoute, r.Prefix, i)
			}
		case PathLookup:
			if p.FIB == self {
				return fmt.Errorf("%w: %v: path %d: lookup in the route's own FIB %d would loop", ErrInvalidRoute, r.Prefix, i, self)
			}
		case PathGroup:
			if p.Group == 0 {
				return fmt.Errorf("%w: %v: path %d: group 0 does not exist (IDs start at 1)", ErrInvalidRoute, r.Prefix, i)
			}
		case PathBlackhole, PathUnreachable, PathProhibit, PathLocal:
		default:
			return fmt.Errorf("%w: %v: path %d: unknown path kind %d", ErrInvalidRoute, r.Prefix, i, p.Kind)
		}
	}
	return nil
}
