// Package vlanswitch is a tiny userspace 802.1Q/802.1ad access switch for
// tests and the demo, standing in for the 8021q module this kernel lacks:
// frames from each access port leave the trunk with that port's tags — one
// VLAN tag, or a QinQ pair with an 802.1ad (0x88a8) or 802.1Q (0x8100)
// outer tag — and frames from the trunk go untagged to the access port
// whose tags they carry, exactly. It shares no code with fibd's own VLAN
// handling, so it checks fibd against something independent.
//
// Hosts behind it must compute their own transport checksums (ethtool -K
// dev tx off): the switch copies frames through plain packet sockets and
// would carry a veth's partial checksums unchanged.
package vlanswitch

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Switch is a running switch.
type Switch struct {
	trunk  int
	access map[Tags]int // tags → socket
	done   chan struct{}
	wg     sync.WaitGroup
}

// Start runs an 802.1Q access switch: access maps a VLAN ID to the
// interface of its access port. It opens the switch's sockets on the
// calling thread's network namespace — call it from inside the namespace
// holding the interfaces — and starts forwarding.
func Start(trunk string, access map[uint16]string) (*Switch, error) {
	tagged := make(map[Tags]string, len(access))
	for vid, name := range access {
		tagged[Tags{TPID: Dot1Q, Outer: vid}] = name
	}
	return StartTagged(trunk, tagged)
}

// StartTagged is Start with any tags per access port, QinQ pairs
// included.
func StartTagged(trunk string, access map[Tags]string) (*Switch, error) {
	s := &Switch{access: map[Tags]int{}, done: make(chan struct{})}
	var err error
	if s.trunk, err = socket(trunk); err != nil {
		return nil, err
	}
	for tags, name := range access {
		fd, err := socket(name)
		if err != nil {
			s.close()
			return nil, err
		}
		s.access[tags] = fd
	}
	s.wg.Add(1 + len(s.access))
	go s.fromTrunk()
	for tags, fd := range s.access {
		go s.fromAccess(tags, fd)
	}
	return s, nil
}

// Stop ends forwarding and closes the sockets.
func (s *Switch) Stop() {
	close(s.done)
	s.wg.Wait()
	s.close()
}

func (s *Switch) close() {
	if s.trunk > 0 {
		unix.Close(s.trunk)
	}
	for _, fd := range s.access {
		unix.Close(fd)
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func socket(ifname string) (int, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind %s: %w", ifname, err)
	}
	// The kernel strips VLAN tags into PACKET_AUXDATA; the switch must not
	// see its own transmissions; and a receive timeout lets Stop end the
	// loops.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	return fd, nil
}

func (s *Switch) stopped() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *Switch) fromAccess(tags Tags, fd int) {
	defer s.wg.Done()
	buf := make([]byte, 9216)
	out := make([]byte, 9224)
	hdr := 4
	if tags.Inner != 0 {
		hdr = 8
	}
	for !s.stopped() {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil || n < 14 {
			continue
		}
		copy(out, buf[:12])
		binary.BigEndian.PutUint16(out[12:], tags.TPID)
		binary.BigEndian.PutUint16(out[14:], tags.Outer)
		if tags.Inner != 0 {
			binary.BigEndian.PutUint16(out[16:], Dot1Q)
			binary.BigEndian.PutUint16(out[18:], tags.Inner)
		}
		copy(out[12+hdr:], buf[12:n])
		_, _ = unix.Write(s.trunk, out[:n+hdr])
	}
}

// fromTrunk reads the trunk's frames: the kernel takes the outer tag off
// into PACKET_AUXDATA (with its TPID), an inner one stays in the frame.
func (s *Switch) fromTrunk() {
	defer s.wg.Done()
	buf := make([]byte, 9216)
	oob := make([]byte, 256)
	out := make([]byte, 9216)
	for !s.stopped() {
		n, oobn, _, _, err := unix.Recvmsg(s.trunk, buf, oob, 0)
		if err != nil || n < 14 {
			continue
		}
		var tags []Tags // each with TPID and Outer only
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA &&
					len(m.Data) >= int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
					aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
					if aux.Status&unix.TP_STATUS_VLAN_VALID != 0 {
						tpid := uint16(Dot1Q)
						if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
							tpid = aux.Vlan_tpid
						}
						tags = append(tags, Tags{TPID: tpid, Outer: aux.Vlan_tci & 0xfff})
					}
				}
			}
		}
		frame := buf[:n]
		inline := 0
		for len(tags) < 2 && len(frame) >= 12+4*(inline+1)+2 {
			et := binary.BigEndian.Uint16(frame[12+4*inline:])
			if et != Dot1Q && et != Dot1AD {
				break
			}
			tags = append(tags, Tags{TPID: et, Outer: binary.BigEndian.Uint16(frame[14+4*inline:]) & 0xfff})
			inline++
		}
		var key Tags
		switch {
		case len(tags) == 1:
			key = tags[0]
		case len(tags) == 2 && tags[1].TPID == Dot1Q:
			key = Tags{TPID: tags[0].TPID, Outer: tags[0].Outer, Inner: tags[1].Outer}
		default:
			continue
		}
		fd, ok := s.access[key]
		if !ok {
			continue
		}
		if inline > 0 {
			copy(out, frame[:12])
			copy(out[12:], frame[12+4*inline:])
			frame = out[:n-4*inline]
		}
		_, _ = unix.Write(fd, frame)
	}
}
