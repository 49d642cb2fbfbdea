package dataplane

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/adj"
)

// MaxVLAN is the highest usable 802.1Q VLAN ID; 0 and 4095 are reserved
// (IEEE 802.1Q table 9-2), and a port with VLAN 0 means "untagged".
const MaxVLAN = 4094

// Port is an interface, or an (interface, VLAN) pair, bound to one FIB.
// Its identity never changes; its FIB may (a move), and its state follows
// the interface.
type Port struct {
	id   adj.PortID
	name string // "eth1" or "eth1.100"
	ifc  *iface
	vlan uint16 // 0: untagged
	fib  atomic.Pointer[fib.FIB]
	ctr  counters
}

// ID returns the port's ID, as fib and neigh know it.
func (p *Port) ID() adj.PortID { return p.id }

// Name returns "ifname" for an untagged port and "ifname.vlan" otherwise.
func (p *Port) Name() string { return p.name }

// PortName formats the name of the port on interface ifname with vlan.
func PortName(ifname string, vlan uint16) string {
	if vlan == 0 {
		return ifname
	}
	return ifname + "." + strconv.Itoa(int(vlan))
}

// ParsePortName splits "eth1.100" into ("eth1", 100); a name without a
// numeric suffix is an untagged port.
func ParsePortName(name string) (ifname string, vlan uint16, err error) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return name, 0, nil
	}
	v, err := strconv.Atoi(name[i+1:])
	if err != nil {
		return name, 0, nil // an interface whose own name has a dot
	}
	if v < 1 || v > MaxVLAN {
		return "", 0, fmt.Errorf("%w: VLAN %d in %q (1–%d)", ErrInvalidVLAN, v, name, MaxVLAN)
	}
	return name[:i], uint16(v), nil
}

// iface is one kernel interface fibd owns, with its packet I/O and its RX
// worker. Ports on it are looked up by VLAN on every frame.
type iface struct {
	name  string
	index int
	mac   adj.MAC
	mtu   atomic.Int32
	up    atomic.Bool
	io    PacketIO // transmits; the first of ios
	// guessCsum is set when the packet I/O does not report partial
	// checksums, so the forwarder checks TCP/UDP checksum fields itself.
	guessCsum bool
	ios       []PacketIO // one per RX queue, each with a worker
	backend   string
	release   func() error
	// vlans[v] is the port for VLAN v, vlans[0] the untagged one.
	vlans atomic.Pointer[[MaxVLAN + 1]*Port]
	// unknown counts frames of VLANs no port is bound to.
	unknown atomic.Uint64

	// tx serialises WriteBatch: the RX workers of every interface forward
	// into this one, and neigh and ICMP send from their own goroutines.
	tx      sync.Mutex
	workers sync.WaitGroup
	stop    chan struct{}
	nports  int // guarded by Engine.mu
}

// port returns the port for a VLAN ID (0: untagged), or nil.
func (i *iface) port(vid uint16) *Port {
	if vid > MaxVLAN {
		return nil
	}
	return i.vlans.Load()[vid]
}

func (i *iface) setPort(vid uint16, p *Port) {
	next := *i.vlans.Load()
	next[vid] = p
	i.vlans.Store(&next)
}

// tci is the 802.1Q tag control information the port's egress frames carry:
// its VLAN ID with priority 0, or 0 for untagged.
func (p *Port) tci() uint16 { return p.vlan }

// PortInfo describes a port for the control plane.
type PortInfo struct {
	ID       adj.PortID
	Name     string
	Ifname   string
	Ifindex  int
	VLAN     uint16
	FIB      adj.FIBID
	MAC      adj.MAC
	MTU      int
	Up       bool
	Backend  string
	Counters Counters
	// IO holds the packet I/O's own counters for the port's interface
	// (summed over its RX queues), e.g. xdp_rx_packets or
	// afpacket_rx_kernel_drop. Ports sharing an interface show the same.
	IO map[string]uint64
}

func (p *Port) info() PortInfo {
	pi := PortInfo{
		ID: p.id, Name: p.name, Ifname: p.ifc.name, Ifindex: p.ifc.index, VLAN: p.vlan,
		MAC: p.ifc.mac, MTU: int(p.ifc.mtu.Load()), Up: p.ifc.up.Load(), Backend: p.ifc.backend,
		Counters: p.ctr.snapshot(),
	}
	if f := p.fib.Load(); f != nil {
		pi.FIB = f.ID()
	}
	for _, io := range p.ifc.ios {
		if cr, ok := io.(CounterReporter); ok {
			if pi.IO == nil {
				pi.IO = map[string]uint64{}
			}
			for k, v := range cr.IOCounters() {
				pi.IO[k] += v
			}
		}
	}
	return pi
}
