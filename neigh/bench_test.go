package neigh_test

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"

	"github.com/fibd/fibd/fib/adj"
	"github.com/fibd/fibd/neigh"
	"github.com/fibd/fibd/neigh/neightest"
)

const (
	benchFIBs       = 4
	benchPerFIB     = 10000
	benchKeysPerRun = 1 << 14 // keys cycled through, more than fit in L1
)

// benchTable fills benchFIBs FIBs with benchPerFIB resolved neighbours each,
// half IPv4 in 198.18.0.0/15 and half IPv6, the same addresses in every FIB.
func benchTable(b *testing.B) (*neigh.Table, []adj.Key, []adj.Key) {
	b.Helper()
	env := neightest.NewEnv()
	for f := range benchFIBs {
		env.AddPort(adj.PortID(f+1), neightest.Port{FIB: adj.FIBID(f), MAC: macPort1, Addrs: []netip.Prefix{
			netip.MustParsePrefix("198.18.0.1/15"), netip.MustParsePrefix("2001:db8::1/64")}})
	}
	tab, err := neigh.New(neigh.Config{Adj: new(adj.Table), Env: env, Clock: neightest.NewClock(t0)})
	if err != nil {
		b.Fatal(err)
	}
	var v4, v6 []adj.Key
	for f := range benchFIBs {
		for i := range benchPerFIB / 2 {
			k4 := adj.Key{FIB: adj.FIBID(f), Port: adj.PortID(f + 1), Addr: netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})}
			k6 := adj.Key{FIB: adj.FIBID(f), Port: adj.PortID(f + 1), Addr: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: 0x0a, 14: byte(i >> 8), 15: byte(i)})}
			for _, k := range []adj.Key{k4, k6} {
				if err := tab.AddStatic(k, macOf(k.Addr)); err != nil {
					b.Fatal(err)
				}
			}
			v4, v6 = append(v4, k4), append(v6, k6)
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	pick := func(all []adj.Key) []adj.Key {
		out := make([]adj.Key, benchKeysPerRun)
		for i := range out {
			out[i] = all[r.IntN(len(all))]
		}
		return out
	}
	return tab, pick(v4), pick(v6)
}

func BenchmarkLookup(b *testing.B) {
	tab, v4, v6 := benchTable(b)
	miss := make([]adj.Key, len(v4))
	for i, k := range v4 {
		k.Addr = netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)})
		miss[i] = k
	}
	for _, bc := range []struct {
		name string
		keys []adj.Key
		hit  bool
	}{
		// Random keys over 40k entries: every lookup misses the CPU caches.
		{"Hit/v4", v4, true}, {"Hit/v6", v6, true}, {"Miss/v4", miss, false},
		// A handful of hot neighbours, as behind a few gateways: the pure
		// instruction cost.
		{"HitHot/v4", v4[:8:8], true}, {"HitHot/v6", v6[:8:8], true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			i := 0
			for b.Loop() {
				_, _, ok := tab.Lookup(bc.keys[i%len(bc.keys)])
				if ok != bc.hit {
					b.Fatal("wrong result")
				}
				i++
			}
		})
	}
}

func BenchmarkResolveResolved(b *testing.B) {
	tab, v4, v6 := benchTable(b)
	pkt := make([]byte, 64)
	for _, bc := range []struct {
		name string
		keys []adj.Key
	}{{"v4", v4}, {"v6", v6}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			i := 0
			for b.Loop() {
				if _, ok := tab.Resolve(bc.keys[i&(benchKeysPerRun-1)], pkt); !ok {
					b.Fatal("unresolved")
				}
				i++
			}
		})
	}
}

// cpuPerOp pins the benchmark to its thread and, when called back at the
// end, reports the thread's CPU time per op as "cpu-ns/op".
func cpuPerOp(b *testing.B) func() {
	runtime.LockOSThread()
	start, ok := threadCPUTime()
	return func() {
		end, ok2 := threadCPUTime()
		runtime.UnlockOSThread()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
