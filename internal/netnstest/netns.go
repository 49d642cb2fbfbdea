//go:build linux

// Package netnstest builds throw-away network namespaces and veth links for
// root integration tests. Every namespace it makes is named "fibd-…", is
// removed by t.Cleanup (also when the test fails or panics), and carries
// only the documentation/benchmarking addresses the test gives it.
//
// Tests that need it call Require first: without root or iproute2 they skip
// with the reason, or fail naming it when CI=true (internal/testenv).
package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/fibd/fibd/dataplane/hoststack"
	"github.com/fibd/fibd/internal/testenv"
)

// Require skips t (fails it under CI) unless the process is root and `ip`
// is on the PATH.
func Require(t TB) {
	t.Helper()
	testenv.RequireRoot(t, "creates network namespaces and veth links")
	testenv.RequireTool(t, "ip")
}

// Name returns a fresh namespace or link name "fibd-<tag>-<random>" that fits
// IFNAMSIZ when tag is short (≤ 4 bytes for link names).
func Name(tag string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "fibd-" + tag + "-" + hex.EncodeToString(b[:])
}

// NS is one test namespace.
type NS struct {
	Name string
	t    TB
}

// New creates a namespace named Name(tag), brings its loopback up and
// removes it when the test ends.
func New(t TB, tag string) *NS {
	t.Helper()
	Require(t)
	ns := &NS{Name: Name(tag), t: t}
	Run(t, "ip", "netns", "add", ns.Name)
	t.Cleanup(func() {
		// Killing what runs inside first makes "netns del" actually free
		// the namespace's links instead of leaving it alive behind a process.
		if out, err := exec.Command("ip", "netns", "pids", ns.Name).Output(); err == nil {
			self := strconv.Itoa(os.Getpid())
			for _, pid := range strings.Fields(string(out)) {
				if pid == self {
					continue // never the test binary itself
				}
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", ns.Name).Run()
	})
	ns.Exec("ip", "link", "set", "lo", "up")
	return ns
}

// Exec runs a command inside the namespace and fails the test on error. It
// returns the combined output.
func (ns *NS) Exec(args ...string) string {
	ns.t.Helper()
	return Run(ns.t, append([]string{"ip", "netns", "exec", ns.Name}, args...)...)
}

// Try runs a command inside the namespace and returns its output and error
// without failing the test.
func (ns *NS) Try(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...).CombinedOutput()
	return string(out), err
}

// Command returns an exec.Cmd that will run inside the namespace.
func (ns *NS) Command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...)
}

// Do runs fn on an OS thread that has entered the namespace, so sockets fn
// opens belong to it (they keep belonging to it when used from other
// threads later): hoststack.Namespace.Do, which fibd's own host stacks
// use. (Going back afterwards matters here: a main thread parked inside
// the namespace would make the cleanup's "ip netns pids" name the test
// process itself.)
func (ns *NS) Do(fn func() error) error {
	return hoststack.Namespace(ns.Name).Do(fn)
}

// Sysctl writes value to /proc/sys/<key> inside the namespace (key in
// dotted form, "net.ipv4.ip_forward"; interface names keep their dots as
// long as the key is given with slashes instead). It needs no procps.
func (ns *NS) Sysctl(key, value string) {
	ns.t.Helper()
	path := key
	if !strings.Contains(path, "/") {
		path = strings.ReplaceAll(key, ".", "/")
	}
	if err := ns.Do(func() error {
		return os.WriteFile("/proc/sys/"+path, []byte(value), 0)
	}); err != nil {
		ns.t.Fatalf("sysctl %s=%s in %s: %v", key, value, ns.Name, err)
	}
}

// Veth creates a veth pair with ends a (in ns na) and b (in ns nb), both up.
// A nil namespace means the test's own (root) namespace.
func Veth(t TB, a string, na *NS, b string, nb *NS) {
	t.Helper()
	VethQueues(t, a, na, b, nb, 1)
}

// VethQueues is Veth with queues RX and TX queues on each end.
func VethQueues(t TB, a string, na *NS, b string, nb *NS, queues int) {
	t.Helper()
	q := strconv.Itoa(queues)
	Run(t, "ip", "link", "add", a, "numtxqueues", q, "numrxqueues", q, "type", "veth", "peer", "name", b, "numtxqueues", q, "numrxqueues", q)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", a).Run() })
	for _, end := range []struct {
		name string
		ns   *NS
	}{{a, na}, {b, nb}} {
		if end.ns != nil {
			Run(t, "ip", "link", "set", end.name, "netns", end.ns.Name)
			end.ns.Exec("ip", "link", "set", end.name, "up")
		} else {
			Run(t, "ip", "link", "set", end.name, "up")
		}
	}
}

// NamedVeth connects a in na to b in nb, both up. The pair is made under
// unique temporary names and renamed inside the namespaces, so tests and
// the demo running at once never collide in the root namespace over
// names such as "eth0".
func NamedVeth(t TB, na *NS, a string, nb *NS, b string) {
	t.Helper()
	ta, tb := Name("v"), Name("v")
	Veth(t, ta, na, tb, nb)
	for _, e := range []struct {
		ns       *NS
		tmp, new string
	}{{na, ta, a}, {nb, tb, b}} {
		e.ns.Exec("ip", "link", "set", e.tmp, "down")
		e.ns.Exec("ip", "link", "set", e.tmp, "name", e.new, "up")
	}
}

// Run runs a command in the current namespace and fails the test on error.
func Run(t TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
