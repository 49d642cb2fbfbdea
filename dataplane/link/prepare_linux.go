package link

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/internal/ethtool"
)

// Prepared is a port Prepare made ready for fibd. Release undoes it.
type Prepared struct {
	Report Report

	m        *Manager
	name     string
	index    int // the interface Prepare changed: a new one by that name is not it
	flushed  []netlink.Addr
	sysctls  []sysctlUndo
	offloads []ethtool.Change
	setUp    bool
	drop     *stackDrop
}

type sysctlUndo struct{ path, old string }

// portSysctls are the per-interface settings that keep the kernel off a
// fibd port, applied in this order.
var portSysctls = []struct {
	format, value, why string
}{
	// No link-local address, no RS, no DAD, no answers to NS: fibd's
	// own ND does all of it for the port's FIB.
	{"net/ipv6/conf/%s/disable_ipv6", "1", "IPv6 disabled (no RS/DAD/ND from the kernel)"},
	// ARP requests arriving on the port are fibd's to answer: arp_ignore
	// 8 makes the kernel answer none, not even for the host's addresses
	// on other interfaces.
	{"net/ipv4/conf/%s/arp_ignore", "8", "kernel ARP replies off (arp_ignore=8)"},
	// Frames arriving on the port also go up the kernel's stack; this
	// keeps a host with ip_forward=1 from forwarding them a second time.
	{"net/ipv4/conf/%s/forwarding", "0", "kernel IPv4 forwarding off for frames received on it"},
}

// Prepare readies interface name for fibd's ownership; see the package
// documentation for what and why. It refuses, with an error wrapping
// ErrHasAddresses that names the interface and its addresses, when the
// port has kernel IPv4 addresses and opt.Force is not set. On error
// everything it already changed is undone.
func (m *Manager) Prepare(name string, opt PrepareOptions) (*Prepared, error) {
	l, err := m.linkByName(name)
	if err != nil {
		return nil, err
	}
	addrs, err := m.h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("link: %s: listing addresses: %w", name, err)
	}
	if len(addrs) > 0 && !opt.Force {
		var s []string
		for _, a := range addrs {
			s = append(s, a.IPNet.String())
		}
		return nil, fmt.Errorf("%w: %s has %s; fibd must own the port: remove them or prepare with force",
			ErrHasAddresses, name, strings.Join(s, ", "))
	}
	p := &Prepared{m: m, name: name, index: l.Attrs().Index}
	p.Report.Info = infoOf(l.Attrs())
	if err := p.apply(l, addrs, opt); err != nil {
		_ = p.Release()
		return nil, err
	}
	return p, nil
}

func (p *Prepared) apply(l netlink.Link, addrs []netlink.Addr, opt PrepareOptions) error {
	m, name := p.m, p.name
	for _, a := range addrs {
		// Deleting a primary address also deletes its secondaries
		// (unless promote_secondaries): a later EADDRNOTAVAIL is fine.
		if err := m.h.AddrDel(l, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("link: %s: flushing %s: %w", name, a.IPNet, err)
		}
		p.flushed = append(p.flushed, a)
		if pfx, ok := prefixOf(a); ok {
			p.Report.Flushed = append(p.Report.Flushed, pfx)
		}
		p.do("flushed IPv4 address %s", a.IPNet)
	}
	for _, s := range portSysctls {
		path := fmt.Sprintf(s.format, name)
		old, err := m.sysctl(path, s.value)
		if errors.Is(err, os.ErrNotExist) && strings.HasPrefix(path, "net/ipv6/") {
			p.do("IPv6 not available in this kernel: nothing to disable")
			continue
		}
		if err != nil {
			return fmt.Errorf("link: %s: sysctl %s=%s: %w", name, path, s.value, err)
		}
		if old != s.value {
			p.sysctls = append(p.sysctls, sysctlUndo{path, old})
			p.do("%s (%s: %s → %s)", s.why, path, old, s.value)
		}
	}
	if !opt.KeepStack {
		err := m.inNS(func() (err error) { p.drop, err = attachStackDrop(name); return err })
		if err != nil {
			// Not fatal: without it the kernel's stack sees the port's
			// frames and drops them (no addresses, no forwarding), at a
			// cost per frame.
			p.do("kernel IP stack still sees incoming frames: %v", err)
		} else {
			p.do("kernel IP stack kept off incoming frames (tcx ingress drop, after packet sockets)")
		}
	}
	if !opt.KeepOffloads {
		want := map[string]bool{}
		for _, f := range ethtool.ForwardingOff {
			want[f] = false
		}
		for _, f := range ethtool.VLANParseOff {
			want[f] = false
		}
		var changes []ethtool.Change
		err := m.inNS(func() (err error) { changes, err = ethtool.Set(name, want); return err })
		if err != nil {
			return fmt.Errorf("link: %s: offloads: %w", name, err)
		}
		p.offloads = changes
		if len(changes) > 0 {
			var n []string
			for _, c := range changes {
				n = append(n, c.Name)
			}
			p.do("offloads off: %s", strings.Join(n, " "))
		}
	}
	// What the device does now, not what was asked: a driver may keep
	// a feature on that it reports as changeable.
	var active map[string]bool
	err := m.inNS(func() (err error) { active, err = ethtool.Features(name); return err })
	if err != nil {
		return fmt.Errorf("link: %s: reading offloads: %w", name, err)
	}
	for _, f := range ethtool.VLANParseOff {
		if active[f] {
			p.Report.VLANStripped = true
			p.do("VLAN tags still stripped on receive (%s on)", f)
		}
	}
	if !p.Report.Info.AdminUp {
		if err := m.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("link: %s: set up: %w", name, err)
		}
		p.setUp = true
		p.Report.Info.AdminUp = true
		p.do("set administratively up")
	}
	return nil
}

func (p *Prepared) do(format string, args ...any) {
	p.Report.Actions = append(p.Report.Actions, fmt.Sprintf(format, args...))
}

func prefixOf(a netlink.Addr) (netip.Prefix, bool) {
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := a.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones), true
}

// Release undoes Prepare in reverse order: the link goes down again if
// Prepare brought it up, offloads and sysctls get their old values, and
// flushed addresses come back. It tries every step and returns the first
// error. An interface that has disappeared meanwhile is not an error.
func (p *Prepared) Release() error {
	m := p.m
	if p.drop != nil {
		p.drop.close()
		p.drop = nil
	}
	l, err := m.linkByName(p.name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if l.Attrs().Index != p.index {
		// Deleted and recreated: the kernel made a new interface, which
		// fibd never changed; putting "back" the old one's settings on
		// it would be wrong.
		return nil
	}
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if p.setUp {
		keep(m.h.LinkSetDown(l))
		p.setUp = false
	}
	if len(p.offloads) > 0 {
		want := map[string]bool{}
		for _, c := range p.offloads {
			want[c.Name] = c.Was
		}
		keep(m.inNS(func() error { _, err := ethtool.Set(p.name, want); return err }))
		p.offloads = nil
	}
	for i := len(p.sysctls) - 1; i >= 0; i-- {
		_, err := m.sysctl(p.sysctls[i].path, p.sysctls[i].old)
		keep(err)
	}
	p.sysctls = nil
	for _, a := range p.flushed {
		a := a
		if err := m.h.AddrAdd(l, &a); err != nil && !errors.Is(err, unix.EEXIST) {
			keep(fmt.Errorf("link: %s: restoring %s: %w", p.name, a.IPNet, err))
		}
	}
	p.flushed = nil
	return first
}
