package ethtool

import (
	"bytes"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethSSFeatures is ETH_SS_FEATURES from linux/ethtool.h: the string set
// naming the NETIF_F_* feature bits.
const ethSSFeatures = 4

// ethGStringLen is ETH_GSTRING_LEN.
const ethGStringLen = 32

// ifreqData is struct ifreq with the ifr_data member, the form SIOCETHTOOL
// takes: the name, then a pointer to the ethtool command structure, padded
// to sizeof(struct ifreq) (40 bytes on 64-bit Linux).
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// device is an open ethtool session on one interface.
type device struct {
	fd   int
	name string
}

func open(ifname string) (*device, error) {
	if len(ifname) == 0 || len(ifname) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("ethtool: invalid interface name %q", ifname)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("ethtool: socket: %w", err)
	}
	return &device{fd: fd, name: ifname}, nil
}

func (d *device) close() { _ = unix.Close(d.fd) }

// ioctl issues SIOCETHTOOL with cmd pointing at an ethtool structure whose
// first 32-bit word is the command number.
func (d *device) ioctl(cmd unsafe.Pointer) error {
	var ifr ifreqData
	copy(ifr.name[:], d.name)
	ifr.data = cmd
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(d.fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	if e != 0 {
		return e
	}
	return nil
}

// names returns the feature names, index = NETIF_F_* bit.
func (d *device) names() ([]string, error) {
	// struct ethtool_sset_info { u32 cmd; u32 reserved; u64 sset_mask; u32 data[1]; }
	var info struct {
		cmd, reserved uint32
		mask          uint64
		data          [1]uint32
	}
	info.cmd = unix.ETHTOOL_GSSET_INFO
	info.mask = 1 << ethSSFeatures
	if err := d.ioctl(unsafe.Pointer(&info)); err != nil {
		return nil, fmt.Errorf("ethtool: %s: ETHTOOL_GSSET_INFO: %w", d.name, err)
	}
	if info.mask&(1<<ethSSFeatures) == 0 || info.data[0] == 0 || info.data[0] > 1024 {
		return nil, fmt.Errorf("ethtool: %s: kernel reports no feature names", d.name)
	}
	n := int(info.data[0])
	// struct ethtool_gstrings { u32 cmd; u32 string_set; u32 len; u8 data[]; }
	buf := make([]byte, 12+n*ethGStringLen)
	hdr := (*[3]uint32)(unsafe.Pointer(&buf[0]))
	hdr[0], hdr[1], hdr[2] = unix.ETHTOOL_GSTRINGS, ethSSFeatures, uint32(n)
	if err := d.ioctl(unsafe.Pointer(&buf[0])); err != nil {
		return nil, fmt.Errorf("ethtool: %s: ETHTOOL_GSTRINGS: %w", d.name, err)
	}
	names := make([]string, n)
	for i := range names {
		s := buf[12+i*ethGStringLen : 12+(i+1)*ethGStringLen]
		if j := bytes.IndexByte(s, 0); j >= 0 {
			s = s[:j]
		}
		names[i] = string(s)
	}
	return names, nil
}

// featureBlock is struct ethtool_get_features_block.
type featureBlock struct {
	available, requested, active, neverChanged uint32
}

// features returns the GFEATURES blocks for n feature bits.
func (d *device) features(n int) ([]featureBlock, error) {
	words := (n + 31) / 32
	// struct ethtool_gfeatures { u32 cmd; u32 size; blocks[size] }
	buf := make([]uint32, 2+4*words)
	buf[0], buf[1] = unix.ETHTOOL_GFEATURES, uint32(words)
	if err := d.ioctl(unsafe.Pointer(&buf[0])); err != nil {
		return nil, fmt.Errorf("ethtool: %s: ETHTOOL_GFEATURES: %w", d.name, err)
	}
	blocks := make([]featureBlock, words)
	for i := range blocks {
		b := buf[2+4*i:]
		blocks[i] = featureBlock{b[0], b[1], b[2], b[3]}
	}
	return blocks, nil
}

// Features returns the active state of every feature the device reports,
// by kernel name.
func Features(ifname string) (map[string]bool, error) {
	d, err := open(ifname)
	if err != nil {
		return nil, err
	}
	defer d.close()
	names, err := d.names()
	if err != nil {
		return nil, err
	}
	blocks, err := d.features(len(names))
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(names))
	for i, name := range names {
		if name == "" {
			continue
		}
		out[name] = blocks[i/32].active&(1<<(i%32)) != 0
	}
	return out, nil
}

// Set requests the given features on or off. Names the device does not
// know and features it cannot change ("fixed") are skipped; features already
// requested in the wanted state are left alone. It returns what it changed
// (with the previous requested state, so Set with the inverse restores it).
// The kernel may keep a feature active against the request when another
// feature forces it; Features reports the outcome.
func Set(ifname string, want map[string]bool) ([]Change, error) {
	d, err := open(ifname)
	if err != nil {
		return nil, err
	}
	defer d.close()
	names, err := d.names()
	if err != nil {
		return nil, err
	}
	blocks, err := d.features(len(names))
	if err != nil {
		return nil, err
	}
	words := len(blocks)
	// struct ethtool_sfeatures { u32 cmd; u32 size; { u32 valid, requested }[size] }
	req := make([]uint32, 2+2*words)
	req[0], req[1] = unix.ETHTOOL_SFEATURES, uint32(words)
	var changes []Change
	for i, name := range names {
		on, ok := want[name]
		if !ok {
			continue
		}
		blk, bit := blocks[i/32], uint32(1)<<(i%32)
		if blk.available&bit == 0 || blk.neverChanged&bit != 0 {
			continue // fixed: the device cannot change it
		}
		was := blk.requested&bit != 0
		if was == on {
			continue
		}
		req[2+2*(i/32)] |= bit
		if on {
			req[3+2*(i/32)] |= bit
		}
		changes = append(changes, Change{Name: name, Was: was})
	}
	if len(changes) == 0 {
		return nil, nil
	}
	// A positive return carries ETHTOOL_F_WISH/ETHTOOL_F_COMPAT flags
	// (request recorded but not fully applied); only errno is an error.
	if err := d.ioctl(unsafe.Pointer(&req[0])); err != nil {
		return nil, fmt.Errorf("ethtool: %s: ETHTOOL_SFEATURES: %w", d.name, err)
	}
	return changes, nil
}
