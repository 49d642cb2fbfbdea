package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/hoststack"
	"github.com/fibd/fibd/fib/adj"
)

// checkHostPrefix accepts a --host-netns-prefix: a file name under
// /run/netns once a FIB ID is appended.
func checkHostPrefix(p string) error {
	if p == "" || len(p) > 200 || strings.ContainsAny(p, "/\x00") || p == "." || p == ".." {
		return fmt.Errorf("--host-netns-prefix %q: want a name of 1-200 bytes without '/'", p)
	}
	return nil
}

// SetHost gives FIB id a host stack: the namespace (reused when a previous
// fibd left it, so programs running there keep their sockets) with a TUN
// the engine punts to and injects from; off detaches it and removes the
// namespace.
func (d *engineDP) SetHost(id adj.FIBID, on bool) error {
	ns := hoststack.Name(d.hostPrefix, uint32(id))
	if !on {
		err := d.e.DetachHost(id)
		if errors.Is(err, dataplane.ErrNoHost) {
			err = nil
		}
		return errors.Join(err, ns.Remove())
	}
	for _, h := range d.e.Hosts() {
		if h.FIB == id {
			return nil
		}
	}
	h, err := hoststack.Open(hoststack.Config{Namespace: ns, Device: hoststack.DeviceName(uint32(id))})
	if err != nil {
		return err
	}
	if err := d.e.AttachHost(id, h); err != nil {
		h.Close()
		return err
	}
	d.log.Info("host stack on", "fib", id, "netns", ns, "reused", h.Reused())
	return nil
}

func (d *engineDP) Hosts() []control.HostInfo {
	var out []control.HostInfo
	for _, h := range d.e.Hosts() {
		out = append(out, control.HostInfo{FIB: h.FIB, Namespace: h.Namespace, Device: hoststack.DeviceName(uint32(h.FIB)),
			Error: h.SyncError, Punted: h.Punted, Delivered: h.Delivered, Injected: h.Injected, Queued: h.Queued,
			ICMPErrors: h.ICMPErrors, Drops: h.Drops, IO: h.IO})
	}
	return out
}

// removeStaleHosts removes the namespaces under fibd's prefix that no FIB
// has a host stack for now that the state is restored: what a FIB deleted
// or turned off while fibd was down, or killed between steps, left.
func (d *engineDP) removeStaleHosts() {
	list, err := hoststack.List(d.hostPrefix)
	if err != nil {
		d.log.Warn("listing host namespaces", "err", err)
		return
	}
	on := map[string]bool{}
	for _, h := range d.e.Hosts() {
		on[h.Namespace] = true
	}
	for _, ns := range list {
		if on[string(ns)] {
			continue
		}
		if err := ns.Remove(); err != nil {
			d.log.Warn("removing a stale host namespace", "netns", ns, "err", err)
			continue
		}
		d.log.Info("stale host namespace removed", "netns", ns)
	}
}
