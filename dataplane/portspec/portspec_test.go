package portspec

import "testing"

func TestNameAndParse(t *testing.T) {
	for _, c := range []struct {
		s    Spec
		name string
		tpid uint16
	}{
		{Spec{Interface: "eth1"}, "eth1", 0},
		{Spec{Interface: "eth1", VLAN: 100}, "eth1.100", TPID8021Q},
		{Spec{Interface: "eth1", VLAN: 100, Inner: 200}, "eth1.100.200", TPID8021AD},
		{Spec{Interface: "eth1", VLAN: 100, Inner: 200, OuterTPID: TPID8021Q}, "eth1.100.200", TPID8021Q},
		{Spec{Interface: "veth.a", VLAN: 7}, "veth.a.7", TPID8021Q},
	} {
		if got := c.s.Name(); got != c.name {
			t.Errorf("%+v: name %q, want %q", c.s, got, c.name)
		}
		if got := c.s.TPID(); got != c.tpid {
			t.Errorf("%+v: TPID %#x, want %#x", c.s, got, c.tpid)
		}
		p, err := Parse(c.name)
		if err != nil || p.Interface != c.s.Interface || p.VLAN != c.s.VLAN || p.Inner != c.s.Inner {
			t.Errorf("Parse(%q) = %+v %v", c.name, p, err)
		}
	}
	for _, bad := range []string{"eth1.0", "eth1.4095", "eth1.5000.1"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	// A third number belongs to the interface name.
	if p, _ := Parse("a.1.2.3"); p.Interface != "a.1" || p.VLAN != 2 || p.Inner != 3 {
		t.Errorf("Parse(a.1.2.3) = %+v", p)
	}
	// A leading zero is not a VLAN ID the way Name writes one.
	if p, _ := Parse("eth1.010"); p.Interface != "eth1.010" || p.VLAN != 0 {
		t.Errorf("Parse(eth1.010) = %+v", p)
	}
	for _, bad := range []Spec{{Interface: "e", Inner: 5}, {Interface: "e", VLAN: 5000}, {Interface: "e", OuterTPID: TPID8021Q},
		{Interface: "e", VLAN: 5, OuterTPID: 0x9100}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}
