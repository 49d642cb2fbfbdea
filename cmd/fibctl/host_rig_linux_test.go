package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/dataplane/hoststack"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/internal/vlanswitch"
)

// hostRig is the founding example: one router, customer A behind its own
// port in FIB 10 and customer B behind VLAN 200 of a trunk in FIB 20, with
// identical addressing (the router is 192.0.2.1 and 2001:db8:1::1 to both,
// each client 192.0.2.10 and 2001:db8:1::10). Only A has 192.0.2.30, only
// B 192.0.2.20, so a test can tell which customer it reached; B also has
// a server, 198.51.100.10 behind VLAN 201, that FIB 20 forwards to. fibd
// runs inside the router namespace with both FIBs' host stacks on.
type hostRig struct {
	t            *testing.T
	d            *daemon
	router, a, b *netnstest.NS
	bsrv         *netnstest.NS // a server of customer B's, behind VLAN 201 in FIB 20
	prefix, dir  string
	demo         string
	sock, state  string
	fibdArgs     []string
	mu           sync.Mutex
	servers      []*exec.Cmd
	serverOut    []*syncBuffer
	ns10, ns20   hoststack.Namespace
}

func newHostRig(t *testing.T) *hostRig {
	netnstest.Require(t)
	fibd, _ := binaries(t)
	r := &hostRig{t: t, dir: t.TempDir(), demo: filepath.Join(filepath.Dir(fibd), "fibdemo")}
	r.prefix = netnstest.Name("h") + "-fib"
	r.ns10, r.ns20 = hoststack.Name(r.prefix, 10), hoststack.Name(r.prefix, 20)
	t.Cleanup(func() {
		// fibd leaves host namespaces behind by design (programs in them
		// outlive it); the test removes its own.
		list, _ := hoststack.List(r.prefix)
		for _, ns := range list {
			_ = ns.Remove()
		}
	})
	r.router = netnstest.New(t, "hr")
	r.a = netnstest.New(t, "ha")
	r.b = netnstest.New(t, "hb")
	r.bsrv = netnstest.New(t, "hbs")
	sw := netnstest.New(t, "hs")
	netnstest.NamedVeth(t, r.a, "eth0", r.router, "a-cli")
	netnstest.NamedVeth(t, r.b, "eth0", sw, "acc200")
	netnstest.NamedVeth(t, r.bsrv, "eth0", sw, "acc201")
	netnstest.NamedVeth(t, sw, "trunk", r.router, "trunk")
	// Hosts behind the userspace switch compute their own checksums (see
	// internal/vlanswitch).
	r.b.Exec("ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off")
	r.bsrv.Exec("ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off")
	r.bsrv.Exec("ip", "addr", "add", "198.51.100.10/24", "dev", "eth0")
	r.bsrv.Exec("ip", "route", "add", "default", "via", "198.51.100.1")
	var vs *vlanswitch.Switch
	if err := sw.Do(func() (err error) {
		vs, err = vlanswitch.Start("trunk", map[uint16]string{200: "acc200", 201: "acc201"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vs.Stop)
	for _, c := range []struct {
		ns   *netnstest.NS
		only string
	}{{r.a, "192.0.2.30/24"}, {r.b, "192.0.2.20/24"}} {
		c.ns.Exec("ip", "addr", "add", "192.0.2.10/24", "dev", "eth0")
		c.ns.Exec("ip", "addr", "add", c.only, "dev", "eth0")
		c.ns.Exec("ip", "-6", "addr", "add", "2001:db8:1::10/64", "dev", "eth0", "nodad")
		c.ns.Exec("ip", "route", "add", "default", "via", "192.0.2.1")
		c.ns.Exec("ip", "-6", "route", "add", "default", "via", "2001:db8:1::1")
	}
	r.sock = filepath.Join(r.dir, "fibd.sock")
	r.state = filepath.Join(r.dir, "state.json")
	r.fibdArgs = []string{"--socket", r.sock, "--state", r.state, "--io", "afpacket", "--host-netns-prefix", r.prefix}
	r.startFibd()
	r.d.ok("fib", "add", "10")
	r.d.ok("fib", "add", "20")
	r.d.ok("port", "bind", "a-cli", "--fib", "10")
	r.d.ok("port", "bind", "trunk", "--vlan", "200", "--fib", "20")
	r.d.ok("port", "bind", "trunk", "--vlan", "201", "--fib", "20")
	r.d.ok("addr", "add", "198.51.100.1/24", "dev", "trunk.201")
	for _, port := range []string{"a-cli", "trunk.200"} {
		r.d.ok("addr", "add", "192.0.2.1/24", "dev", port)
		r.d.ok("addr", "add", "2001:db8:1::1/64", "dev", port)
	}
	r.d.ok("fib", "set", "10", "--host", "on")
	r.d.ok("fib", "set", "20", "--host", "on")
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, s := range r.servers {
			_ = s.Process.Kill()
			_ = s.Wait()
		}
	})
	return r
}

// startFibd runs fibd inside the router namespace (only its network: the
// host namespaces it mounts must be visible to this test's fibctl).
func (r *hostRig) startFibd() {
	r.d = launchFibd(r.t, r.sock, func(c *exec.Cmd) error { return r.router.Do(c.Start) }, r.fibdArgs)
}

// serve starts `fibctl exec --fib FIB -- fibdemo serve ARGS…` and waits
// until it serves.
func (r *hostRig) serve(fib string, args ...string) {
	r.t.Helper()
	cmd := exec.Command(r.d.fibctl, append([]string{"--socket", r.sock, "exec", "--fib", fib, "--", r.demo, "serve"}, args...)...)
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.servers = append(r.servers, cmd)
	r.serverOut = append(r.serverOut, out)
	r.mu.Unlock()
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(out.String(), "serving"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("server in fib %s did not start:\n%s", fib, out)
		}
	}
}

// curl runs curl in a client namespace and returns its output.
func curl(t *testing.T, ns *netnstest.NS, args ...string) string {
	t.Helper()
	out, err := ns.Try(append([]string{"curl", "-sS", "--max-time", "20"}, args...)...)
	if err != nil {
		t.Fatalf("curl %s in %s: %v\n%s", strings.Join(args, " "), ns.Name, err, out)
	}
	return out
}

// hostCounters returns FIB id's host-stack counters from fib show --json.
func (r *hostRig) hostCounters(id string) map[string]any {
	r.t.Helper()
	var fibs []map[string]any
	if err := json.Unmarshal([]byte(r.d.ok("fib", "show", id, "--json")), &fibs); err != nil || len(fibs) != 1 {
		r.t.Fatalf("fib show %s --json: %v", id, err)
	}
	h, _ := fibs[0]["host"].(map[string]any)
	if h == nil {
		r.t.Fatalf("fib %s has no host in %v", id, fibs[0])
	}
	return h
}

func num(m map[string]any, path ...string) float64 {
	for i, k := range path {
		if i == len(path)-1 {
			switch v := m[k].(type) {
			case float64:
				return v
			case string: // protojson writes a uint64 field as a string
				var f float64
				fmt.Sscan(v, &f)
				return f
			}
			return 0
		}
		m, _ = m[k].(map[string]any)
	}
	return 0
}

func bigSum(n int) string {
	h := sha256.New()
	_, _ = io.CopyN(h, bigReader(), int64(n))
	return hex.EncodeToString(h.Sum(nil))
}

// bigReader is fibdemo serve's /big stream (cmd/fibdemo BigReader),
// rebuilt here from the same seed.
func bigReader() io.Reader {
	var seed [32]byte
	copy(seed[:], "fibd")
	return rand.NewChaCha8(seed)
}

// udp4 builds an IPv4 UDP datagram (UDP checksum 0: none, RFC 768).
func udp4(src, dst net.IP, port uint16, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	copy(p[12:16], src.To4())
	copy(p[16:20], dst.To4())
	binary.BigEndian.PutUint16(p[20:], 40000)
	binary.BigEndian.PutUint16(p[22:], port)
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	copy(p[28:], payload)
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(p[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(p[10:], ^uint16(sum))
	return p
}
