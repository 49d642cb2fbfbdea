package tables

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"unsafe"
)

// Sentinel errors, wrapped in a *ParseError that says where they happened.
var (
	ErrBadPrefix      = errors.New("bad prefix")
	ErrHostBits       = errors.New("host bits set")
	ErrMissingNextHop = errors.New("missing next-hop index")
	ErrBadNextHop     = errors.New("bad next-hop index")
	ErrExtraField     = errors.New("extra field")
	ErrLineTooLong    = errors.New("line too long")
)

// MaxLineLen bounds a line, so a file without newlines cannot make the
// parser buffer it whole. A route line is at most ~50 bytes; the rest is
// room for comments.
const MaxLineLen = 4096

// gzipMagic starts every gzip stream (RFC 1952, section 2.3.1).
var gzipMagic = [2]byte{0x1f, 0x8b}

// ParseError reports where in the input parsing stopped: a malformed line, a
// read or decompression error, or an error returned by the callback (which
// Unwrap returns, so errors.Is still finds it).
type ParseError struct {
	Path string // set by ParseFile; empty for Parse
	Line int    // 1-based
	Err  error
}

func (e *ParseError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("tables: %s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("tables: line %d: %v", e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads routes from r, plain text or gzip, and calls fn for each in
// file order. It stops at the first malformed line or the first error fn
// returns, and returns it as a *ParseError. Parse allocates its buffers (and
// the gzip decompressor, which allocates a little per compressed block) but
// nothing per line.
func Parse(r io.Reader, fn func(Route) error) error {
	br := bufio.NewReaderSize(r, MaxLineLen)
	magic, err := br.Peek(len(gzipMagic))
	if err != nil && err != io.EOF {
		return &ParseError{Line: 1, Err: err}
	}
	if len(magic) == len(gzipMagic) && [2]byte(magic) == gzipMagic {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return &ParseError{Line: 1, Err: fmt.Errorf("gzip: %w", err)}
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, MaxLineLen)
	}
	return parseLines(br, fn)
}

// ParseFile is Parse on the named file; errors carry the path.
func ParseFile(path string, fn func(Route) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("tables: %w", err)
	}
	defer f.Close()
	err = Parse(f, fn)
	if pe, ok := errors.AsType[*ParseError](err); ok {
		pe.Path = path
	}
	return err
}

func parseLines(br *bufio.Reader, fn func(Route) error) error {
	for line := 1; ; line++ {
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return &ParseError{Line: line, Err: fmt.Errorf("%w (over %d bytes)", ErrLineTooLong, MaxLineLen)}
		}
		if err != nil && err != io.EOF {
			return &ParseError{Line: line, Err: err} // not a partial line to parse
		}
		if len(b) > 0 {
			r, ok, perr := parseLine(b)
			if perr != nil {
				return &ParseError{Line: line, Err: perr}
			}
			if ok {
				if ferr := fn(r); ferr != nil {
					return &ParseError{Line: line, Err: ferr}
				}
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// parseLine parses one line (with or without its newline). ok is false for
// blank and comment lines.
func parseLine(b []byte) (r Route, ok bool, err error) {
	pfx, rest := field(b)
	if len(pfx) == 0 || pfx[0] == '#' {
		return Route{}, false, nil
	}
	nh, rest := field(rest)
	if extra, _ := field(rest); len(extra) > 0 {
		return Route{}, false, fmt.Errorf("%w %q", ErrExtraField, extra)
	}
	// The string view of the line buffer avoids one allocation per line.
	// It is safe because netip keeps no reference to its input on success
	// (a zone would be copied, and prefixes reject zones anyway); on failure
	// the error does keep it, so we parse again from a real copy to get an
	// error that outlives the buffer.
	p, perr := netip.ParsePrefix(unsafe.String(&pfx[0], len(pfx)))
	if perr != nil {
		_, perr = netip.ParsePrefix(string(pfx))
		return Route{}, false, fmt.Errorf("%w: %w", ErrBadPrefix, perr)
	}
	if m := p.Masked(); m != p {
		return Route{}, false, fmt.Errorf("%w in %s (the network is %s)", ErrHostBits, p, m)
	}
	if len(nh) == 0 {
		return Route{}, false, ErrMissingNextHop
	}
	idx, ok := parseIndex(nh)
	if !ok {
		return Route{}, false, fmt.Errorf("%w %q: want an integer in [0, %d)", ErrBadNextHop, nh, NextHops)
	}
	return Route{Prefix: p, NextHop: idx}, true, nil
}

// parseIndex parses a decimal next-hop index in [0, NextHops). Only digits
// are accepted: no sign, no base prefix.
func parseIndex(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n >= NextHops {
			return 0, false
		}
	}
	return n, true
}

// field skips leading blanks and returns the next blank-delimited field of
// b and what follows it. '\r' and '\n' count as blanks so CRLF files work.
func field(b []byte) (f, rest []byte) {
	i := 0
	for i < len(b) && isBlank(b[i]) {
		i++
	}
	j := i
	for j < len(b) && !isBlank(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
