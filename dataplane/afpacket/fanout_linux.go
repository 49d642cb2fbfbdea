package afpacket

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// OpenGroup opens n ports on ifname that share its receive through one
// PACKET_FANOUT group: the kernel hashes each frame's flow (PACKET_FANOUT_HASH)
// to one of them, so one interface is read by n workers and a flow's frames
// stay in order on one. Each port also transmits on its own. n = 1 opens
// one plain port. IP fragments are not defragmented for the hash
// (PACKET_FANOUT_FLAG_DEFRAG would make the kernel reassemble what a
// router forwards as it came): a flow's fragments may land on another port
// than its unfragmented packets.
func OpenGroup(ifname string, n int, cfg Config) ([]*Port, error) {
	if n < 1 {
		return nil, fmt.Errorf("afpacket: %d sockets: want at least 1", n)
	}
	ports := make([]*Port, 0, n)
	fail := func(err error) ([]*Port, error) {
		for _, p := range ports {
			_ = p.Close()
		}
		return nil, err
	}
	var id uint16
	for i := range n {
		p, err := Open(ifname, cfg)
		if err != nil {
			return fail(err)
		}
		ports = append(ports, p)
		if n == 1 {
			break
		}
		if id, err = p.joinFanout(i == 0, id); err != nil {
			return fail(fmt.Errorf("afpacket: %s: %w", ifname, err))
		}
	}
	return ports, nil
}

// joinFanout puts the port's socket in fanout group id, or, with first,
// in a new group whose ID the kernel picks (PACKET_FANOUT_FLAG_UNIQUEID, so
// no other process's group on another interface is ever joined); it
// returns the group's ID.
func (p *Port) joinFanout(first bool, id uint16) (uint16, error) {
	val := unix.PACKET_FANOUT_HASH << 16
	if first {
		val |= unix.PACKET_FANOUT_FLAG_UNIQUEID << 16
	} else {
		val |= int(id)
	}
	if err := unix.SetsockoptInt(p.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, val); err != nil {
		return 0, fmt.Errorf("setsockopt PACKET_FANOUT: %w", err)
	}
	if !first {
		return id, nil
	}
	var got uint32
	l := uint32(unsafe.Sizeof(got))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(p.fd), unix.SOL_PACKET, unix.PACKET_FANOUT,
		uintptr(unsafe.Pointer(&got)), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
		return 0, fmt.Errorf("getsockopt PACKET_FANOUT: %w", e)
	}
	return uint16(got), nil
}
