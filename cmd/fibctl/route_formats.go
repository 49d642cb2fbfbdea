package main

import (
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/fibd/fibd/bench/tables"
	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/fibdpb"
)

// detectFormat reads the start of path (through gzip) and says which of
// route load's formats it is in.
func detectFormat(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return "", fmt.Errorf("%s: gzip: %w", path, err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	} else if m, _ := br.Peek(3); string(m) == "BZh" {
		br = bufio.NewReader(bzip2.NewReader(br))
	}
	head, _ := br.Peek(4096)
	if tables.IsMRT(head) {
		return "mrt", nil
	}
	for _, l := range strings.Split(string(head), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if tables.IsIPRoute(l) {
			return "iproute", nil
		}
		break
	}
	return "native", nil
}

func fam(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 0
	}
	return 1
}

func loadNative(path string, vias []string, dev string) ([]*fibdpb.PathSet, []client.Route, error) {
	sets, base, err := loadPathSets(vias, dev)
	if err != nil {
		return nil, nil, err
	}
	var routes []client.Route
	err = tables.ParseFile(path, func(r tables.Route) error {
		f := fam(r.Prefix)
		if base[f].n == 0 {
			return fmt.Errorf("%s is IPv%d but no --via gateway is", r.Prefix, 4+2*f)
		}
		routes = append(routes, client.Route{Prefix: r.Prefix, PathSet: uint32(base[f].first + r.NextHop%base[f].n)})
		return nil
	})
	return sets, routes, err
}

// loadMRT numbers the dump's distinct next hops, per family, in order of
// appearance, and maps them onto --via as loadNative maps indexes.
func loadMRT(path string, vias []string, dev string) ([]*fibdpb.PathSet, []client.Route, error) {
	sets, base, err := loadPathSets(vias, dev)
	if err != nil {
		return nil, nil, err
	}
	index := map[netip.Addr]int{}
	var next [2]int
	var routes []client.Route
	err = tables.ParseMRTFile(path, func(r tables.MRTRoute) error {
		f := fam(r.Prefix)
		if base[f].n == 0 {
			return fmt.Errorf("%s is IPv%d but no --via gateway is", r.Prefix, 4+2*f)
		}
		i, ok := index[r.NextHop]
		if !ok {
			i = next[f]
			next[f]++
			index[r.NextHop] = i
		}
		routes = append(routes, client.Route{Prefix: r.Prefix, PathSet: uint32(base[f].first + i%base[f].n)})
		return nil
	})
	return sets, routes, err
}

// loadIPRoute makes one path set per distinct set of next hops in the
// file.
func loadIPRoute(path, dev string) ([]*fibdpb.PathSet, []client.Route, int, error) {
	var sets []*fibdpb.PathSet
	byKey := map[string]uint32{}
	var routes []client.Route
	skipped := 0
	err := tables.ParseIPRouteFile(path, func(r tables.IPRoute) error {
		var paths []*fibdpb.Path
		switch r.Type {
		case "blackhole":
			paths = []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_BLACKHOLE}}
		case "unreachable":
			paths = []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_UNREACHABLE}}
		case "prohibit":
			paths = []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_PROHIBIT}}
		case "unicast":
			if r.Proto == "kernel" {
				skipped++ // connected routes: fibd makes its own
				return nil
			}
			for _, h := range r.Hops {
				port := h.Dev
				if dev != "" {
					port = dev
				}
				w := uint32(h.Weight)
				if w == 1 {
					w = 0
				}
				switch {
				case h.Gateway.IsValid():
					paths = append(paths, &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: h.Gateway.String(), Port: port, Weight: w})
				case port != "":
					paths = append(paths, &fibdpb.Path{Kind: fibdpb.PathKind_PATH_KIND_ATTACHED, Port: port, Weight: w})
				}
			}
			if len(paths) == 0 {
				return fmt.Errorf("%s has no next hop", r.Prefix)
			}
		default:
			skipped++
			return nil
		}
		var key strings.Builder
		for _, p := range paths {
			fmt.Fprintf(&key, "%d|%s|%s|%d;", p.Kind, p.Gateway, p.Port, p.Weight)
		}
		i, ok := byKey[key.String()]
		if !ok {
			i = uint32(len(sets))
			byKey[key.String()] = i
			sets = append(sets, &fibdpb.PathSet{Paths: paths})
		}
		routes = append(routes, client.Route{Prefix: r.Prefix, PathSet: i})
		return nil
	})
	return sets, routes, skipped, err
}
