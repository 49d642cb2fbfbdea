package neigh

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/fibd/fibd/fib/adj"
)

// ARP over Ethernet for IPv4 (RFC 826), the only combination fibd speaks.
const (
	// EtherTypeARP and EtherTypeIPv6 are the EtherTypes neigh hands to
	// Env.Transmit.
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86dd
	etherTypeIPv4 = 0x0800

	// ARPLen is the length of an Ethernet/IPv4 ARP body. Longer inputs
	// (Ethernet minimum-frame padding) are accepted; the tail is ignored.
	ARPLen = 28

	// ARPRequest and ARPReply are the RFC 826 opcodes.
	ARPRequest = 1
	ARPReply   = 2

	arpHTypeEthernet = 1
)

// Sentinel errors of the codecs. Parsers return them unwrapped: the packet
// path counts them and wrapping would allocate.
var (
	// ErrTruncated: the packet is shorter than its headers say.
	ErrTruncated = errors.New("neigh: packet truncated")
	// ErrARPFormat: not Ethernet/IPv4 ARP (hardware type 1, protocol
	// 0x0800, lengths 6 and 4).
	ErrARPFormat = errors.New("neigh: not an Ethernet/IPv4 ARP packet")
	// ErrARPOp: an opcode other than request or reply (RARP, InARP…).
	ErrARPOp = errors.New("neigh: unsupported ARP opcode")
	// ErrShortBuffer: a builder's buffer is too small.
	ErrShortBuffer = errors.New("neigh: buffer too small")
	// ErrAddress: a builder got an address of the wrong family or kind.
	ErrAddress = errors.New("neigh: invalid address for this message")
)

// ARP is a decoded Ethernet/IPv4 ARP packet. The addresses are plain IPv4.
type ARP struct {
	Op        uint16
	SenderMAC adj.MAC
	SenderIP  netip.Addr
	TargetMAC adj.MAC
	TargetIP  netip.Addr
}

// Gratuitous reports whether the packet announces the sender's own address
// (sender IP = target IP), as a request or as a reply.
func (a ARP) Gratuitous() bool { return a.SenderIP == a.TargetIP }

// ParseARP decodes an ARP body (the bytes after the Ethernet/VLAN header).
// It allocates nothing.
func ParseARP(b []byte) (ARP, error) {
	if len(b) < ARPLen {
		return ARP{}, ErrTruncated
	}
	if binary.BigEndian.Uint16(b[0:2]) != arpHTypeEthernet ||
		binary.BigEndian.Uint16(b[2:4]) != etherTypeIPv4 ||
		b[4] != 6 || b[5] != 4 {
		return ARP{}, ErrARPFormat
	}
	a := ARP{Op: binary.BigEndian.Uint16(b[6:8])}
	if a.Op != ARPRequest && a.Op != ARPReply {
		return ARP{}, ErrARPOp
	}
	a.SenderMAC = adj.MAC(b[8:14])
	a.SenderIP = netip.AddrFrom4([4]byte(b[14:18]))
	a.TargetMAC = adj.MAC(b[18:24])
	a.TargetIP = netip.AddrFrom4([4]byte(b[24:28]))
	return a, nil
}

// BuildARP writes a into b[:ARPLen] and returns ARPLen. The addresses may be
// IPv4 or 4in6; anything else is ErrAddress.
func BuildARP(b []byte, a ARP) (int, error) {
	if len(b) < ARPLen {
		return 0, ErrShortBuffer
	}
	spa, tpa := a.SenderIP.Unmap(), a.TargetIP.Unmap()
	if !spa.Is4() || !tpa.Is4() || (a.Op != ARPRequest && a.Op != ARPReply) {
		return 0, ErrAddress
	}
	binary.BigEndian.PutUint16(b[0:2], arpHTypeEthernet)
	binary.BigEndian.PutUint16(b[2:4], etherTypeIPv4)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:8], a.Op)
	copy(b[8:14], a.SenderMAC[:])
	s4 := spa.As4()
	copy(b[14:18], s4[:])
	copy(b[18:24], a.TargetMAC[:])
	t4 := tpa.As4()
	copy(b[24:28], t4[:])
	return ARPLen, nil
}

// BroadcastMAC is ff:ff:ff:ff:ff:ff, the destination of ARP requests that
// resolve (rather than probe).
var BroadcastMAC = adj.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// unicastMAC reports whether m can be a neighbour's address: not a group
// address (I/G bit) and not all zeros.
func unicastMAC(m adj.MAC) bool {
	return m[0]&1 == 0 && m != adj.MAC{}
}
