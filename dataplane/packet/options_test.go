package packet

import "testing"

// TestSourceRouted finds LSRR and SSRR behind other options, and nothing
// in option lists without them, malformed ones included.
func TestSourceRouted(t *testing.T) {
	for _, tc := range []struct {
		opts []byte
		want bool
	}{
		{[]byte{131, 7, 4, 192, 0, 2, 1, 0}, true},             // LSRR
		{[]byte{1, 1, 1, 137, 7, 4, 192, 0, 2, 1, 0, 0}, true}, // NOPs, then SSRR
		{[]byte{7, 7, 4, 0, 0, 0, 0, 131, 3, 4, 0, 0}, true},   // record route, then LSRR
		{[]byte{7, 7, 4, 0, 0, 0, 0, 0}, false},                // record route only
		{[]byte{0, 131, 7, 4, 192, 0, 2, 1}, false},            // LSRR after the end
		{[]byte{68, 0, 0, 0}, false},                           // a bad length ends the walk
		{[]byte{68, 1, 131, 0}, false},                         // ... so does one too short
	} {
		frame := withRawOptions(udp4().build(t), tc.opts)
		var p Parsed
		if r := Parse(frame, false, 0, 0, &p); r != OK {
			t.Fatalf("% x: parse %v", tc.opts, r)
		}
		if got := SourceRouted(frame, &p); got != tc.want {
			t.Errorf("options % x: SourceRouted %v, want %v", tc.opts, got, tc.want)
		}
	}
	frame := udp4().build(t)
	var p Parsed
	Parse(frame, false, 0, 0, &p)
	if SourceRouted(frame, &p) {
		t.Error("a header without options is source-routed")
	}
}

// withRawOptions inserts raw IPv4 option bytes (a multiple of 4) after the
// fixed header of an untagged frame, fixing IHL, total length and the
// header checksum; malformed lists included, which gopacket cannot build.
func withRawOptions(frame, opts []byte) []byte {
	const l3 = 14
	out := append(append(append([]byte{}, frame[:l3+20]...), opts...), frame[l3+20:]...)
	ip := out[l3:]
	ip[0] = 0x40 | byte((20+len(opts))/4)
	total := int(ip[2])<<8 | int(ip[3]) + len(opts)
	ip[2], ip[3] = byte(total>>8), byte(total)
	ip[10], ip[11] = 0, 0
	c := Checksum(ip[:20+len(opts)])
	ip[10], ip[11] = byte(c>>8), byte(c)
	return out
}
