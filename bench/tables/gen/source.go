package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
)

// row is one line of the source CSV: an inclusive address range and the AS
// that originates it. The organisation column is not used.
type row struct {
	start, end netip.Addr
	asn        uint32
}

// readRows decompresses an asn-ipv4/ipv6.csv.xz file with the xz tool (to
// keep the module free of an xz dependency for a one-off generator) and
// parses its rows, checking that every address is of the wanted family.
func readRows(path string, want4 bool) ([]row, error) {
	cmd := exec.Command("xz", "-dc", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running xz (Debian package xz-utils): %w", err)
	}
	rows, perr := parseRows(out, path, want4)
	if perr != nil {
		io.Copy(io.Discard, out) // let xz finish instead of dying on a closed pipe
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("xz -dc %s: %w: %s", path, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return rows, perr
}

func parseRows(r io.Reader, path string, want4 bool) ([]row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 4
	cr.ReuseRecord = true
	var rows []row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		start, err1 := netip.ParseAddr(rec[0])
		end, err2 := netip.ParseAddr(rec[1])
		asn, err3 := strconv.ParseUint(rec[2], 10, 32)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if start.Is4() != want4 || end.Is4() != want4 {
			return nil, fmt.Errorf("%s:%d: range %v-%v is of the wrong address family", path, line, start, end)
		}
		rows = append(rows, row{start: start, end: end, asn: uint32(asn)})
	}
}

var versionRE = regexp.MustCompile("`(@ip-location-db/asn)` version ([0-9][0-9.]*[0-9])")

// sourceVersion reads the name and version of the upstream package from the
// README beside the data, so the tables' headers name exactly what they were
// made from.
func sourceVersion(readme string) (string, error) {
	b, err := os.ReadFile(readme)
	if err != nil {
		return "", err
	}
	m := versionRE.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s: no %q", readme, versionRE)
	}
	return string(m[1]) + " " + string(m[2]), nil
}
