package packet

import "encoding/binary"

// IPv4MinMTU is the smallest MTU every IPv4 link must carry without further
// fragmentation (RFC 791: "Every internet module must be able to forward a
// datagram of 68 octets without further fragmentation").
const IPv4MinMTU = 68

// IPv4 option types with structure the fragmenter needs (RFC 791).
const (
	ipOptEOL    = 0
	ipOptNOP    = 1
	ipOptCopied = 0x80 // the "copied" flag: replicate into every fragment
	maxFragOff  = 0x1fff << 3
)

// Fragment splits the IPv4 packet p describes in frame into fragments of at
// most mtu bytes (RFC 791 §3.2, "Fragmentation"), written as bare IP
// packets into the caller's buffers out[0], out[1], ... (each at least mtu
// bytes; a 2 KiB frame at the 68-byte minimum MTU needs 43, at 576 four).
// It reslices each used out[i] to its fragment's length and returns how
// many it wrote.
//
// The first fragment keeps every option; later ones only those with the
// copied flag, padded with end-of-list to a 4-byte boundary. Every
// fragment's data but the last's is a multiple of 8 bytes. Offsets and MF
// are relative to the original, so a packet that is itself a fragment is
// split into smaller fragments of the same datagram: the last piece keeps
// the original's MF. Identification, TOS, TTL, protocol and addresses are
// copied; each header checksum is computed afresh.
//
// A packet with DF set returns FragDontFragment (the caller owes ICMP
// fragmentation needed); malformed options FragBadOptions; an mtu below
// IPv4MinMTU FragMTUTooSmall; too few buffers FragTooMany — in every case
// out is left unspecified and nothing is sent.
func Fragment(out [][]byte, frame []byte, p *Parsed, mtu int) (int, Reason) {
	if p.Family != IPv4 {
		return 0, NotIP
	}
	if p.DF {
		return 0, FragDontFragment
	}
	if mtu < IPv4MinMTU {
		return 0, FragMTUTooSmall
	}
	ip := frame[p.L3Off : p.L3Off+p.L3Len]
	hl := p.HdrLen
	copied, ok := copiedOptionsLen(ip[ipv4HeaderLen:hl])
	if !ok {
		return 0, FragBadOptions
	}
	hl2 := ipv4HeaderLen + (copied+3)&^3
	data := ip[hl:]
	// Non-final fragments carry a multiple of 8 data bytes; the final one
	// anything that fits. hl ≤ 60 and mtu ≥ 68 leave room for 8.
	base := int(p.FragOff)
	flags := binary.BigEndian.Uint16(ip[6:]) & 0x8000 // the reserved bit, as received
	n, pos := 0, 0
	for h := hl; ; h = hl2 {
		if n == len(out) {
			return 0, FragTooMany
		}
		size := len(data) - pos
		last := size <= mtu-h
		if !last {
			size = (mtu - h) &^ 7
		}
		if base+pos > maxFragOff {
			return 0, FragOffsetOverflow
		}
		f := out[n]
		if len(f) < h+size {
			return 0, BufferTooSmall
		}
		f = f[:h+size]
		if n == 0 {
			copy(f, ip[:hl])
		} else {
			copy(f, ip[:ipv4HeaderLen])
			f[0] = 0x40 | byte(h/4)
			o := f[ipv4HeaderLen:h]
			clear(o[copyCopiedOptions(o, ip[ipv4HeaderLen:hl]):])
		}
		copy(f[h:], data[pos:pos+size])
		binary.BigEndian.PutUint16(f[2:], uint16(h+size))
		ff := flags | uint16((base+pos)>>3)
		if !last || p.MF {
			ff |= 0x2000
		}
		binary.BigEndian.PutUint16(f[6:], ff)
		f[10], f[11] = 0, 0
		binary.BigEndian.PutUint16(f[10:], Checksum(f[:h]))
		out[n] = f
		n++
		pos += size
		if last {
			return n, OK
		}
	}
}

// nextOption returns the length of the option at opts[0], or 0 at the end
// of the list; ok is false for a malformed option.
func nextOption(opts []byte) (l int, ok bool) {
	switch opts[0] {
	case ipOptEOL:
		return 0, true
	case ipOptNOP:
		return 1, true
	}
	if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
		return 0, false
	}
	return int(opts[1]), true
}

// copiedOptionsLen validates the option list and returns the total length
// of the options whose copied flag is set.
func copiedOptionsLen(opts []byte) (n int, ok bool) {
	for len(opts) > 0 {
		l, ok := nextOption(opts)
		if !ok {
			return 0, false
		}
		if l == 0 {
			break
		}
		if opts[0]&ipOptCopied != 0 {
			n += l
		}
		opts = opts[l:]
	}
	return n, true
}

// copyCopiedOptions copies the options with the copied flag from the
// validated list opts into dst and returns the bytes written.
func copyCopiedOptions(dst, opts []byte) int {
	w := 0
	for len(opts) > 0 {
		l, _ := nextOption(opts)
		if l == 0 {
			break
		}
		if opts[0]&ipOptCopied != 0 {
			w += copy(dst[w:], opts[:l])
		}
		opts = opts[l:]
	}
	return w
}
