package xdp

import (
	"encoding/binary"
	"testing"
)

func xdpNest(attrs ...[]byte) []byte {
	var nest []byte
	for _, a := range attrs {
		nest = append(nest, a...)
	}
	return appendAttr(nil, iflaXDP|nlaFNested, nest)
}

func TestParseXDPState(t *testing.T) {
	other := appendAttr(nil, 3, []byte("eth0\x00")) // IFLA_IFNAME before the nest
	for _, tc := range []struct {
		name  string
		attrs []byte
		want  xdpState
	}{
		{"none", append(other, xdpNest(appendAttr(nil, xdpAttached, []byte{attachedNone}))...), xdpState{}},
		{"native", append(other, xdpNest(appendAttr(nil, xdpAttached, []byte{attachedDrv}), appendAttr(nil, xdpProgID, u32(42)))...), xdpState{drvID: 42}},
		{"generic", xdpNest(appendAttr(nil, xdpAttached, []byte{attachedSkb}), appendAttr(nil, xdpProgID, u32(7))), xdpState{skbID: 7}},
		{"multi", xdpNest(appendAttr(nil, xdpAttached, []byte{attachedMulti}), appendAttr(nil, xdpDrvProgID, u32(1)),
			appendAttr(nil, xdpHwProgID, u32(3))), xdpState{drvID: 1, hwID: 3}},
	} {
		got, err := parseXDPState(tc.attrs)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestParseXDPStateRejectsTruncation(t *testing.T) {
	full := xdpNest(appendAttr(nil, xdpAttached, []byte{attachedDrv}), appendAttr(nil, xdpProgID, u32(42)))
	// A message cut short: the outer attribute claims more than is there.
	for cut := 1; cut < len(full); cut++ {
		if _, err := parseXDPState(full[:cut]); err == nil {
			t.Errorf("cut at %d accepted", cut)
		}
	}
	// An honest outer length around an inner attribute that lies.
	lying := append([]byte(nil), full...)
	binary.NativeEndian.PutUint16(lying[4:], 200) // first inner attribute's length
	if _, err := parseXDPState(lying); err == nil {
		t.Error("inner length past the nest accepted")
	}
	// A program ID shorter than 4 bytes.
	short := xdpNest(appendAttr(nil, xdpProgID, []byte{1, 2}))
	if _, err := parseXDPState(short); err == nil {
		t.Error("2-byte program ID accepted")
	}
}

// FuzzParseXDPState: the netlink parser never panics on arbitrary input.
func FuzzParseXDPState(f *testing.F) {
	f.Add(xdpNest(appendAttr(nil, xdpAttached, []byte{attachedDrv}), appendAttr(nil, xdpProgID, u32(42))))
	f.Add(xdpNest(appendAttr(nil, xdpAttached, []byte{attachedMulti}), appendAttr(nil, xdpSkbProgID, u32(9))))
	f.Add([]byte{4, 0, 43, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseXDPState(b)
	})
}
