package dataplane_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/fib/adj"
)

// l2Tags reads the VLAN tags at the front of a frame: TPID and VID of each.
func l2Tags(frame []byte) (tpids, vids []uint16) {
	for off := 12; off+4 <= len(frame); off += 4 {
		et := binary.BigEndian.Uint16(frame[off:])
		if et != 0x8100 && et != 0x88a8 {
			break
		}
		tpids = append(tpids, et)
		vids = append(vids, binary.BigEndian.Uint16(frame[off+2:])&0x0fff)
	}
	return tpids, vids
}

func sameTags(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestQinQPairsTerminateIntoTheirOwnFIBs binds, on one trunk, two QinQ
// ports that share the outer tag (S-VLAN 100, C-VLANs 201 and 202) and a
// plain VLAN port with the same VID 100, each in its own FIB with the same
// addresses. Each frame lands in the port its exact tags name; a pair no
// port has is dropped and counted, never taken for the outer tag's port;
// egress writes the port's own tags, TPIDs included.
func TestQinQPairsTerminateIntoTheirOwnFIBs(t *testing.T) {
	r := newRig(t, 2)
	type tenant struct {
		fib       adj.FIBID
		spec      dataplane.PortSpec
		serverTag uint16 // VLAN of its server port on eth1
		tpids     []uint16
		vids      []uint16
	}
	tenants := []tenant{
		{fib: 10, spec: dataplane.PortSpec{Interface: "eth0", VLAN: 100, Inner: 201}, serverTag: 10,
			tpids: []uint16{0x88a8, 0x8100}, vids: []uint16{100, 201}},
		{fib: 20, spec: dataplane.PortSpec{Interface: "eth0", VLAN: 100, Inner: 202}, serverTag: 20,
			tpids: []uint16{0x88a8, 0x8100}, vids: []uint16{100, 202}},
		{fib: 30, spec: dataplane.PortSpec{Interface: "eth0", VLAN: 100}, serverTag: 30,
			tpids: []uint16{0x8100}, vids: []uint16{100}},
		// QinQ the old way: an 802.1Q outer tag.
		{fib: 40, spec: dataplane.PortSpec{Interface: "eth0", VLAN: 300, Inner: 5, OuterTPID: 0x8100}, serverTag: 40,
			tpids: []uint16{0x8100, 0x8100}, vids: []uint16{300, 5}},
	}
	for _, tn := range tenants {
		c := r.portSpec(tn.spec, tn.fib, "192.0.2.1/24")
		s := r.port("eth1", tn.serverTag, tn.fib, "198.51.100.1/24")
		r.neighbor(tn.fib, c, "192.0.2.10", clientMAC)
		r.neighbor(tn.fib, s, "198.51.100.10", serverMAC)
		if p, ok := r.e.PortByName(tn.spec.Name()); !ok || p.ID() != c {
			t.Fatalf("port %q not found by name", tn.spec.Name())
		}
	}
	for _, tn := range tenants {
		spec := frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), vlan: tn.spec.VLAN,
			inner: tn.spec.Inner, tpid: tn.tpids[0]}
		r.inject("eth0", build(t, spec), dataplane.RxMeta{})
		out := r.expect("eth1", 1)[0].Data()
		if tp, v := l2Tags(out); !sameTags(tp, []uint16{0x8100}) || !sameTags(v, []uint16{tn.serverTag}) {
			t.Fatalf("%s: frame left eth1 with tags %x/%v, want its FIB's server VLAN %d", tn.spec.Name(), tp, v, tn.serverTag)
		}
		// The server's answer goes back with exactly the port's tags.
		r.inject("eth1", build(t, frameSpec{src: "198.51.100.10", dst: "192.0.2.10", dstMAC: ifMAC(1), vlan: tn.serverTag}),
			dataplane.RxMeta{})
		back := r.expect("eth0", 1)[0].Data()
		if tp, v := l2Tags(back); !sameTags(tp, tn.tpids) || !sameTags(v, tn.vids) {
			t.Fatalf("%s: answer left eth0 with tags %x/%v, want %x/%v", tn.spec.Name(), tp, v, tn.tpids, tn.vids)
		}
		if got := adj.MAC(back[0:6]); got != clientMAC {
			t.Fatalf("%s: answer to %v, want %v", tn.spec.Name(), got, clientMAC)
		}
	}

	// The kernel took the outer tag off (AF_PACKET): the same port.
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), vlan: 202}),
		dataplane.RxMeta{HasVLAN: true, VLAN: 100, VLANTPID: 0x88a8})
	if tp, v := l2Tags(r.expect("eth1", 1)[0].Data()); !sameTags(tp, []uint16{0x8100}) || !sameTags(v, []uint16{20}) {
		t.Fatalf("stripped S-tag 100 + C-tag 202 left with %x/%v, want FIB 20's VLAN 20", tp, v)
	}

	// No port has (100, 999): dropped, counted as QinQ, not taken for
	// VLAN 100's port. Nor is an S-tag alone taken for the C-tag port 100.
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), vlan: 100, inner: 999,
		tpid: 0x88a8}), dataplane.RxMeta{})
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), vlan: 100, tpid: 0x88a8}),
		dataplane.RxMeta{})
	// Two 802.1Q tags with outer 100: the pair has no port (the 0x8100
	// QinQ port is 300/5), and the single-tag port 100 must not take it.
	r.inject("eth0", build(t, frameSpec{src: "192.0.2.10", dst: "198.51.100.10", dstMAC: ifMAC(0), vlan: 100, inner: 201}),
		dataplane.RxMeta{})
	r.settle()
	r.quiet("eth1")
	u := r.e.Unknown()["eth0"]
	if u.QinQ != 2 || u.VLAN != 1 {
		t.Fatalf("unknown tags on eth0: %+v, want 2 QinQ frames and 1 VLAN frame", u)
	}
	if u.LastTPID != 0x8100 || u.LastOuter != 100 || u.LastInner != 201 {
		t.Fatalf("last unknown tags %#04x/%d/%d, want 0x8100/100/201", u.LastTPID, u.LastOuter, u.LastInner)
	}
	// Each tenant's port received its own frames only (FIB 20's two).
	want := map[string]uint64{"eth0.100.201": 1, "eth0.100.202": 2, "eth0.100": 1, "eth0.300.5": 1}
	for _, pi := range r.e.Ports() {
		if n, ok := want[pi.Name]; ok && pi.Counters.RxPackets != n {
			t.Errorf("%s received %d frames, want %d", pi.Name, pi.Counters.RxPackets, n)
		}
	}
}

// TestPortNamesNeverCollide: an interface literally named "eth1.100" and
// VLAN 100 of eth1 would both be port "eth1.100"; the second bind is
// refused and the first port stays what the name finds.
func TestPortNamesNeverCollide(t *testing.T) {
	r := newRig(t, 2)
	r.links.add("eth1.100", 50, adj.MAC{2, 0, 0, 0, 0x10, 0})
	r.fib(10)
	vlan, err := r.e.BindPort(dataplane.PortSpec{Interface: "eth1", VLAN: 100}, 10)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.e.BindPort(dataplane.PortSpec{Interface: "eth1.100"}, 10)
	if !errors.Is(err, dataplane.ErrPortNameTaken) {
		t.Fatalf("binding interface eth1.100 next to VLAN 100 of eth1: %v, want ErrPortNameTaken", err)
	}
	if p, ok := r.e.PortByName("eth1.100"); !ok || p.ID() != vlan {
		t.Fatalf("the name eth1.100 no longer finds VLAN 100 of eth1")
	}
	if n := len(r.e.Ports()); n != 1 {
		t.Fatalf("%d ports, want 1", n)
	}
	// QinQ and a plain VLAN with the same numbers are different names.
	if _, err := r.e.BindPort(dataplane.PortSpec{Interface: "eth1", VLAN: 100, Inner: 7}, 10); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.e.PortByName("eth1.100.7"); !ok {
		t.Fatal("QinQ port eth1.100.7 not found by name")
	}
	// Changing a port's TPID is refused: it would change what the port
	// receives under the same name.
	if _, err := r.e.BindPort(dataplane.PortSpec{Interface: "eth1", VLAN: 100, OuterTPID: 0x88a8}, 10); !errors.Is(err, dataplane.ErrInvalidVLAN) {
		t.Fatalf("re-binding eth1.100 with TPID 0x88a8: %v, want ErrInvalidVLAN", err)
	}
}
