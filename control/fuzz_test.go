package control_test

import (
	"encoding/json"
	"testing"

	"github.com/fibd/fibd/control"
)

// FuzzDecodeState: the state decoder never panics on any file, and a file
// it accepts encodes back to one that decodes to the same configuration.
// fuzzsmoke: 6000x
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"format":"fibd-state","version":1}`))
	f.Add([]byte(`{"format":"fibd-state","version":1,"fibs":[{"id":10,"limits":{"routes_v4":5}}],` +
		`"ports":[{"interface":"eth1","vlan":100,"fib":10}],"addresses":[{"port":"eth1.100","prefix":"192.0.2.1/24"}],` +
		`"routes":[{"fib":10,"prefix":"198.51.100.0/24","paths":[{"kind":"gateway","gateway":"192.0.2.2","weight":2}]}],` +
		`"neighbors":[{"port":"eth1.100","address":"2001:db8::2","mac":"02:00:00:00:00:02"}]}`))
	f.Add([]byte(`{"format":"fibd-state","version":1,"fibs":[{"id":x}]}`))
	f.Add([]byte("\x00\xff{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := control.DecodeState("fuzz", b)
		if err != nil {
			return
		}
		out, err := control.EncodeState(c)
		if err != nil {
			t.Fatalf("accepted state does not encode: %v", err)
		}
		c2, err := control.DecodeState("fuzz", out)
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v\n%s", err, out)
		}
		j1, _ := json.Marshal(c)
		j2, _ := json.Marshal(c2)
		if string(j1) != string(j2) {
			t.Fatalf("round trip changed the state:\n%s\n%s", j1, j2)
		}
	})
}
