package tables

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// IPRoute is one route of `ip route show` (or `ip -6 route show`) output.
type IPRoute struct {
	Prefix netip.Prefix
	// Type is "unicast" unless the line named another: blackhole,
	// unreachable, prohibit, local, broadcast, multicast, anycast, throw.
	Type  string
	Hops  []IPHop
	Proto string // "kernel", "static", "bgp", ... ("" if not shown)
	Table string
}

// IPHop is a next hop: a gateway, a device, or both.
type IPHop struct {
	Gateway netip.Addr
	Dev     string
	Weight  int // 1 unless given
}

var routeTypes = map[string]bool{"unicast": true, "blackhole": true, "unreachable": true, "prohibit": true,
	"local": true, "broadcast": true, "multicast": true, "anycast": true, "throw": true, "nat": true}

// IsIPRoute reports whether line, the first non-blank line of a file,
// reads as `ip route` output rather than fibd's own format.
func IsIPRoute(line string) bool {
	f := strings.Fields(line)
	if len(f) == 0 {
		return false
	}
	if routeTypes[f[0]] || f[0] == "default" {
		return true
	}
	if len(f) >= 2 {
		switch f[1] {
		case "via", "dev", "proto", "nhid", "table", "metric":
			return true
		}
	}
	return false
}

// ParseIPRoute reads `ip route` output (plain or gzip), including
// multipath routes continued on "nexthop" lines, and calls fn per route.
func ParseIPRoute(r io.Reader, fn func(IPRoute) error) error {
	br := bufio.NewReaderSize(r, MaxLineLen)
	if magic, _ := br.Peek(2); len(magic) == 2 && [2]byte(magic) == gzipMagic {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("tables: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, MaxLineLen)
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, MaxLineLen), MaxLineLen)
	var cur *IPRoute
	flush := func() error {
		if cur == nil {
			return nil
		}
		r := *cur
		cur = nil
		return fn(r)
	}
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		f := strings.Fields(text)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if f[0] == "nexthop" {
			if cur == nil || (len(text) > 0 && text[0] != ' ' && text[0] != '\t') {
				return &ParseError{Line: line, Err: fmt.Errorf("a nexthop line without its route")}
			}
			h, err := parseHop(f[1:])
			if err != nil {
				return &ParseError{Line: line, Err: err}
			}
			cur.Hops = append(cur.Hops, h)
			continue
		}
		if err := flush(); err != nil {
			return &ParseError{Line: line, Err: err}
		}
		r, err := parseIPRouteLine(f)
		if err != nil {
			return &ParseError{Line: line, Err: err}
		}
		cur = &r
	}
	if err := sc.Err(); err != nil {
		return &ParseError{Line: line + 1, Err: err}
	}
	if err := flush(); err != nil {
		return &ParseError{Line: line, Err: err}
	}
	return nil
}

func parseIPRouteLine(f []string) (IPRoute, error) {
	r := IPRoute{Type: "unicast"}
	if routeTypes[f[0]] {
		r.Type, f = f[0], f[1:]
	}
	if len(f) == 0 {
		return r, fmt.Errorf("no destination")
	}
	dst := f[0]
	f = f[1:]
	// The family of "default" is its gateway's; IPv4 without one.
	h, err := parseHop(f)
	if err != nil {
		return r, err
	}
	six := h.Gateway.Is6()
	switch {
	case dst == "default" && six:
		r.Prefix = netip.MustParsePrefix("::/0")
	case dst == "default":
		r.Prefix = netip.MustParsePrefix("0.0.0.0/0")
	case strings.Contains(dst, "/"):
		p, err := netip.ParsePrefix(dst)
		if err != nil {
			return r, fmt.Errorf("%w: %q", ErrBadPrefix, dst)
		}
		if p.Masked() != p {
			return r, fmt.Errorf("%w: %q", ErrHostBits, dst)
		}
		r.Prefix = p
	default:
		a, err := netip.ParseAddr(dst)
		if err != nil {
			return r, fmt.Errorf("%w: %q", ErrBadPrefix, dst)
		}
		r.Prefix = netip.PrefixFrom(a, a.BitLen())
	}
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "proto":
			r.Proto = f[i+1]
		case "table":
			r.Table = f[i+1]
		}
	}
	if h.Gateway.IsValid() || h.Dev != "" {
		r.Hops = append(r.Hops, h)
	}
	return r, nil
}

// parseHop reads "via [inet|inet6] ADDR", "dev NAME" and "weight N" out
// of a route's or a nexthop line's fields, ignoring the rest.
func parseHop(f []string) (IPHop, error) {
	h := IPHop{Weight: 1}
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "via":
			v := f[i+1]
			if (v == "inet" || v == "inet6") && i+2 < len(f) {
				i++
				v = f[i+1]
			}
			a, err := netip.ParseAddr(v)
			if err != nil {
				return h, fmt.Errorf("gateway %q: %v", v, err)
			}
			h.Gateway = a
			i++
		case "dev":
			h.Dev = f[i+1]
			i++
		case "weight":
			w, err := strconv.Atoi(f[i+1])
			if err != nil || w < 1 || w > 256 {
				return h, fmt.Errorf("weight %q", f[i+1])
			}
			h.Weight = w
			i++
		}
	}
	return h, nil
}

// ParseIPRouteFile is ParseIPRoute on the named file.
func ParseIPRouteFile(path string, fn func(IPRoute) error) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("tables: %w", err)
	}
	defer fh.Close()
	err = ParseIPRoute(fh, fn)
	if pe, ok := err.(*ParseError); ok {
		pe.Path = path
	}
	return err
}
