package packet

// IPv4 option types (RFC 791): the two source routes, end of list and
// no-operation.
const (
	ipv4OptEnd  = 0
	ipv4OptNOP  = 1
	ipv4OptLSRR = 131
	ipv4OptSSRR = 137
)

// SourceRouted reports whether the IPv4 packet p describes in frame carries
// a loose or strict source route option (LSRR, SSRR), which a router drops
// by default (RFC 7126 §4.3, §4.4; RFC 1812 §5.2.4.1 makes it optional).
// It walks the options only when the header has some; a malformed option
// list ends the walk (Parse has checked the header length).
func SourceRouted(frame []byte, p *Parsed) bool {
	if p.Family != IPv4 || p.HdrLen <= ipv4HeaderLen || p.L3Off+p.HdrLen > len(frame) {
		return false
	}
	opts := frame[p.L3Off+ipv4HeaderLen : p.L3Off+p.HdrLen]
	for i := 0; i < len(opts); {
		switch t := opts[i]; t {
		case ipv4OptEnd:
			return false
		case ipv4OptNOP:
			i++
		case ipv4OptLSRR, ipv4OptSSRR:
			return true
		default:
			if i+1 >= len(opts) || opts[i+1] < 2 {
				return false
			}
			i += int(opts[i+1])
		}
	}
	return false
}
